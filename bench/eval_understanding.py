"""Understanding evaluation: phrasings the way RMs type them, through the real dispatcher.

    python -m bench.eval_understanding [--with-index] [--only ID_OR_TAG] [--show-failures]

Builds the demo bank as bench/eval_retrieval.py does (a temp BANKBOT_HOME, SQLite, a generated
key, seed 7) for a fixed today, 2026-12-07, and indexes its notes only with `--with-index`: a
question is judged by its event type, and without an index it still answers with its own event
(`question_unavailable`). Every case of bench/eval_understanding.jsonl is sent, turn by turn,
through `bot.dispatch.Dispatcher` and `bot.console.console_message` as its staff member at
2026-12-07 09:00 Asia/Shanghai, in a fresh conversation; only its last turn is judged.

A case line: {"id", "as": staff id, "turns": [...], "intent", "expect": {...}, "tags": [...]}.
Cases whose expected intent writes (note, remind, done, snooze, undo) run last, each in its own
copy of the seeded database; the others share one copy, with the conversation state cleared
before each case, and the copy is restored if a case wrote anyway (counted as a figure). Tags
"en" (English phrasing) and "lang_en" (Chinese phrasing, English replies) run a case with
BANKBOT_LANG=en; the others run in Chinese.

The intent a reply shows is read from its events (`intent_of`); the case passes when that is
the expected intent and every key of `expect` matches its event: for a list, `customer_ids` as
a set (a first page passes when `total` counts the rest), `total`, and the other keys against
the event's `filter`; elsewhere the event's own keys, and `<key>_include` for "at least these"
(a near miss may offer more than one close name). Every event of every turn is checked for
customers outside the asker's scope (`visible_customer_ids`), and every reply text for names
only such customers have (unless the asker typed them): both counts must be 0.

Prints figures only (accuracy per intent and tag, overall, on the negatives, the confusion
pairs with three examples each; `--show-failures` lists every failing case with the first line
of its reply); no assertions, exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bench.eval_retrieval import build_bank
from bot.console import console_message
from bot.dispatch import Dispatcher
from crm_store.permissions import load_actor, visible_customer_ids
from crm_store.settings import Settings
from crm_store.store import Store, open_store
from handlers.contracts import Event
from retrieval.search import Retriever

TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
Lang = Literal["zh", "en"]
TURN_GAP = timedelta(seconds=30)  # between the turns of one case
CASES_FILE = Path(__file__).with_name("eval_understanding.jsonl")
# The contract's intents, in the order `intent_of` reads events.
INTENTS = (
    "lookup", "field", "list", "note", "remind", "today", "done", "snooze", "undo", "help",
    "small_talk", "question", "clarify", "ask", "need_number", "not_found", "more",
)  # fmt: skip
SEEDED_FILES = ("bankbot.db", "data.key")
WRITING = frozenset({"note", "remind", "done", "snooze", "undo"})
EVENT_INTENT = {
    "note_recorded": "note",
    "followup_created": "remind",
    "agenda_shown": "today",
    "followup_done": "done",
    "reminder_acked": "done",
    "followup_snoozed": "snooze",
    "note_undone": "undo",
    "followup_undone": "undo",
    "help_shown": "help",
    "small_talk": "small_talk",
    "question_answered": "question",
    "question_unavailable": "question",
    "clarification_requested": "clarify",
    "intent_choice": "ask",
    "item_number_needed": "need_number",
    "not_found": "not_found",
}
# Tables a read-only case must leave as they were.
FINGERPRINT = (
    "select count(*), max(id) from interaction",
    "select count(*), group_concat(id || ':' || status || ':' || due_on) from followup",
    "select count(*), group_concat(id || ':' || status) from reminder",
)


@dataclass(frozen=True)
class Scopes:
    """Every customer id; per asker, the ids they may see and the names only others have."""

    known: frozenset[str]
    visible: dict[str, frozenset[str]]
    visible_names: dict[str, tuple[str, ...]]  # longest first
    hidden_names: dict[str, frozenset[str]]

    def names_leaked(self, staff: str, reply: str, typed: tuple[str, ...]) -> set[str]:
        """Names in `reply` that only customers hidden from `staff` have (not typed by them);
        visible customers' names are taken out first ("孙丽" is not in "孙丽华")."""
        for name in self.visible_names[staff]:
            reply = reply.replace(name, " ")
        hidden = self.hidden_names[staff]
        return {n for n in hidden if n in reply and not any(n in t for t in typed)}


