"""Reminder planning and delivery on a bank-sized database, against bare SQL baselines.

    python -m bench.bench_reminders [--customers 1000000] [--holdings 2000000] [--url URL]
                                    [--deliveries 2000] [--followups 50000] [--keep]

Builds a fresh, migrated database (a SQLite file in a temp folder by default; with a PostgreSQL
`--url` such as postgresql+psycopg://postgres@127.0.0.1:5432 the database `bench_reminders` is
created there and dropped afterwards) and fills it with Core bulk inserts (5 branches, ~4,000
relationship managers, customers with birthdays spread over the year and ~8% lunar, holdings
maturing within +-3 years, open follow-ups due within +-60 days), then ANALYZE. Then:

1. planning: `plan()` for one working day (the previous day is already planned, so the window
   is one day), timed per kind, run twice (the second run must add nothing), against one
   indexed UNION ALL SELECT of the same rows (run twice before the plan, second run kept);
   then opening the digests (`open_digests`, the morning job's second transaction), timed
   apart and together with the plan;
2. delivery: one `Sender` sending `--deliveries` digests to an in-memory channel, against the
   same number of bare `UPDATE digest SET status='sent' WHERE id=?` transactions.

Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CompoundSelect,
    Date,
    Engine,
    String,
    cast,
    event,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import make_url

import scheduler.delivery as delivery_module
import scheduler.planning as planning_module
from bench.bench_lookup import TABLES, World, _bulk, _load, analyze, fresh_database, open_store
from bot.digest_text import digest_text
from crm_store.crypto import new_key_text
from crm_store.db import make_engine
from crm_store.models import PRODUCT_TYPES, Customer, Digest, FollowUp, Holding
from crm_store.settings import Settings
from crm_store.store import Store
from handlers.contracts import Reply
from scheduler.delivery import MemberRateLimit, Route, Sender, SendStats
from scheduler.digest import DigestContent
from scheduler.opening import open_digests
from scheduler.planning import PlanResult, plan, plan_window_start

P = ParamSpec("P")
R = TypeVar("R")

TZ = ZoneInfo("Asia/Shanghai")
BUSINESS_DATE = date(2026, 12, 2)  # a Wednesday; 2026-12-01 counts as planned already
PREVIOUS_PLAN = BUSINESS_DATE - timedelta(days=1)
NOW = datetime(2026, 12, 2, 8, 30, tzinfo=TZ)
PG_DATABASE = "bench_reminders"
SUB_BRANCHES = 4  # plus the head office: 5 branches
CUSTOMERS_PER_RM = 250
LUNAR_SHARE = 0.08
LEAP_MONTH_SHARE = 0.02  # of lunar birthdays
MATURITY_SPAN_DAYS = 3 * 365
FOLLOWUP_SPAN_DAYS = 60
SNOOZED_SHARE = 0.05
KINDS = ("birthday", "maturity", "followup")
# Every day of a leap year once: solar birthdays uniform over the year, 29 February included.
MONTH_DAYS = [
    ((date(2000, 1, 1) + timedelta(days=i)).month, (date(2000, 1, 1) + timedelta(days=i)).day)
    for i in range(366)
]
PRODUCT_NAMES = {
    "time_deposit": "整存整取1年",
    "large_cd": "大额存单第12期",
    "wealth_management": "季季盈90天",
    "fund": "蓝筹精选混合",
    "insurance": "养老年金险",
    "loan": "住房贷款",
}


# --- fill ---------------------------------------------------------------------------------


@dataclass
class Org:
    """Staff ids, the branch of each, and each customer's owner (an index into `rms`)."""

    rms: list[str] = field(default_factory=list)
    branch_of: dict[str, str] = field(default_factory=dict)
    owner: list[int] = field(default_factory=list)


