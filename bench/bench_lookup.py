"""Look-up latency through the whole dispatcher on a bank-sized database, against one query.

    python -m bench.bench_lookup [--customers 100000] [--interactions 1000000] [--url URL]
                                 [--queries 300] [--analyze] [--keep]

Builds a fresh, migrated database (a SQLite file in a temp folder by default; with a PostgreSQL
`--url` such as postgresql+psycopg://postgres@127.0.0.1:5432/bench_lookup that database is
created and dropped here), fills it with Core bulk inserts (about 400 staff, ~250 customers per
relationship manager, ~2 holdings per customer, the interactions and ~5% follow-ups), then
times `Dispatcher.handle()` in-process for a mix of messages and prints p50/p95/max per message
type, the reply events, and the p50 of one indexed Core query as a baseline. Prints figures only.

Rows prefixed `head:` are sent by the branch head of the measured RM's sub-branch (a ~10k
customer scope); `帮助` (help) is the floor of the pipeline: actor, parse, guard, audit, commit.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import os
import random
import re
import statistics
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from pydantic import SecretStr
from sqlalchemy import Engine, Table, event, insert, select, text
from sqlalchemy.engine import make_url

from bot.console import console_message
from bot.dispatch import Dispatcher
from crm_store import demo_words as W
from crm_store import schema
from crm_store.crypto import FieldCipher, decode_key, new_key_text
from crm_store.db import Database, make_engine
from crm_store.models import Base, Customer
from crm_store.personal import id_number_columns, phone_columns
from crm_store.pinyin import name_pinyin
from crm_store.settings import Settings
from crm_store.store import Store

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 28, 9, 30, tzinfo=TZ)  # fixed, so the data set is the same every run
TODAY = NOW.date()
BATCH = 5_000
SUB_BRANCHES = 10
TEAMS_PER_BRANCH = 4
CUSTOMERS_PER_RM = 250
WARM_UP = 20
LOOKUP_KINDS = (
    "查一下{name}",
    "/c {name}",
    "尾号{last4}的客户",
    "{name}最近怎么样",
    "head:查一下{name}",  # the branch head of the measured RM's sub-branch asks
)

# The guard's redaction mark, not the stars inside a masked number such as 138****5678.
REDACTED = re.compile(r"(?<![\d*])\*\*\*(?![\d*])")
SURNAME_CUM = list(itertools.accumulate(1 / (rank + 8) for rank in range(len(W.SURNAMES))))
SEGMENTS = ("vip", "regular", "prospect")
SEGMENT_CUM = list(itertools.accumulate((15, 60, 25)))
NOTE_WEIGHT = {"vip": 3.0, "regular": 1.0, "prospect": 0.4}  # notes per customer, relative
HOLDING_KINDS = (
    ("time_deposit", "整存整取1年定期存款"),
    ("large_cd", "大额存单2025年第12期"),
    ("wealth_management", "季季盈90天理财"),
    ("fund", "易方达蓝筹精选混合"),
    ("insurance", "平安御享金越养老年金险"),
    ("loan", "个人住房贷款"),
)
OPENINGS = ("电话回访客户", "客户来网点面谈", "微信沟通客户", "上门拜访客户", "与客户电话沟通")
BODIES = (
    "客户名下{amt}万大额存单即将到期，有意续存，建议续存我行{term}大额存单，年利率{rate}%，"
    "客户表示考虑一下。",
    "客户对基金定投感兴趣，介绍了稳健型混合基金，建议每月定投{small}元，客户担心市场波动，"
    "约定再沟通。",
    "客户咨询手机银行转账限额，已协助调整为单日{amt}万元，并提醒注意防范电信诈骗。",
    "客户关注养老规划，介绍了养老年金保险和养老理财产品，客户希望了解{term}产品的收益。",
    "客户计划为子女准备教育金{amt}万，推荐了教育金保险组合，客户需与家人商量后答复。",
    "客户想提前还房贷{amt}万，咨询违约金和流程，已告知需在手机银行预约提前还款。",
    "客户理财产品到期赎回{amt}万，讨论了再投资方向，客户倾向于低风险的定期存款。",
    "客户询问美元存款利率，目前一年期美元定存利率{rate}%，客户考虑配置部分外币资产。",
)
TABLES = Base.metadata.tables
TERMS = ("一年期", "两年期", "三年期")


@dataclass
class World:
    """What the fill produced that the measurement needs (ids, names, phone tails)."""

    rms: list[str] = field(default_factory=list)
    head_of: dict[str, str] = field(default_factory=dict)  # sub-branch id -> its branch head
    branch_of: dict[str, str] = field(default_factory=dict)  # staff id -> branch id
    owner: list[str] = field(default_factory=list)  # per customer index
    names: list[str] = field(default_factory=list)
    last4: list[str] = field(default_factory=list)
    segment: list[str] = field(default_factory=list)
    fill_seconds: dict[str, float] = field(default_factory=dict)


# --- database lifecycle -------------------------------------------------------------------


def _pg_dsn(url: str, database: str) -> str:
    """A libpq DSN for `database` on the server of a SQLAlchemy URL."""
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


@contextmanager
def fresh_database(url: str | None, keep: bool) -> Iterator[str]:
    """An empty, migrated database: a temp SQLite file, or the PostgreSQL database of `url`."""
    if url is None or url.startswith("sqlite"):
        folder = Path(tempfile.mkdtemp(prefix="bench_lookup_"))
        path = folder / "bankbot.db"
        db_url = url if url and url != "sqlite://" else f"sqlite:///{path}"
        try:
            migrate(db_url)
            yield db_url
        finally:
            if keep:
                print(f"kept:              {db_url}")
            else:
                for child in folder.iterdir():
                    child.unlink()
                folder.rmdir()
        return
    name = make_url(url).database
    if not name or name == "postgres":
        raise SystemExit("--url must name a scratch database, e.g. .../bench_lookup")
    with psycopg.connect(_pg_dsn(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate(url)
        yield url
    finally:
        if keep:
            print(f"kept:              {url}")
        else:
            with psycopg.connect(_pg_dsn(url, "postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str) -> None:
    """Bring a database to the current schema."""
    engine = make_engine(url)
    schema.upgrade(engine)
    engine.dispose()


def open_store(url: str, key: str) -> Store:
    """A store on `url`, opened as the app opens it (same engine settings)."""
    home = Path(tempfile.gettempdir())
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, BANKBOT_HOME=home, DATABASE_URL=url, BANKBOT_DATA_KEY=SecretStr(key)
    )
    return Store(settings, Database(make_engine(url)), FieldCipher(decode_key(key)))


# --- fill ---------------------------------------------------------------------------------


def _person_name(rng: random.Random) -> str:
    ones, twos = W.GIVEN[rng.random() < 0.5]
    given = rng.choice(ones) if rng.random() < 0.35 else rng.choice(twos)
    surname = W.SURNAMES[bisect.bisect(SURNAME_CUM, rng.random() * SURNAME_CUM[-1])]
    return surname + given


def _bulk(engine: Engine, table: Table, rows: Iterator[dict[str, Any]], world: World) -> int:
    """Insert rows in batches of BATCH, in one transaction; the time goes into the world."""
    started = time.perf_counter()
    count = 0
    with engine.begin() as conn:
        while batch := list(itertools.islice(rows, BATCH)):
            conn.execute(insert(table), batch)
            count += len(batch)
    world.fill_seconds[table.name] = time.perf_counter() - started
    return count


def _org_rows(rng: random.Random, n_rm: int, world: World) -> dict[str, list[dict[str, Any]]]:
    """Branch tree (1 head + 10 sub-branches), teams and staff of every role."""
    branches = [{"id": "B00", "name": "上海分行", "parent_id": None}]
    branches += [
        {"id": f"B{b:02d}", "name": f"第{b}支行", "parent_id": "B00"}
        for b in range(1, SUB_BRANCHES + 1)
    ]
    teams = [
        {"id": f"T{b:02d}{t}", "name": f"第{b}支行{t}组", "branch_id": f"B{b:02d}"}
        for b in range(1, SUB_BRANCHES + 1)
        for t in range(1, TEAMS_PER_BRANCH + 1)
    ]
    staff: list[dict[str, Any]] = []

    def add(role: str, branch: str, team: str | None) -> str:
        sid = f"S{len(staff) + 1:04d}"
        staff.append(
            {"id": sid, "name": _person_name(rng), "role": role, "branch_id": branch,
             "team_id": team, "active": True}
        )  # fmt: skip
        world.branch_of[sid] = branch
        return sid

    world.head_of["B00"] = add("branch_head", "B00", None)
    add("compliance", "B00", None)
    for b in range(1, SUB_BRANCHES + 1):
        world.head_of[f"B{b:02d}"] = add("branch_head", f"B{b:02d}", None)
        for t in range(1, TEAMS_PER_BRANCH + 1):
            add("team_lead", f"B{b:02d}", f"T{b:02d}{t}")
    for n in range(n_rm):
        b = n % SUB_BRANCHES + 1
        t = n // SUB_BRANCHES % TEAMS_PER_BRANCH + 1
        world.rms.append(add("rm", f"B{b:02d}", f"T{b:02d}{t}"))
    return {"branch": branches, "team": teams, "staff": staff}


def _customer_rows(
    rng: random.Random, cipher: FieldCipher, count: int, world: World
) -> Iterator[dict[str, Any]]:
    updated = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    for n in range(count):
        owner = world.rms[rng.randrange(len(world.rms))]
        name = _person_name(rng)
        segment = SEGMENTS[bisect.bisect(SEGMENT_CUM, rng.randrange(SEGMENT_CUM[-1]))]
        phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        id_number = f"{rng.randrange(10**17):017d}{rng.choice('0123456789X')}"
        known = rng.random() < 0.9
        lunar = known and rng.random() < 0.12
        month = rng.randint(1, 12) if known else None
        day = rng.randint(1, 30 if lunar else 28) if known else None
        world.owner.append(owner)
        world.names.append(name)
        world.last4.append(phone[-4:])
        world.segment.append(segment)
        yield {
            "id": f"C{n:07d}",
            "name": name,
            "name_pinyin": name_pinyin(name),
            "owner_staff_id": owner,
            "branch_id": world.branch_of[owner],
            "segment": segment,
            "birth_month": month,
            "birth_day": day,
            "birthday_calendar": "lunar" if lunar else "solar",
            "birthday_leap_month": False,
            "risk_level": f"C{rng.randint(1, 5)}",
            "aum": Decimal(rng.randrange(10**6, 10**10)) / 100,
            "tags": ";".join(rng.sample(W.TAGS, rng.randint(0, 2))),
            "import_hash": None,
            "updated_at": updated,
            **phone_columns(cipher, phone),
            **id_number_columns(cipher, id_number),
        }


def _holding_rows(rng: random.Random, customers: int) -> Iterator[dict[str, Any]]:
    n = 0
    for c in range(customers):
        for _ in range(rng.choice((1, 2, 2, 3))):
            kind, product = HOLDING_KINDS[rng.randrange(len(HOLDING_KINDS))]
            maturity = None if kind == "fund" else TODAY + timedelta(days=rng.randint(-730, 730))
            start = (maturity or TODAY) - timedelta(days=rng.choice((90, 180, 365, 730)))
            n += 1
            yield {
                "id": f"H{n:08d}",
                "customer_id": f"C{c:07d}",
                "product_type": kind,
                "product_name": product,
                "amount": Decimal(rng.randrange(10_000, 5_000_000)),
                "currency": "CNY",
                "start_date": start,
                "maturity_date": maturity,
            }


def _note_text(rng: random.Random, due: date | None) -> str:
    body = BODIES[rng.randrange(len(BODIES))].format(
        amt=rng.randint(2, 300),
        term=TERMS[rng.randrange(3)],
        rate=f"{rng.uniform(1.2, 2.4):.2f}",
        small=rng.choice((500, 1000, 2000, 3000)),
    )
    tail = f"约{due.month}月{due.day}日再联系。" if due else ""
    return f"{OPENINGS[rng.randrange(len(OPENINGS))]}：{body}{tail}"


def _interaction_rows(
    rng: random.Random, count: int, world: World, followups: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Notes over the last 3 years, more on VIPs; ~5% open a follow-up (collected aside)."""
    cum = list(itertools.accumulate(NOTE_WEIGHT[s] for s in world.segment))
    start = datetime(2023, 11, 28, tzinfo=UTC)
    span = int((NOW.astimezone(UTC) - start).total_seconds())
    for n in range(count):
        c = bisect.bisect(cum, rng.random() * cum[-1])
        occurred = start + timedelta(seconds=rng.randrange(span))
        due = occurred.date() + timedelta(days=rng.randint(3, 30)) if rng.random() < 0.05 else None
        iid = f"I{n:08d}"
        content = _note_text(rng, due)
        if due is not None:
            done = due < TODAY - timedelta(days=30) and rng.random() < 0.97
            followups.append(
                {"customer_id": f"C{c:07d}", "staff_id": world.owner[c], "interaction_id": iid,
                 "due_on": due, "status": "done" if done else "open", "summary": content[:60],
                 "created_at": occurred,
                 "closed_at": occurred + timedelta(days=3) if done else None}
            )  # fmt: skip
        yield {
            "id": iid,
            "customer_id": f"C{c:07d}",
            "staff_id": world.owner[c],
            "occurred_at": occurred,
            "channel": "import",
            "content": content,
            "next_followup_on": due,
            "source_message_id": None,
            "created_at": occurred,
            "undone_at": None,
        }


