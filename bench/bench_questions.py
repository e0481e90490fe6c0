"""Question handling without an LLM against its floor: query embedding, retrieval, SQL card.

    python -m bench.bench_questions [--questions 400] [--today 2026-11-28] [--url URL]
                                    [--home DIR] [--profile 40]

Builds the demo bank as bench/eval_retrieval.py does (`crm_store.demo`, seed 7, a fixed
`--today`; `init_store` on SQLite in a temp BANKBOT_HOME with a generated key, or on the
PostgreSQL scratch database of `--url`, created and dropped here), imports every demo CSV and
runs ANALYZE as `bankbot seed-demo` does, then indexes the notes through the index outbox the
import filled (`drain_outbox`) into the embedded Chroma of `open_index`, with the bundled e5
model. `open_index` holds the folder's lock, so scoped searches rank the in-process vector
cache, loaded up front by `warm_up()` as `bankbot serve` does. No LLM is configured. `--home`
keeps the SQLite bank and its index in DIR and reuses them on the next run (no rebuild; the
`--today` it was built for stays).

Questions: bench/eval_questions.jsonl (written by eval_retrieval from the demo data) plus the
README's "张伟上次聊了什么？" asked by S001. The asker of an open question is the file's staff
member; of a single-customer one, the customer's owner (for a customer of the RM who has left,
the first of eval_retrieval's RMs and team leads who may see them). The kind is what the app
decides: lines the rules do not read as a question are dropped, a question naming exactly one
customer the asker may see (`find_in_text`) is single-customer, any other is open.

Full path: `Dispatcher(store, retriever=Retriever(index, model=None)).handle(...)` on a console
message, awaited in one event loop: intent rules, actor, the permission scope and the name
look-up (one query), query embedding, search, SQL re-check, card, the retrieval-only answer,
reply guard, audit row and commit. Floor, for the same question, as the issue names it (one
query embedding + the retrieval + the SQL card): `index.query_vector(text)`, then the
retrieval as specified, `index.search_vector(vector, customer_ids=scope, k=5)` over the scope
the full path searches (computed once beforehand, so the floor leaves out the permission
query) and the SQL re-check of its hits, which reads back the customers and notes shown, then
for a single-customer question `customer_card`, all in one read session.

Both paths are warmed up, then timed question by question as pairs, the order inside a pair
alternating and the kinds taken round robin, so drift on this shared machine hits both alike.
Prints p50/p95 per kind and overall, the ratio p50(full) / p50(floor) against the 1.5x target,
then where the extra time goes: each step the full path adds to the floor, timed alone and
unprofiled after the pairs, and for `--profile` more full questions the SQL statements sent and
the top cProfile entries. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import pstats
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import event, select

from bench.bench_lookup import _load, fresh_database
from bench.eval_retrieval import (
    DEFAULT_TODAY,
    OPEN_STAFF,
    QUESTIONS_FILE,
    SEED,
    demo_settings,
    load_questions,
)
from bot.console import CHANNEL, console_message
from bot.dispatch import Dispatcher
from bot.identity import resolve_actor
from crm_store.audit import write_audit
from crm_store.cards import customer_card
from crm_store.crypto import new_key_text
from crm_store.customers import find_in_text
from crm_store.demo import DEMO_KINDS, write_demo_files
from crm_store.importer import import_file
from crm_store.masking import mask_text
from crm_store.models import Customer
from crm_store.permissions import (
    Actor,
    load_actor,
    may_use_customer_chat,
    visible_customer_ids,
    visible_customer_names,
)
from crm_store.settings import Settings
from crm_store.store import Store, init_store, open_store
from handlers.contracts import Reply
from handlers.guard import GuardedReply, guard_reply
from handlers.intents import QUESTION, parse_intent
from retrieval.config import IndexSettings
from retrieval.connect import open_index
from retrieval.embeddings import E5Embeddings
from retrieval.index import NoteIndex
from retrieval.search import SEE_ALL_ROLES, Retriever, recheck, search_scope
from retrieval.sync import drain_outbox

K = 5  # handlers/question.py TOP_K
TARGET = 1.5
WARM_UP = 20  # pairs, not counted
STEP_QUESTIONS = 200  # questions whose steps are timed one by one
EXTRA_QUESTIONS = (("S001", "张伟上次聊了什么？"),)  # the README's example
KINDS = ("single", "open")
ROOT = Path(__file__).resolve().parent.parent
PROJECT_DIRS = tuple(f"{ROOT / d}/" for d in ("bot", "handlers", "retrieval", "crm_store"))


@dataclass(frozen=True)
class Asked:
    """One question as the app will treat it, with what the floor needs computed beforehand."""

    kind: str  # "single" (one named customer) or "open" (every customer the asker sees)
    staff_id: str
    text: str
    actor: Actor
    scope: list[str]  # the customer ids the full path searches
    customer_id: str | None


@dataclass
class Samples:
    """Milliseconds per group: a question kind, a part of the floor or a step."""

    groups: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, group: str, ms: float) -> None:
        """One sample."""
        self.groups[group].append(ms)

    def of(self, group: str | None) -> list[float]:
        """One group's samples, or every sample for None."""
        if group is not None:
            return self.groups.get(group, [])
        return [ms for values in self.groups.values() for ms in values]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def p50(values: list[float]) -> float:
    """The median, or NaN for no samples."""
    return statistics.median(values) if values else float("nan")