def _fill_engine(url: str) -> Engine:
    """The app's engine, with crash-unsafe but fast SQLite settings for the fill only."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _fast_fill(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA synchronous=OFF")  # a crash mid-fill just means a re-run
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB
            cursor.close()

    return engine.execution_options(sqlite_begin="IMMEDIATE")


def _org_rows(n_rm: int, org: Org) -> dict[str, list[dict[str, Any]]]:
    """Head office + sub-branches, one branch head each, and the relationship managers."""
    branches = [{"id": "B00", "name": "分行", "parent_id": None}]
    branches += [
        {"id": f"B{b:02d}", "name": f"第{b}支行", "parent_id": "B00"}
        for b in range(1, SUB_BRANCHES + 1)
    ]
    staff: list[dict[str, Any]] = [
        {"id": f"H{b['id']}", "name": f"行长{b['id']}", "role": "branch_head",
         "branch_id": b["id"], "team_id": None, "active": True}
        for b in branches
    ]  # fmt: skip
    for n in range(n_rm):
        sid = f"S{n:05d}"
        branch_id = f"B{n % SUB_BRANCHES + 1:02d}"
        staff.append(
            {"id": sid, "name": f"经理{n}", "role": "rm", "branch_id": branch_id,
             "team_id": None, "active": True}
        )  # fmt: skip
        org.rms.append(sid)
        org.branch_of[sid] = branch_id
    return {"branch": branches, "staff": staff}


def _customer_rows(rng: random.Random, count: int, org: Org) -> Iterator[dict[str, Any]]:
    """Customers with short names, no personal numbers, birthdays uniform over the year."""
    updated = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    segments = ("vip", "regular", "regular", "regular", "prospect")
    for n in range(count):
        owner = rng.randrange(len(org.rms))
        org.owner.append(owner)
        rm = org.rms[owner]
        lunar = rng.random() < LUNAR_SHARE
        if lunar:
            month, day = rng.randint(1, 12), rng.randint(1, 30)
            leap = rng.random() < LEAP_MONTH_SHARE
        else:
            month, day = MONTH_DAYS[rng.randrange(366)]
            leap = False
        yield {
            "id": f"C{n:07d}",
            "name": f"客户{n}",
            "name_pinyin": f"kehu{n}",
            "owner_staff_id": rm,
            "branch_id": org.branch_of[rm],
            "segment": segments[n % len(segments)],
            "birth_month": month,
            "birth_day": day,
            "birthday_calendar": "lunar" if lunar else "solar",
            "birthday_leap_month": leap,
            "phone_enc": None,
            "phone_masked": None,
            "phone_last4": None,
            "id_number_enc": None,
            "id_number_masked": None,
            "id_number_last4": None,
            "risk_level": f"C{rng.randint(1, 5)}",
            "aum": Decimal(rng.randrange(10**6, 10**10)) / 100,
            "tags": "",
            "import_hash": None,
            "updated_at": updated,
        }


def _holding_rows(rng: random.Random, count: int, customers: int) -> Iterator[dict[str, Any]]:
    """Holdings of every product type on random customers; funds have no maturity date."""
    for n in range(count):
        kind = PRODUCT_TYPES[rng.randrange(len(PRODUCT_TYPES))]
        days = rng.randint(-MATURITY_SPAN_DAYS, MATURITY_SPAN_DAYS)
        maturity = None if kind == "fund" else BUSINESS_DATE + timedelta(days=days)
        yield {
            "id": f"H{n:08d}",
            "customer_id": f"C{rng.randrange(customers):07d}",
            "product_type": kind,
            "product_name": PRODUCT_NAMES[kind],
            "amount": Decimal(rng.randrange(10_000, 5_000_000)),
            "currency": "CNY",
            "start_date": (maturity or BUSINESS_DATE) - timedelta(days=365),
            "maturity_date": maturity,
        }


def _followup_rows(rng: random.Random, count: int, org: Org) -> Iterator[dict[str, Any]]:
    """Open (a few snoozed) follow-ups due within +-60 days: about half are overdue."""
    created = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
    for _ in range(count):
        c = rng.randrange(len(org.owner))
        due = BUSINESS_DATE + timedelta(days=rng.randint(-FOLLOWUP_SPAN_DAYS, FOLLOWUP_SPAN_DAYS))
        yield {
            "customer_id": f"C{c:07d}",
            "staff_id": org.rms[org.owner[c]],
            "interaction_id": None,
            "due_on": due,
            "status": "snoozed" if rng.random() < SNOOZED_SHARE else "open",
            "summary": "回访：大额存单续存意向",
            "created_at": created,
            "closed_at": None,
        }


def fill(url: str, customers: int, holdings: int, followups: int) -> tuple[Org, World]:
    """Fill every table with Core executemany, one transaction per table."""
    rng = random.Random(42)
    org = Org()
    world = World()  # bench_lookup's `_bulk` records each table's seconds in it
    engine = _fill_engine(url)
    rows = _org_rows(max(1, round(customers / CUSTOMERS_PER_RM)), org)
    _bulk(engine, TABLES["branch"], iter(rows["branch"]), world)
    _bulk(engine, TABLES["staff"], iter(rows["staff"]), world)
    _bulk(engine, TABLES["customer"], _customer_rows(rng, customers, org), world)
    _bulk(engine, TABLES["holding"], _holding_rows(rng, holdings, customers), world)
    _bulk(engine, TABLES["followup"], _followup_rows(rng, followups, org), world)
    with engine.begin() as conn:  # the day before is planned: a one-day window
        conn.execute(
            insert(TABLES["reminder_plan_run"]),
            [{"business_date": PREVIOUS_PLAN, "planned_at": NOW - timedelta(days=1)}],
        )
    engine.dispose()
    return org, world


# --- timing helpers -----------------------------------------------------------------------


def _timed(fn: Callable[P, R], spent: dict[str, float], key: str) -> Callable[P, R]:
    """`fn`, adding the seconds each call takes to `spent[key]`."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - started

    return wrapper