def fill(url: str, cipher: FieldCipher, customers: int, interactions: int) -> World:
    """Fill every table with Core executemany, one transaction per table."""
    rng = random.Random(42)
    world = World()
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _fast_fill(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA synchronous=OFF")  # a crash mid-fill just means a re-run
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB
            cursor.close()

    engine = engine.execution_options(sqlite_begin="IMMEDIATE")
    n_rm = max(1, round(customers / CUSTOMERS_PER_RM))
    org = _org_rows(rng, n_rm, world)
    for name in ("branch", "team", "staff"):
        _bulk(engine, TABLES[name], iter(org[name]), world)
    _bulk(engine, TABLES["customer"], _customer_rows(rng, cipher, customers, world), world)
    _bulk(engine, TABLES["holding"], _holding_rows(rng, customers), world)
    followups: list[dict[str, Any]] = []
    rows = _interaction_rows(rng, interactions, world, followups)
    _bulk(engine, TABLES["interaction"], rows, world)
    _bulk(engine, TABLES["followup"], iter(followups), world)
    engine.dispose()
    return world


def analyze(url: str) -> float:
    """Run ANALYZE (planner statistics); returns the seconds it took."""
    engine = make_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


# --- measurement --------------------------------------------------------------------------


@dataclass
class Sample:
    """One timed message and what its reply contained."""

    kind: str
    text: str
    ms: float
    events: tuple[str, ...]
    redacted: bool


def _pick_rm(world: World) -> str:
    """The first RM with VIPs and a name that appears twice in their own book."""
    book: dict[str, list[int]] = defaultdict(list)
    for i, owner in enumerate(world.owner):
        book[owner].append(i)
    for rm in world.rms:
        mine = book.get(rm, [])
        names = Counter(world.names[i] for i in mine)
        if any(world.segment[i] == "vip" for i in mine) and max(names.values(), default=0) > 1:
            return rm
    return next(rm for rm in world.rms if book.get(rm))


def build_messages(
    world: World, rm: str, queries: int, rng: random.Random
) -> list[tuple[str, str, str]]:
    """(kind, sender, text) round-robin over the kinds, so load drifts hit every kind alike."""
    mine = [i for i, owner in enumerate(world.owner) if owner == rm]
    branch = world.branch_of[rm]
    head = world.head_of[branch]
    in_branch = [i for i, owner in enumerate(world.owner) if world.branch_of[owner] == branch]
    kinds = (*LOOKUP_KINDS, "今天要做什么", "我的VIP客户", "head:今天要做什么", "帮助")
    per_kind = max(1, queries // len(kinds))
    out: list[tuple[str, str, str]] = []
    for _ in range(per_kind):
        for kind in kinds:
            sender, pattern = (head, kind[5:]) if kind.startswith("head:") else (rm, kind)
            i = rng.choice(in_branch if sender == head else mine)
            out.append((kind, sender, pattern.format(name=world.names[i], last4=world.last4[i])))
    return out


def _pad(label: str, width: int) -> str:
    """Left-justify by display width (a Chinese character takes two columns)."""
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in label)
    return label + " " * max(0, width - len(label) - wide)


def _ms_stats(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):8.1f} {p95:8.1f} {ordered[-1]:8.1f}"