def p95(values: list[float]) -> float:
    """The nearest-rank 95th percentile, or NaN for no samples."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# --- the bank -----------------------------------------------------------------------------


def bank_settings(home: Path, url: str | None) -> Settings:
    """SQLite in `home` with a generated key, or the PostgreSQL `url` with a fresh key."""
    if url is None:
        return demo_settings(home)
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        BANKBOT_HOME=home,
        DATABASE_URL=url,
        BANKBOT_DATA_KEY=SecretStr(new_key_text()),
    )


def local_index(store: Store) -> NoteIndex:
    """The embedded index under the store's home, bundled e5, whatever `.env` says."""
    config = IndexSettings(  # type: ignore[call-arg]
        _env_file=None, CHROMA_URL="", EMBEDDINGS_BASE_URL="", EMBEDDINGS_MODEL=""
    )
    return open_index(store.settings, config=config, embeddings=E5Embeddings())


def build_bank(settings: Settings, today: date) -> tuple[Store, NoteIndex]:
    """The demo bank imported and analysed, its notes indexed through the outbox."""
    started = time.perf_counter()
    store, _ = init_store(settings)
    paths = write_demo_files(settings.home / "demo", today=today, seed=SEED)
    now = datetime.combine(today, datetime.min.time(), settings.tz).replace(hour=8)
    for kind in DEMO_KINDS:
        import_file(store, kind, paths[kind], now=now)
    store.db.analyze()
    print(f"bank:              imported and analysed in {time.perf_counter() - started:.1f} s")
    index = local_index(store)
    started = time.perf_counter()
    applied = drain_outbox(store, index)
    seconds = time.perf_counter() - started
    print(
        f"index:             {index.count()} notes from {applied} outbox rows in {seconds:.1f} s "
        f"({index.count() / seconds:.0f} notes/s)"
    )
    return store, index


@contextmanager
def demo_bank(home: Path | None, url: str | None, today: date) -> Iterator[tuple[Store, NoteIndex]]:
    """A built bank: in `home` (reused when it is already there), else in a temp folder."""
    with ExitStack() as stack:
        if home is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bankbot-q-")))
        else:
            home.mkdir(parents=True, exist_ok=True)
            folder = home
        if home is not None and (folder / "bankbot.db").exists():
            store = open_store(demo_settings(folder))
            stack.callback(store.close)
            index = local_index(store)
            stack.callback(index.close)
            drain_outbox(store, index)  # a build stopped half-way
            print(f"bank:              reused {folder} ({index.count()} notes indexed)")
        else:
            if url is not None:
                url = stack.enter_context(fresh_database(url, keep=False))
            store, index = build_bank(bank_settings(folder, url), today)
            stack.callback(store.close)
            stack.callback(index.close)
        yield store, index


# --- the questions ------------------------------------------------------------------------


def _asker(
    customer_id: str,
    owner: str | None,
    actor_of: Callable[[str], Actor | None],
    seen: Callable[[str], set[str]],
) -> str | None:
    """The owner if they may still use the chat, else the first RM or lead who sees them."""
    if owner is not None and may_use_customer_chat(actor_of(owner)):
        return owner
    return next((s for s in OPEN_STAFF if customer_id in seen(s)), None)