class CaseError(ValueError):
    """A line of the case file that is not a valid case."""


@dataclass(frozen=True)
class Case:
    """One phrasing (or a few turns) and what its last turn must show."""

    id: str
    staff: str
    turns: tuple[str, ...]
    intent: str
    expect: dict[str, Any]
    tags: tuple[str, ...]


@dataclass
class Outcome:
    """What a case got, and why it failed when it did."""

    case: Case
    got: str
    problems: list[str]
    leaks: set[str]
    named: set[str] = field(default_factory=set)  # hidden customers' names in the reply text
    seconds: list[float] = field(default_factory=list)
    text: str = ""

    @property
    def passed(self) -> bool:
        """Right intent and every expected detail."""
        return self.got == self.case.intent and not self.problems


def load_cases(path: Path) -> list[Case]:
    """Every case of the file; CaseError names the first bad line."""
    cases: list[Case] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            case = Case(
                str(row["id"]),
                str(row["as"]),
                tuple(row["turns"]),
                str(row["intent"]),
                dict(row.get("expect") or {}),
                tuple(row.get("tags") or ()),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CaseError(f"{path.name} line {n}: {exc}") from exc
        if case.intent not in INTENTS or not case.turns or not all(case.turns):
            raise CaseError(f"{path.name} line {n}: bad intent or empty turn in {case.id}")
        cases.append(case)
    repeated = [cid for cid, k in Counter(c.id for c in cases).items() if k > 1]
    if repeated:
        raise CaseError(f"{path.name}: repeated case ids {repeated[:5]}")
    return cases


def _ids(event: Event | None) -> list[str]:
    return [str(c) for c in (event.data.get("customer_ids") or [])] if event else []


def _next_page(listed: Event, before: tuple[Event, ...]) -> bool:
    """A list right after a list with the same filter, showing other rows: its next page."""
    previous = next((e for e in before if e.type == "list_shown"), None)
    page = _ids(listed)
    if previous is None or not page or not _ids(previous) or page == _ids(previous):
        return False
    return bool(listed.data.get("filter") == previous.data.get("filter"))


def _intent(event: Event, before: tuple[Event, ...]) -> str | None:
    """The contract's intent one event stands for (None: not one of the contract's)."""
    if event.type == "customer_shown":
        return "field" if event.data.get("field") else "lookup"
    if event.type == "list_shown":
        return "more" if _next_page(event, before) else "list"
    return EVENT_INTENT.get(event.type)


def intent_of(events: tuple[Event, ...], before: tuple[Event, ...] = ()) -> str:
    """The intent a reply shows: of its events' intents, the first in the contract's order;
    `before` are the previous turn's events (a list's next page is "more")."""
    found = {_intent(e, before) for e in events}
    for name in INTENTS:
        if name in found:
            return name
    refused = next((e for e in events if e.type == "refused"), None)
    if refused is not None:
        return f"refused:{refused.data.get('reason')}"
    return ",".join(e.type for e in events) or "no_event"


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, bool) or expected is None:
        return bool(got) == bool(expected) if isinstance(expected, bool) else got is None
    if isinstance(expected, int | float):
        try:
            return float(got) == float(expected)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, list):
        found = got.split(",") if isinstance(got, str) else got
        return isinstance(found, list) and {str(x) for x in found} == {str(x) for x in expected}
    return str(got) == str(expected)


