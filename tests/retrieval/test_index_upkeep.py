"""The note index stays current: catch-up, serve's timer, progress lines, requests to the holder."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path

from bot import index_requests
from bot.index_upkeep import IndexUpkeep
from crm_store.index_outbox import enqueue, pending_count
from crm_store.store import Store
from retrieval.index import NoteIndex
from retrieval.progress import Progress
from retrieval.sync import catch_up
from tests.retrieval.conftest import NOTES, record_notes


def wait_for(condition: Callable[[], bool], what: str, limit: float = 120.0) -> None:
    """Poll until `condition` holds; fail (not a timing assertion: a generous bound) if never."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def queued(store: Store) -> int:
    with store.db.read() as session:  # a new read each time: a snapshot would never change
        return pending_count(session)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_off_a_terminal_prints_count_rate_and_eta_every_few_seconds() -> None:
    out, clock = io.StringIO(), FakeClock()
    with Progress("indexing notes", 1000, stream=out, clock=clock, every=5.0) as shown:
        clock.now += 1
        shown.advance(100)  # too soon for a line
        assert out.getvalue() == ""
        clock.now += 4
        shown.advance(100)  # 200 in 5 s: 40/s, 800 left
        clock.now += 5
        shown.advance(300)
        clock.now += 2
        shown.advance(500)
    lines = out.getvalue().splitlines()
    assert lines == [
        "indexing notes: 200/1,000 (20%), 40/s, about 20 s left",
        "indexing notes: 500/1,000 (50%), 50/s, about 10 s left",
        "indexing notes: 1,000 done in 12 s (83/s)",
    ]


def test_progress_is_silent_for_short_work_and_when_disabled() -> None:
    out, clock = io.StringIO(), FakeClock()
    with Progress("indexing notes", 10, stream=out, clock=clock) as shown:
        shown.advance(10)
    with Progress("indexing notes", 10, stream=out, clock=clock, enabled=False) as shown:
        clock.now += 60
        shown.advance(10)
    assert out.getvalue() == ""


def test_catch_up_builds_an_empty_index_then_applies_only_the_queue(
    store: Store, index: NoteIndex
) -> None:
    note_ids = record_notes(store)
    built = catch_up(store, index)
    assert (built.rebuilt, built.count, index.count()) == (True, len(NOTES), len(NOTES))
    with store.db.read() as session:
        assert pending_count(session) == 0  # the rebuild covered every queued row
    with store.db.write() as session:
        enqueue(session, note_ids[0], "delete")  # the note is live: it is rewritten, not lost
    again = catch_up(store, index)
    assert (again.rebuilt, again.count, index.count()) == (False, 1, len(NOTES))
    assert built.describe() == "built the note index: 7 notes"


def test_the_timer_applies_rows_queued_elsewhere_without_any_message(
    store: Store, index: NoteIndex
) -> None:
    upkeep = IndexUpkeep(store, index, every=0.05)
    upkeep.start()
    try:
        record_notes(store)  # as an import in another process would: SQL and the outbox only
        wait_for(lambda: index.count() == len(NOTES), "the queued notes reached the index")
        wait_for(lambda: queued(store) == 0, "the outbox was marked applied")
    finally:
        upkeep.stop()


def test_requests_are_answered_by_the_holder(
    store: Store, index: NoteIndex, tmp_path: Path
) -> None:
    record_notes(store)
    catch_up(store, index)
    upkeep = IndexUpkeep(store, index, requests=tmp_path, every=0.05)
    index_requests.announce(tmp_path)  # what `start()` does
    asked = index_requests.submit(tmp_path, "check")
    assert upkeep.answer_requests() == 1
    answer = index_requests.wait(tmp_path, asked, holder=os.getpid(), sleep=no_sleep)
    assert answer is not None and answer.code == 0
    assert answer.lines[-1] == f"index matches SQL ({len(NOTES)} notes)"
    rebuilt = index_requests.submit(tmp_path, "reindex")
    assert upkeep.answer_requests() == 1
    answer = index_requests.wait(tmp_path, rebuilt, holder=os.getpid(), sleep=no_sleep)
    assert answer is not None and answer.lines[0].startswith(f"indexed {len(NOTES)} notes")


def no_sleep(_: float) -> None:
    """Answers are written before `wait` is called in these tests."""


def test_a_request_nobody_takes_is_withdrawn(tmp_path: Path) -> None:
    # The holder is a process that answers no requests (a `bankbot chat`), or has gone.
    asked = index_requests.submit(tmp_path, "reindex")
    assert index_requests.wait(tmp_path, asked, holder=os.getpid(), sleep=no_sleep) is None
    assert list((tmp_path / index_requests.FOLDER).iterdir()) == []
    index_requests.announce(tmp_path)
    asked = index_requests.submit(tmp_path, "check")
    assert index_requests.wait(tmp_path, asked, holder=None, sleep=no_sleep) is None
    assert index_requests.serve_requests(tmp_path, lambda _: index_requests.Answer([], 0)) == 0