@contextmanager
def _timing(module: ModuleType, names: Iterable[str], spent: dict[str, float]) -> Iterator[None]:
    """Time the module-level functions `names` of `module` while the block runs."""
    saved = {name: getattr(module, name) for name in names}
    for name, fn in saved.items():
        setattr(module, name, _timed(fn, spent, name))
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(module, name, fn)


# --- planning -----------------------------------------------------------------------------

PLAN_PARTS = (
    "plan_window_start",
    "plan_birthdays",
    "plan_maturities",
    "plan_followups",
)


@dataclass
class PlanTiming:
    seconds: float  # the whole write transaction: BEGIN IMMEDIATE, plan(), COMMIT
    call: float  # plan() alone
    parts: dict[str, float]
    result: PlanResult
    opening: float  # open_digests() in its own write transaction, as plan_day() runs it
    digests: int


def run_plan(store: Store) -> PlanTiming:
    """Plan BUSINESS_DATE in one write transaction, timed per kind; then open the digests."""
    parts: dict[str, float] = {}
    with _timing(planning_module, PLAN_PARTS, parts):
        started = time.perf_counter()
        with store.db.write() as session:
            begun = time.perf_counter()
            result = plan(session, business_date=BUSINESS_DATE, settings=store.settings, now=NOW)
            call = time.perf_counter() - begun
        seconds = time.perf_counter() - started
    started = time.perf_counter()
    with store.db.write() as session:
        digests = open_digests(session, now=NOW)
    opening = time.perf_counter() - started
    return PlanTiming(seconds, call, parts, result, opening, digests)


def baseline_query(settings: Settings, since: date, until: date) -> CompoundSelect:
    """One SELECT of the rows planning writes, each part on its indexed columns.

    Birthdays: one indexed look-up per candidate (calendar, month, day, leap) on
    ix_customer_birthday_md, the candidates computed as planning computes them; maturities:
    a range on ix_holding_maturity_date per lead; follow-ups: a range on due_on, with the owner
    copied on the follow-up.
    """
    parts: list[Any] = []
    candidates = planning_module._birthday_rows(since, until, settings.birthday_lead_days)
    for cal, month, day, leap, on, lead in candidates:
        parts.append(
            select(
                literal("birthday").label("kind"),
                Customer.id.label("entity_id"),
                Customer.id.label("customer_id"),
                literal(on, Date).label("occurs_on"),
                literal(lead).label("lead_days"),
                Customer.owner_staff_id.label("recipient"),
            ).where(
                Customer.birth_month == month,
                Customer.birth_day == day,
                Customer.birthday_calendar == cal,
                Customer.birthday_leap_month == leap,
            )
        )
    for lead in settings.maturity_lead_days:
        parts.append(
            select(
                literal("maturity"),
                Holding.id,
                Holding.customer_id,
                Holding.maturity_date,
                literal(lead),
                Customer.owner_staff_id,
            )
            .join(Customer, Customer.id == Holding.customer_id)
            .where(
                Holding.maturity_date >= since + timedelta(days=lead + 1),
                Holding.maturity_date <= until + timedelta(days=lead),
                Holding.product_type.in_(settings.maturity_product_types),
            )
        )
    parts.append(
        select(
            literal("followup"),
            cast(FollowUp.id, String),
            FollowUp.customer_id,
            FollowUp.due_on,
            literal(0),
            FollowUp.owner_staff_id,  # the customer's owner, kept by triggers
        ).where(FollowUp.status != "done", FollowUp.due_on > since, FollowUp.due_on <= until)
    )
    return union_all(*parts)