def _list_problems(expect: dict[str, Any], event: Event) -> list[str]:
    """Filter keys compared with the event's `filter`; customer ids as a set (a first page of
    a longer list passes when it is part of the expected set and `total` counts all)."""
    problems = []
    filters = event.data.get("filter") or {}
    if isinstance(filters, str):  # the churn list: "retention", its owner beside it
        filters = {"kind": filters, "owner": event.data.get("owner")}
    for key, value in expect.items():
        if key == "customer_ids":
            got, want = set(_ids(event)), {str(x) for x in value}
            page = got and got < want and event.data.get("total") == len(want)
            if got != want and not page:
                problems.append(f"customer_ids {sorted(got)} != {sorted(want)}")
        elif key == "total":
            if not _same(value, event.data.get("total")):
                problems.append(f"total {event.data.get('total')} != {value}")
        elif not _same(value, filters.get(key)):
            problems.append(f"filter.{key} {filters.get(key)!r} != {value!r}")
    return problems


def judge(case: Case, events: tuple[Event, ...], before: tuple[Event, ...]) -> Outcome:
    """The outcome of a case from the events of its last turn."""
    got = intent_of(events, before)
    problems: list[str] = []
    if got == case.intent and case.expect:
        if got in ("list", "more"):
            event = next(e for e in events if e.type == "list_shown")
            problems = _list_problems(case.expect, event)
        else:
            data: dict[str, Any] = {}
            for e in events:
                data = {**e.data, **data}
            for key, value in case.expect.items():
                if key.endswith("_include"):  # a near miss may offer other close names too
                    listed = data.get(key.removesuffix("_include")) or []
                    offered = {str(x) for x in listed}
                    if not offered >= {str(x) for x in value}:
                        problems.append(f"{key} {sorted(offered)} lack {value}")
                elif not _same(value, data.get(key)):
                    problems.append(f"{key} {data.get(key)!r} != {value!r}")
    return Outcome(case, got, problems, set())


def customer_ids_in(value: Any, known: frozenset[str]) -> Iterator[str]:
    """Every known customer id anywhere in an event's data."""
    if isinstance(value, dict):
        for item in value.values():
            yield from customer_ids_in(item, known)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from customer_ids_in(item, known)
    elif isinstance(value, str) and value in known:
        yield value


class Bank:
    """The seeded demo database, its copies, and a dispatcher on each."""

    def __init__(self, root: Path, retriever: Retriever | None) -> None:
        self.root = root
        self.pristine = root / "seeded"
        self.retriever = retriever
        self.clock = NOW
        self.shared: dict[Lang, tuple[Store, Dispatcher]] = {}

    def open(self, home: Path, lang: Lang) -> tuple[Store, Dispatcher]:
        """A store on `home` and a dispatcher at NOW (advanced per turn by the runner)."""
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, BANKBOT_HOME=home, DATABASE_URL="", BANKBOT_LANG=lang
        )
        store = open_store(settings)
        return store, Dispatcher(store, clock=lambda: self.clock, retriever=self.retriever)

    def copy(self, name: str) -> Path:
        """A fresh copy of the seeded database and its key (not the note index)."""
        home = self.root / name
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        for file in SEEDED_FILES:
            shutil.copy2(self.pristine / file, home / file)
        return home

    def shared_dispatcher(self, lang: Lang) -> Dispatcher:
        """The dispatcher on the shared copy, its conversation state cleared."""
        if lang not in self.shared:
            if not self.shared:
                self.copy("shared")
            self.shared[lang] = self.open(self.root / "shared", lang)
        store, dispatcher = self.shared[lang]
        with store.db.write() as session:
            session.execute(text("delete from conversation_state"))
        return dispatcher

    def fingerprint(self) -> list[Any]:
        """What a read-only case must not change in the shared copy."""
        store, _ = next(iter(self.shared.values()))
        with store.db.read() as session:
            return [tuple(session.execute(text(q)).one()) for q in FINGERPRINT]

    def restore_shared(self) -> None:
        """Put the seeded database back under the shared stores."""
        for store, _ in self.shared.values():
            store.close()
        langs = list(self.shared)
        self.shared.clear()
        self.copy("shared")
        for lang in langs:
            self.shared[lang] = self.open(self.root / "shared", lang)

    def close(self) -> None:
        """Release every store."""
        for store, _ in self.shared.values():
            store.close()