def prepare(store: Store, today: date) -> tuple[list[Asked], Counter[str]]:
    """The questions as the app treats them; a count of what was dropped or reclassified."""
    notes: Counter[str] = Counter()
    raw: list[tuple[str, str, str]] = []  # (file category, staff id, text)
    with store.db.read() as session:
        rows = session.execute(select(Customer.id, Customer.owner_staff_id))
        owners = {customer_id: owner for customer_id, owner in rows}
        actors: dict[str, Actor | None] = {}
        visible: dict[str, set[str]] = {}

        def actor_of(staff_id: str) -> Actor | None:
            if staff_id not in actors:
                actors[staff_id] = load_actor(session, staff_id)
            return actors[staff_id]

        def seen(staff_id: str) -> set[str]:
            if staff_id not in visible:
                visible[staff_id] = visible_customer_ids(session, actor_of(staff_id), today)
            return visible[staff_id]

        for q in load_questions(QUESTIONS_FILE):
            wanted = q.customer_id or ""
            staff_id = q.staff_id or _asker(wanted, owners.get(wanted), actor_of, seen)
            if staff_id is None:
                notes["dropped: nobody may ask about the customer"] += 1
                continue
            raw.append((q.category, staff_id, q.question))
        raw.extend(("single", staff_id, text) for staff_id, text in EXTRA_QUESTIONS)
        asked: list[Asked] = []
        for category, staff_id, text in raw:
            actor = actor_of(staff_id)
            if actor is None or not may_use_customer_chat(actor):
                notes["dropped: the asker may not use the chat"] += 1
                continue
            if parse_intent(text).name != QUESTION:
                notes["dropped: the rules do not read it as a question"] += 1
                continue
            named = find_in_text(session, actor=actor, today=today, text=text, limit=2)
            customer_id = named[0].id if len(named) == 1 else None
            scope = search_scope(session, actor, today, customer_id)
            if not scope:
                notes["dropped: nothing to search"] += 1
                continue
            kind = "single" if customer_id else "open"
            if kind != category:
                notes[f"the app treats a {category} question as {kind}"] += 1
            asked.append(Asked(kind, staff_id, text, actor, scope, customer_id))
    return asked, notes


def schedule(asked: list[Asked], count: int) -> list[Asked]:
    """`count` questions, the kinds round robin, each kind cycling through its questions."""
    cycles = {kind: itertools.cycle([q for q in asked if q.kind == kind]) for kind in KINDS}
    kinds = [kind for kind in KINDS if any(q.kind == kind for q in asked)]
    return [next(cycles[kinds[n % len(kinds)]]) for n in range(count)]


# --- the two paths ------------------------------------------------------------------------


class Bench:
    """The dispatcher and the floor's pieces over one store and index, at a fixed clock."""

    def __init__(self, store: Store, index: NoteIndex, now: datetime) -> None:
        self.store = store
        self.index = index
        self.now = now
        self.today = now.date()
        self.dispatcher = Dispatcher(store, clock=lambda: now, retriever=Retriever(index, None))
        self.events: Counter[str] = Counter()
        self.last_reply: dict[tuple[str, str], GuardedReply] = {}

    async def full(self, q: Asked) -> float:
        """Milliseconds of `Dispatcher.handle` for the question."""
        message = console_message(q.staff_id, q.text, self.now)
        started = time.perf_counter()
        reply = await self.dispatcher.handle(message)
        ms = _ms(started)
        self.events.update(e.type for e in reply.events)
        self.last_reply[q.staff_id, q.text] = reply
        return ms

    def floor(self, q: Asked, parts: Samples) -> float:
        """Milliseconds of embedding + search (+ card); the parts go into `parts`."""
        started = time.perf_counter()
        vector = self.index.query_vector(q.text)
        embedded = time.perf_counter()
        hits = self.index.search_vector(vector, customer_ids=q.scope, k=K)
        searched = time.perf_counter()
        tz = self.store.settings.tz
        with self.store.db.read() as session:
            recheck(session, hits, actor=q.actor, today=self.today, scope=q.scope, tz=tz)
            checked = time.perf_counter()
            if q.customer_id is not None:
                customer_card(session, actor=q.actor, today=self.today, customer_id=q.customer_id)
        ended = time.perf_counter()
        parts.add("embedding", (embedded - started) * 1000)
        parts.add("search", (searched - embedded) * 1000)
        parts.add("re-check", (checked - searched) * 1000)
        if q.customer_id is not None:
            parts.add("card", (ended - checked) * 1000)
        return (ended - started) * 1000

    async def pairs(self, plan: list[Asked], full: Samples, floor: Samples, parts: Samples) -> None:
        """Time both paths per question, the order alternating."""
        for n, q in enumerate(plan):
            if n % 2 == 0:
                full.add(q.kind, await self.full(q))
                floor.add(q.kind, self.floor(q, parts))
            else:
                floor.add(q.kind, self.floor(q, parts))
                full.add(q.kind, await self.full(q))

    def steps(self, q: Asked, steps: dict[str, Samples]) -> None:
        """Time alone each step the full path adds to the floor, as it runs there."""
        reply = self.last_reply[q.staff_id, q.text]
        started = time.perf_counter()

        def lap(step: str, times: int = 1) -> None:
            nonlocal started
            ended = time.perf_counter()
            steps[step].add(q.kind, times * (ended - started) * 1000)
            started = ended

        with self.store.db.read() as session:
            actor = resolve_actor(session, channel=CHANNEL, sender_id=q.staff_id)
            parse_intent(q.text)
            lap("read session, actor, intent rules")
            if actor is not None and actor.role in SEE_ALL_ROLES:
                find_in_text(session, actor=actor, today=self.today, text=q.text, limit=2)
            else:
                visible_customer_names(session, actor, self.today)
            lap("scope and names (one query)")
            guard_reply(session, actor, self.today, Reply(reply.text, reply.events))
            lap("reply guard")
        started = time.perf_counter()
        with self.store.db.write() as session:
            write_audit(
                session,
                at=self.now,
                actor_staff_id=q.staff_id,
                channel=CHANNEL,
                sender_id=q.staff_id,
                chat_type="private",
                intent=QUESTION,
                customer_ids=reply.customer_ids(),
                decision="allowed",
                text_masked=mask_text(q.text),
                detail="question_answered",
            )
        lap("audit write + commit")

    async def profile(self, plan: list[Asked]) -> tuple[pstats.Stats, float, Counter[str]]:
        """cProfile over the full path of `plan`; (stats, profiled seconds of handle, SQL
        statements sent, by their first word)."""
        profiler = cProfile.Profile()
        total = 0.0
        statements: Counter[str] = Counter()

        def count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
            statements[sql.split(None, 1)[0].upper()] += 1

        engine = self.store.db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            for q in plan:
                message = console_message(q.staff_id, q.text, self.now)
                started = time.perf_counter()
                profiler.enable()
                await self.dispatcher.handle(message)
                profiler.disable()
                total += time.perf_counter() - started
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return pstats.Stats(profiler), total, statements