def run_baseline(store: Store, query: CompoundSelect, rounds: int) -> tuple[list[float], Counter]:
    """Execute and fetch the baseline `rounds` times; seconds of each run, rows per kind."""
    timings: list[float] = []
    kinds: Counter[str] = Counter()
    with store.db.engine.connect() as conn:
        for _ in range(rounds):
            started = time.perf_counter()
            rows = conn.execute(query).all()
            timings.append(time.perf_counter() - started)
            kinds = Counter(row[0] for row in rows)
        conn.rollback()
    return timings, kinds


# --- delivery -----------------------------------------------------------------------------


class StubChannel:
    """An in-memory channel: sending just keeps the reply."""

    name = "stub"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, recipient: str, reply: Reply) -> None:
        """Keep the message."""
        self.sent.append((recipient, reply))


class StubRouter:
    """Every staff member is reachable on the stub channel at their own staff id."""

    def __init__(self, channel: StubChannel) -> None:
        self.channel = channel

    def route(self, staff_id: str) -> Route:
        """The stub route."""
        return Route(self.channel, staff_id)


DELIVERY_PARTS = ("claim_next", "collect")


@dataclass
class DeliveryTiming:
    seconds: float
    stats: SendStats
    parts: dict[str, float]
    messages: int
    chars: int


def run_delivery(store: Store, digests: int) -> DeliveryTiming:
    """One Sender delivering `digests` digests to the stub channel, timed per step."""
    channel = StubChannel()
    parts: dict[str, float] = {}

    def formatter(content: DigestContent, channel_name: str) -> str:
        return digest_text(content, channel_name)

    sender = Sender(
        store,
        StubRouter(channel),
        _timed(formatter, parts, "format"),
        lambda: NOW,
        "bench",
        MemberRateLimit(per_minute=10**9),
    )
    setattr(sender, "_sent", _timed(sender._sent, parts, "mark_sent"))  # noqa: B010
    with _timing(delivery_module, DELIVERY_PARTS, parts):
        started = time.perf_counter()
        stats = asyncio.run(sender.run(max_digests=digests))
        seconds = time.perf_counter() - started
    chars = sum(len(reply.text) for _, reply in channel.sent)
    return DeliveryTiming(seconds, stats, parts, len(channel.sent), chars)


def run_update_baseline(store: Store, ids: list[int]) -> float:
    """One bare `UPDATE digest SET status='sent' WHERE id=?` transaction per id."""
    engine = store.db.engine
    if store.db.is_sqlite:
        engine = engine.execution_options(sqlite_begin="IMMEDIATE")  # as db.write() does
    digest = TABLES["digest"]
    started = time.perf_counter()
    for digest_id in ids:
        with engine.begin() as conn:
            conn.execute(update(digest).where(digest.c.id == digest_id).values(status="sent"))
    return time.perf_counter() - started


# --- report -------------------------------------------------------------------------------


def _counts(timing: PlanTiming) -> str:
    result = timing.result
    return (
        f"birthdays {result.birthdays:,}, maturities {result.maturities:,}, "
        f"follow-ups {result.followups:,}; then {timing.digests:,} digests opened in "
        f"{timing.opening * 1000:.0f} ms"
    )


def _parts(parts: dict[str, float], names: Iterable[str]) -> str:
    return ", ".join(
        f"{name.removeprefix('plan_')} {parts.get(name, 0) * 1000:.0f}" for name in names
    )


def _line(label: str, text: str) -> None:
    print(f"{label + ':':18} {text}")


def report_planning(store: Store) -> None:
    """Baseline twice, plan, plan again, baseline again; ratios."""
    settings = store.settings
    with store.db.read() as session:
        since = plan_window_start(session, BUSINESS_DATE, settings)
    leads = f"birthday {settings.birthday_lead_days}, maturity {settings.maturity_lead_days}"
    _line("window", f"({since}, {BUSINESS_DATE}]; leads: {leads}")
    query = baseline_query(settings, since, BUSINESS_DATE)
    timings, kinds = run_baseline(store, query, rounds=2)
    base = timings[-1]
    shown = ", ".join(f"{kind} {kinds[kind]:,}" for kind in KINDS)
    _line("baseline SELECT", f"{base * 1000:.0f} ms (1st run {timings[0] * 1000:.0f}); {shown}")
    first = run_plan(store)
    _line(
        "plan (1st)",
        f"{first.seconds * 1000:.0f} ms write transaction, plan() {first.call * 1000:.0f} ms; "
        + _counts(first),
    )
    _line("  parts ms", _parts(first.parts, PLAN_PARTS))
    second = run_plan(store)
    _line(
        "plan (2nd)",
        f"{second.seconds * 1000:.0f} ms write transaction, plan() {second.call * 1000:.0f} ms; "
        + _counts(second),
    )
    _line("  parts ms", _parts(second.parts, PLAN_PARTS))
    after, _ = run_baseline(store, query, rounds=2)
    _line("baseline again", f"{after[-1] * 1000:.0f} ms (after planning, for drift)")
    planned = first.result
    counts = (planned.birthdays, planned.maturities, planned.followups)
    same = all(kinds[kind] == n for kind, n in zip(KINDS, counts, strict=True))
    _line("same rows", "yes" if same else "NO: baseline and plan disagree")
    reminders = sum(first.parts.get(name, 0) for name in PLAN_PARTS[1:])
    _line("ratio", f"plan / baseline {first.seconds / base:.2f}x (target <= 2x)")
    _line("ratio", f"birthdays + maturities + follow-ups / baseline {reminders / base:.2f}x")
    both = first.seconds + first.opening
    _line("ratio", f"plan + opening the digests / baseline {both / base:.2f}x")
    _line("ratio", f"2nd plan (adds nothing) / baseline {second.seconds / base:.2f}x")