def run_case(bank: Bank, dispatcher: Dispatcher, case: Case, scopes: Scopes) -> Outcome:
    """Every turn of the case; the last one judged, every one checked for leaks: ids in events,
    and names in the text that only hidden customers have (unless the asker typed them)."""
    visible = scopes.visible[case.staff]
    before: tuple[Event, ...] = ()
    events: tuple[Event, ...] = ()
    leaks: set[str] = set()
    named: set[str] = set()
    seconds: list[float] = []
    reply_text = ""
    for n, turn in enumerate(case.turns):
        bank.clock = NOW + n * TURN_GAP
        before = events
        start = time.perf_counter()
        reply = asyncio.run(dispatcher.handle(console_message(case.staff, turn, bank.clock)))
        seconds.append(time.perf_counter() - start)
        events, reply_text = reply.events, reply.text
        for event in events:
            leaks.update(c for c in customer_ids_in(event.data, scopes.known) if c not in visible)
        named.update(scopes.names_leaked(case.staff, reply.text, case.turns))
    outcome = judge(case, events, before)
    outcome.leaks, outcome.named, outcome.seconds, outcome.text = leaks, named, seconds, reply_text
    return outcome


def run_all(bank: Bank, cases: list[Case], scopes: Scopes) -> tuple[list[Outcome], int]:
    """Read-only cases on the shared copy first, then each writing case in its own copy;
    (outcomes, read-only cases that wrote anyway)."""
    outcomes: list[Outcome] = []
    wrote = 0
    for case in sorted(cases, key=lambda c: c.intent in WRITING):
        lang: Lang = "en" if {"en", "lang_en"} & set(case.tags) else "zh"
        if case.intent in WRITING:
            store, dispatcher = bank.open(bank.copy("case"), lang)
            try:
                outcomes.append(run_case(bank, dispatcher, case, scopes))
            finally:
                store.close()
            continue
        dispatcher = bank.shared_dispatcher(lang)
        mark = bank.fingerprint()
        outcomes.append(run_case(bank, dispatcher, case, scopes))
        if bank.fingerprint() != mark:
            wrote += 1
            bank.restore_shared()
    return outcomes, wrote


def stale_cases(cases: list[Case], scopes: Scopes) -> list[str]:
    """Cases expecting a customer their asker cannot see: the demo data changed under them."""
    stale = []
    for case in cases:
        wanted = {str(case.expect["customer_id"])} if "customer_id" in case.expect else set()
        for key in ("customer_ids", "candidates", "candidates_include"):
            wanted.update(str(c) for c in case.expect.get(key, []))
        if wanted - scopes.visible[case.staff]:
            stale.append(case.id)
    return stale


def _ratio(outcomes: list[Outcome]) -> str:
    ok = sum(o.passed for o in outcomes)
    return f"{ok / len(outcomes):.3f} ({ok}/{len(outcomes)})" if outcomes else "- (0/0)"


def _example(o: Outcome, replied: bool = False) -> str:
    said = " / ".join(o.case.turns)
    why = f"  [{'; '.join(o.problems)}]" if o.problems else ""
    answer = o.text.strip().split("\n", 1)[0][:60] if replied else ""
    return f"      {o.case.id} {o.case.staff}: {said}{why}" + (f"  => {answer}" if answer else "")