# --- the report ---------------------------------------------------------------------------


def report(full: Samples, floor: Samples, parts: Samples) -> None:
    """p50/p95 of both paths per kind and overall, and the ratio against the target."""
    print(
        f"\n{'questions':10} {'n':>5} {'full p50':>9} {'p95':>7} {'floor p50':>10} {'p95':>7} "
        f"{'extra p50':>10} {'p50 ratio':>10}"
    )
    for kind in (*KINDS, None):
        a, b = full.of(kind), floor.of(kind)
        if not a:
            continue
        print(
            f"{kind or 'all':10} {len(a):5d} {p50(a):9.1f} {p95(a):7.1f} {p50(b):10.1f} "
            f"{p95(b):7.1f} {p50(a) - p50(b):10.1f} {p50(a) / p50(b):9.2f}x"
        )
    shown = ", ".join(
        f"{name} {p50(parts.of(name)):.1f}" for name in ("embedding", "search", "re-check", "card")
    )
    print(f"floor parts, p50 ms: {shown} (card: single-customer questions only)")
    for kind in (*KINDS, None):
        if full.of(kind):
            ratio = p50(full.of(kind)) / p50(floor.of(kind))
            verdict = "met" if ratio <= TARGET else "MISSED"
            print(
                f"target p50(full) <= {TARGET}x p50(floor), {kind or 'all'}: {ratio:.2f}x {verdict}"
            )


def report_steps(steps: dict[str, Samples], full: Samples, floor: Samples) -> None:
    """The extra steps' p50 per kind against the measured gap between the paths."""
    count = len(steps["reply guard"].of(None))
    print("\nwhere the extra goes: each step the full path adds, timed alone after the pairs")
    print(f"  {f'p50 ms, {count} questions':36} {'single':>8} {'open':>8} {'all':>8}")
    groups = (*KINDS, None)
    totals = dict.fromkeys(groups, 0.0)
    for name, samples in steps.items():
        cells = [p50(samples.of(kind)) for kind in groups]
        for kind, ms in zip(groups, cells, strict=True):
            totals[kind] += ms
        print(f"  {name:36} {cells[0]:8.2f} {cells[1]:8.2f} {cells[2]:8.2f}")
    print(f"  {'sum of the steps':36} " + " ".join(f"{totals[k]:8.2f}" for k in groups))
    gaps = [p50(full.of(kind)) - p50(floor.of(kind)) for kind in groups]
    print(f"  {'measured p50(full) - p50(floor)':36} " + " ".join(f"{g:8.2f}" for g in gaps))
    print("  (the rest: session set-up, card and answer text, dispatcher, event loop; or noise)")


