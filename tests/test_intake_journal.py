"""Serve on SQLite acknowledges a message once it is in the intake journal, a file serve alone
writes, and moves it into the inbox from a thread: another process's write (an answer
process's note) never holds an acknowledgement up. PostgreSQL has no journal."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot import inbox as inbox_module
from bot.dispatch import Dispatcher
from bot.inbox import Inbox, inbox_values
from bot.intake_journal import JOURNAL, IntakeJournal, journal_path
from bot.serve import open_journal
from crm_store.models import InboxMessage
from crm_store.store import Store
from handlers.contracts import IncomingMessage

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
# The journal belongs to SQLite; on PostgreSQL serve opens none (the path test below).
SQLITE_ONLY = pytest.mark.parametrize("engine_name", ["sqlite"])


def message(msg_id: str, text: str = "今天有什么安排") -> IncomingMessage:
    return IncomingMessage("wecom", "nobody", "nobody", "private", msg_id, text, NOW)


@pytest.fixture
def journal(store: Store) -> Iterator[IntakeJournal]:
    path = journal_path(store.settings.db_url)
    assert path is not None
    opened = IntakeJournal(path)
    yield opened
    opened.close()


def inbox_rows(store: Store) -> list[tuple[str, str, int]]:
    with store.db.read() as session:
        query = select(InboxMessage.msg_key, InboxMessage.status, InboxMessage.attempts)
        return [tuple(row) for row in session.execute(query.order_by(InboxMessage.id))]


def journal_count(journal: IntakeJournal) -> int:
    with journal.db.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(JOURNAL)) or 0)


async def settle(inbox: Inbox, store: Store, count: int, timeout: float = 10.0) -> None:
    """Until `count` inbox rows are answered (done)."""
    deadline = time.monotonic() + timeout
    while sum(status == "done" for _, status, _ in inbox_rows(store)) < count:
        assert time.monotonic() < deadline, inbox_rows(store)
        await asyncio.sleep(0.02)


def test_the_journal_sits_beside_a_sqlite_file_only() -> None:
    assert journal_path("sqlite:////srv/bank/bankbot.db") == Path("/srv/bank/bankbot.intake.db")
    assert journal_path("sqlite://") is None
    assert journal_path("sqlite:///:memory:") is None
    assert journal_path("postgresql+psycopg://bank@db/bankbot") is None


@SQLITE_ONLY
def test_the_journal_file_is_private(journal: IntakeJournal) -> None:
    assert journal.path.stat().st_mode & 0o777 == 0o600


@SQLITE_ONLY
def test_a_message_is_acknowledged_from_the_journal_then_moved_and_answered_once(
    store: Store, journal: IntakeJournal
) -> None:
    inbox = Inbox(store, Dispatcher(store, clock=lambda: NOW), {}, journal=journal)

    async def run() -> list[bool]:
        first = await inbox.intake(message("m1"))
        again = await inbox.intake(message("m1"))  # WeCom's retry, before the move
        await settle(inbox, store, 1)
        late = await inbox.intake(message("m1"))  # a retry after the move: the inbox drops it
        other = await inbox.intake(message("m2"))
        await settle(inbox, store, 2)
        return [first, again, late, other]

    try:
        assert asyncio.run(run()) == [True, False, True, True]
    finally:
        inbox.close()
    # One row each, answered once; what was moved left the journal (at the latest on close).
    assert inbox_rows(store) == [("m1", "done", 1), ("m2", "done", 1)]
    assert journal_count(journal) == 0


def _hold_database_lock(database: Path, seconds: float, holding: threading.Event) -> None:
    """Another process's writer (an answer process recording a note), as SQLite sees it."""
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    holding.set()
    time.sleep(seconds)
    other.execute("ROLLBACK")
    other.close()


@SQLITE_ONLY
def test_an_acknowledgement_never_waits_for_another_writer_of_the_database(
    store: Store, journal: IntakeJournal
) -> None:
    database = Path(str(make_url(store.settings.db_url).database))
    inbox = Inbox(store, Dispatcher(store, clock=lambda: NOW), {}, journal=journal)
    holding = threading.Event()
    holder = threading.Thread(target=_hold_database_lock, args=(database, 1.5, holding))
    holder.start()
    holding.wait()

    async def run() -> float:
        started = time.perf_counter()
        assert await inbox.intake(message("held"))
        acked = time.perf_counter() - started
        assert inbox_rows(store) == []  # not in the inbox yet: the lock is held
        await settle(inbox, store, 1)
        return acked

    try:
        acked = asyncio.run(run())
    finally:
        holder.join()
        inbox.close()
    assert acked < 0.75, f"the acknowledgement waited {acked:.2f} s for the database's lock"
    assert inbox_rows(store) == [("held", "done", 1)]


@SQLITE_ONLY
def test_a_failed_move_is_tried_again_and_loses_nothing(
    store: Store, journal: IntakeJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_module, "MOVE_RETRY_SECONDS", 0.05)
    failures = [ConnectionError("database unreachable")]
    move = journal.move_into

    def flaky(db: object, opener: object = None) -> list[int]:
        if failures:
            raise failures.pop()
        return move(db, opener)  # type: ignore[arg-type]

    monkeypatch.setattr(journal, "move_into", flaky)
    inbox = Inbox(store, Dispatcher(store, clock=lambda: NOW), {}, journal=journal)

    async def run() -> None:
        assert await inbox.intake(message("kept"))
        await settle(inbox, store, 1)

    try:
        asyncio.run(run())
    finally:
        inbox.close()
    assert failures == [] and inbox_rows(store) == [("kept", "done", 1)]


@SQLITE_ONLY
def test_a_restart_moves_what_a_crash_left_in_the_journal(
    store: Store, journal: IntakeJournal
) -> None:
    # Acknowledged, then the process died before its move: the rows wait in the journal.
    stored = journal.add([inbox_values(message(key)) for key in ("c1", "c2")])
    assert len(stored) == 2
    restarted = IntakeJournal(journal.path)
    inbox = Inbox(store, Dispatcher(store, clock=lambda: NOW), {}, journal=restarted)

    async def run() -> int:
        moved = await inbox.recover_journal()
        await inbox.drain()
        return moved

    try:
        assert asyncio.run(run()) == 2
    finally:
        inbox.close()
    assert inbox_rows(store) == [("c1", "done", 1), ("c2", "done", 1)]
    assert journal_count(journal) == 0


@SQLITE_ONLY
def test_an_unreadable_journal_stops_serve_with_one_clear_line(store: Store) -> None:
    path = journal_path(store.settings.db_url)
    assert path is not None
    path.write_bytes(b"not a database" * 300)
    with pytest.raises(RuntimeError, match=r"intake journal .* cannot be opened .*move it aside"):
        open_journal(store)
    assert path.read_bytes() == b"not a database" * 300  # left as it was, for the admin