def report_delivery(store: Store, digests: int) -> None:
    """Sender throughput against bare UPDATE transactions."""
    with store.db.read() as session:
        count = select(func.count()).select_from(Digest).where(Digest.status == "pending")
        due = session.scalar(count) or 0
    _line("digests due", f"{due:,}; sending {min(digests, due):,}")
    timing = run_delivery(store, digests)
    stats = timing.stats
    done = stats.sent + stats.empty
    _line(
        "sender",
        f"{timing.seconds:.2f} s; sent {stats.sent:,}, empty {stats.empty}, failed "
        f"{stats.failed}, retried {stats.retried}; {stats.items:,} items "
        f"({stats.items / max(1, stats.sent):.1f} per digest, "
        f"{timing.chars / max(1, timing.messages):.0f} chars per message)",
    )
    _line(
        "  throughput",
        f"{done / timing.seconds:,.0f} digests/s, {stats.items / timing.seconds:,.0f} items/s, "
        f"{timing.seconds / max(1, done) * 1000:.2f} ms per digest",
    )
    per = {key: spent / max(1, done) * 1000 for key, spent in timing.parts.items()}
    rest = timing.seconds / max(1, done) * 1000 - sum(per.values())
    steps = ", ".join(f"{key} {ms:.2f}" for key, ms in per.items())
    _line("  per digest ms", f"{steps}, rest (collect commit, channel, loop) {rest:.2f}")
    with store.db.read() as session:
        sent = select(Digest.id).where(Digest.status == "sent").order_by(Digest.id).limit(done)
        ids = list(session.scalars(sent))
    bare = run_update_baseline(store, ids)
    _line(
        "baseline UPDATE",
        f"{bare:.2f} s for {len(ids):,} transactions, {len(ids) / bare:,.0f}/s, "
        f"{bare / max(1, len(ids)) * 1000:.2f} ms each",
    )
    _line("ratio", f"sender / bare UPDATE {timing.seconds / bare:.1f}x")


def _server_url(url: str | None) -> str | None:
    """SQLite as given; a PostgreSQL server URL pointed at the scratch database."""
    if url is None or url.startswith("sqlite"):
        return url
    target = make_url(url).set(database=PG_DATABASE)
    return target.render_as_string(hide_password=False)


def main() -> None:
    """Fill, measure, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--holdings", type=int, default=2_000_000)
    parser.add_argument("--followups", type=int, default=50_000)
    parser.add_argument("--url", default=None, help="PostgreSQL server URL (uses bench_reminders)")
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    print(f"load before:       {_load()}")
    with fresh_database(_server_url(args.url), args.keep) as url:
        engine_name = make_url(url).get_backend_name()
        started = time.perf_counter()
        org, world = fill(url, args.customers, args.holdings, args.followups)
        fill_total = time.perf_counter() - started
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in world.fill_seconds.items() if v >= 0.05)
        print(f"engine:            {engine_name}  ({url})")
        print(
            f"data:              {len(org.owner):,} customers, {args.holdings:,} holdings, "
            f"{args.followups:,} open follow-ups, {len(org.rms):,} RMs, {SUB_BRANCHES + 1} branches"
        )
        print(f"fill:              {fill_total:.1f} s  ({parts})")
        print(f"ANALYZE:           {analyze(url):.1f} s")
        store = open_store(url, new_key_text())
        print(f"load at start:     {_load()}")
        report_planning(store)
        report_delivery(store, args.deliveries)
        print(f"load at end:       {_load()}")
        store.close()


if __name__ == "__main__":
    main()