def report_profile(
    stats: pstats.Stats, seconds: float, statements: Counter[str], count: int, top: int = 25
) -> None:
    """SQL statements per question, the project's functions by cumulative time, then every
    function by its own time."""
    raw = stats.stats  # type: ignore[attr-defined]
    per_q = 1000 / count
    verbs = ", ".join(f"{verb} {n / count:.1f}" for verb, n in statements.most_common())
    print(f"\nSQL statements per full question: {statements.total() / count:.1f} ({verbs})")
    embedding = sum(
        ct
        for (file, _, func), (_, _, _, ct, _) in raw.items()
        if file.endswith("retrieval/embeddings.py") and func == "query_vector"
    )
    print(
        f"cProfile of {count} more full questions: {seconds * per_q:.1f} ms per question under "
        f"the profiler, {embedding * per_q:.1f} of it the query embedding (C, not slowed down by "
        "the profiler; the Python around it is); ms per question below"
    )
    rows = [
        (ct, nc, f"{Path(file).parent.name}/{Path(file).name}:{func}")
        for (file, _, func), (_, nc, _, ct, _) in raw.items()
        if file.startswith(PROJECT_DIRS)
    ]
    print("  our code, cumulative:")
    for ct, nc, name in sorted(rows, reverse=True)[:top]:
        print(f"  {ct * per_q:8.2f} ms {nc / count:6.1f} calls  {name}")
    own = [
        (tt, nc, f"{Path(file).name}:{func}" if file != "~" else func)
        for (file, _, func), (_, nc, tt, _, _) in raw.items()
    ]
    print("  any code, own time:")
    for tt, nc, name in sorted(own, reverse=True)[: top // 2]:
        print(f"  {tt * per_q:8.2f} ms {nc / count:6.1f} calls  {name}")


async def measure(bench: Bench, asked: list[Asked], args: argparse.Namespace) -> None:
    """Warm up, time the pairs, time the steps, profile; print as it goes."""
    plan = schedule(asked, args.questions)
    warm = Samples()
    await bench.pairs(schedule(asked, WARM_UP), warm, warm, warm)
    full, floor, parts = Samples(), Samples(), Samples()
    print(f"load at start:     {_load()}")
    await bench.pairs(plan, full, floor, parts)
    print(f"load at end:       {_load()}")
    print(f"reply events:      {', '.join(f'{k} {v}' for k, v in bench.events.most_common())}")
    report(full, floor, parts)
    steps: dict[str, Samples] = defaultdict(Samples)
    for q in plan[: min(len(plan), STEP_QUESTIONS)]:
        bench.steps(q, steps)
    report_steps(steps, full, floor)
    if args.profile > 0:
        stats, seconds, statements = await bench.profile(schedule(asked, args.profile))
        report_profile(stats, seconds, statements, args.profile)


def main() -> None:
    """Build, prepare, measure, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--questions", type=int, default=400, help="timed pairs")
    parser.add_argument("--today", type=date.fromisoformat, default=DEFAULT_TODAY)
    parser.add_argument("--url", default=None, help="PostgreSQL URL of a scratch database")
    parser.add_argument("--home", type=Path, default=None, help="keep (and reuse) the bank here")
    parser.add_argument("--profile", type=int, default=40, help="full questions under cProfile")
    args = parser.parse_args()
    if args.home is not None and args.url is not None:
        parser.error("--home keeps a SQLite bank; it does not go with --url")
    print(f"load before:       {_load()}")
    with demo_bank(args.home, args.url, args.today) as (store, index):
        print(f"engine:            {store.db.engine.dialect.name}")
        started = time.perf_counter()
        index.warm_up()
        print(f"vector cache:      loaded in {_ms(started):.0f} ms (as `serve` does at start-up)")
        asked, notes = prepare(store, args.today)
        kinds = Counter(q.kind for q in asked)
        print(
            f"questions:         {len(asked)} ({', '.join(f'{k} {v}' for k, v in kinds.items())}), "
            f"from {QUESTIONS_FILE.name} + {len(EXTRA_QUESTIONS)}"
        )
        for note, count in notes.items():
            print(f"                   {count} {note}")
        scopes = sorted(len(q.scope) for q in asked if q.kind == "open")
        if scopes:
            print(f"open scopes:       {scopes[0]}-{scopes[-1]} customers")
        now = datetime.combine(args.today, datetime.min.time(), store.settings.tz)
        bench = Bench(store, index, now + timedelta(hours=9, minutes=30))
        asyncio.run(measure(bench, asked, args))


if __name__ == "__main__":
    main()