def run_messages(store: Store, messages: list[tuple[str, str, str]]) -> list[Sample]:
    """Time asyncio.run(dispatcher.handle(...)) for each message, after a warm-up."""
    dispatcher = Dispatcher(store, clock=lambda: NOW)
    samples: list[Sample] = []
    warm = messages[:WARM_UP]
    for n, (kind, sender, body) in enumerate(warm + messages):
        message = console_message(sender, body, NOW)
        started = time.perf_counter()
        reply = asyncio.run(dispatcher.handle(message))
        ms = (time.perf_counter() - started) * 1000
        if n >= len(warm):
            events = tuple(e.type for e in reply.events)
            samples.append(Sample(kind, body, ms, events, bool(REDACTED.search(reply.text))))
    return samples


def run_baseline(store: Store, rm: str, names: list[str], rounds: int) -> list[float]:
    """p50 material: one indexed Core query by name and owner on an open connection."""
    timings: list[float] = []
    with store.db.engine.connect() as conn:
        for name in itertools.islice(itertools.cycle(names), rounds + WARM_UP):
            query = select(Customer.id).where(Customer.name == name, Customer.owner_staff_id == rm)
            started = time.perf_counter()
            conn.execute(query).all()
            timings.append((time.perf_counter() - started) * 1000)
    return timings[WARM_UP:]


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} / {five:.2f} (1 / 5 min) on {os.cpu_count()} cores"