def report(outcomes: list[Outcome], wrote: int, show_failures: bool) -> None:
    """Accuracy per intent, per tag, overall and on the negatives; confusion pairs; leaks."""
    by_intent: dict[str, list[Outcome]] = defaultdict(list)
    by_tag: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_intent[o.case.intent].append(o)
        for tag in o.case.tags:
            by_tag[tag].append(o)
    print(f"cases: {len(outcomes)}")
    print("accuracy per intent:")
    for name in INTENTS:
        print(f"  {name:<12} {_ratio(by_intent.get(name, []))}")
    print("accuracy per tag:")
    for tag in sorted(by_tag):
        print(f"  {tag:<12} {_ratio(by_tag[tag])}")
    print(f"overall {_ratio(outcomes)}")
    print(f"negative cases {_ratio(by_tag.get('negative', []))}")
    pairs: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if not o.passed:
            got = o.got if o.got != o.case.intent else f"{o.got} (wrong details)"
            pairs[(o.case.intent, got)].append(o)
    print("confusion pairs (expected -> got):")
    for (expected, got), found in sorted(pairs.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"  {expected} -> {got}: {len(found)}")
        for o in found if show_failures else found[:3]:
            print(_example(o, replied=show_failures))
    leaked = [o for o in outcomes if o.leaks]
    print(
        f"customers outside the asker's scope in events: {sum(len(o.leaks) for o in leaked)}"
        f" (in {len(leaked)} cases)"
    )
    for o in leaked[:10]:
        print(f"{_example(o)}  leaked {sorted(o.leaks)}")
    named = [o for o in outcomes if o.named]
    print(f"names only hidden customers have, in reply texts: {len(named)} cases")
    for o in named[:10]:
        print(f"{_example(o)}  named {sorted(o.named)}")
    print(f"read-only cases that wrote to the database: {wrote}")
    times = [s * 1000 for o in outcomes for s in o.seconds]
    if times:
        print(
            f"time per message: p50 {statistics.median(times):.0f} ms, "
            f"max {max(times):.0f} ms (machine shared with other work)"
        )


def scopes_of(store: Store, staff_ids: set[str]) -> Scopes:
    """Who may see what on TODAY, for each asker of the cases."""
    with store.db.read() as session:
        names = {str(i): str(n) for i, n in session.execute(text("select id, name from customer"))}
        visible = {
            sid: frozenset(visible_customer_ids(session, load_actor(session, sid), TODAY))
            for sid in staff_ids
        }
    seen = {sid: {names[c] for c in ids} for sid, ids in visible.items()}
    return Scopes(
        frozenset(names),
        visible,
        {sid: tuple(sorted(found, key=len, reverse=True)) for sid, found in seen.items()},
        {sid: frozenset(set(names.values()) - found) for sid, found in seen.items()},
    )


def _index(store: Store) -> Retriever:
    """The notes indexed in an embedded Chroma (imported here: a run without one needs none)."""
    from retrieval.config import IndexSettings
    from retrieval.connect import open_index
    from retrieval.embeddings import E5Embeddings
    from retrieval.sync import reindex

    config = IndexSettings(  # type: ignore[call-arg]
        _env_file=None, CHROMA_URL="", EMBEDDINGS_BASE_URL="", EMBEDDINGS_MODEL=""
    )
    index = open_index(store.settings, config=config, embeddings=E5Embeddings())
    start = time.perf_counter()
    indexed = reindex(store, index, progress=False)
    print(f"indexed {indexed} notes in {time.perf_counter() - start:.1f} s", flush=True)
    return Retriever(index, None)


def main() -> None:
    """Build the bank, run every case, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=Path, default=CASES_FILE)
    parser.add_argument("--with-index", action="store_true", help="index the notes first")
    parser.add_argument("--only", help="only the cases with this id prefix or tag")
    parser.add_argument("--show-failures", action="store_true", help="every failing case")
    args = parser.parse_args()
    try:
        cases = load_cases(args.cases)
    except (CaseError, OSError) as exc:
        print(f"error: {exc}")
        sys.exit(1)
    if args.only:
        cases = [c for c in cases if c.id.startswith(args.only) or args.only in c.tags]
    with tempfile.TemporaryDirectory(prefix="bankbot-eval-") as tmp:
        root = Path(tmp)
        store, _ = build_bank(root / "seeded", TODAY)
        retriever = _index(store) if args.with_index else None
        scopes = scopes_of(store, {c.staff for c in cases})
        stale = stale_cases(cases, scopes)
        if stale:
            print(f"warning: {len(stale)} cases expect customers their asker cannot see (the")
            print(f"  demo data changed?): {', '.join(stale[:10])}")
        store.close()
        bank = Bank(root, retriever)
        try:
            start = time.perf_counter()
            outcomes, wrote = run_all(bank, cases, scopes)
            print(
                f"ran {len(cases)} cases in {time.perf_counter() - start:.0f} s"
                f" ({'with' if retriever else 'without'} a note index)"
            )
        finally:
            bank.close()
            if retriever is not None:
                retriever.close()
        report(outcomes, wrote, args.show_failures)


if __name__ == "__main__":
    main()