def report(samples: list[Sample], baseline: list[float], out: Callable[[str], None]) -> None:
    """Per kind p50/p95/max and events, overall, baseline and the ratio."""
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
    out(f"{'message':22} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  replies (events)")
    for kind, group in by_kind.items():
        events = Counter(e for s in group for e in (s.events or ("-",)))
        redacted = sum(s.redacted for s in group)
        extra = f"; {redacted} with *** redactions" if redacted else ""
        shown = ", ".join(f"{k} {v}" for k, v in events.most_common())
        stats = _ms_stats([s.ms for s in group])
        out(f"{_pad(kind, 22)} {len(group):4d} {stats}  {shown}{extra}")
    lookups = [s.ms for s in samples if s.kind in LOOKUP_KINDS]
    out(f"{'all look-ups':22} {len(lookups):4d} {_ms_stats(lookups)}")
    out(f"{'all messages':22} {len(samples):4d} {_ms_stats([s.ms for s in samples])}")
    base = statistics.median(baseline)
    out(f"{'baseline Core query':22} {len(baseline):4d} {_ms_stats(baseline)}")
    name_p50 = statistics.median(s.ms for s in samples if s.kind == LOOKUP_KINDS[0])
    out(f"ratio handle('查一下') p50 / baseline p50: {name_p50 / base:,.0f}x")
    out(f"look-up p50 {statistics.median(lookups):.1f} ms vs target 50 ms: "
        + ("met" if statistics.median(lookups) < 50 else "MISSED"))  # fmt: skip


def main() -> None:
    """Fill, measure, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--url", default=None, help="PostgreSQL URL of a scratch database")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--analyze", action="store_true", help="ANALYZE SQLite after the fill")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    key = new_key_text()
    cipher = FieldCipher(decode_key(key))
    print(f"load before:       {_load()}")
    with fresh_database(args.url, args.keep) as url:
        engine_name = make_url(url).get_backend_name()
        started = time.perf_counter()
        world = fill(url, cipher, args.customers, args.interactions)
        fill_total = time.perf_counter() - started
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in world.fill_seconds.items() if v >= 0.05)
        print(f"engine:            {engine_name}  ({url})")
        print(f"fill:              {fill_total:.1f} s  ({parts})")
        if args.analyze or engine_name == "postgresql":
            print(f"ANALYZE:           {analyze(url):.1f} s")
        else:
            print("ANALYZE:           not run (the app never runs it on SQLite; see --analyze)")
        rm = _pick_rm(world)
        mine = [i for i, owner in enumerate(world.owner) if owner == rm]
        counts = Counter(world.names)
        book = Counter(world.names[i] for i in mine)
        shared = sum(1 for name in book if counts[name] > book[name])
        twice = sum(1 for name in book if book[name] > 1)
        print(
            f"data:              {len(world.owner):,} customers, {len(counts):,} distinct names "
            f"(most common x{counts.most_common(1)[0][1]}), {len(world.rms)} RMs"
        )
        print(
            f"measured RM:       {rm} in {world.branch_of[rm]}, {len(mine)} customers, "
            f"{len(book)} names ({shared} also another RM's customer's, {twice} twice in own book)"
        )
        store = open_store(url, key)
        messages = build_messages(world, rm, args.queries, random.Random(42))
        print(f"load at start:     {_load()}")
        samples = run_messages(store, messages)
        names = [body[3:] for kind, _, body in messages if kind == LOOKUP_KINDS[0]]
        baseline = run_baseline(store, rm, names, len(samples))
        print(f"load at end:       {_load()}")
        report(samples, baseline, print)
        store.close()


if __name__ == "__main__":
    main()
