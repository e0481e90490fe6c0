"""SQLite writers of one process take turns; storing callbacks goes before answers' writes."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from crm_store.db import Database, WriterBusy, WriterQueue, make_engine


def test_an_urgent_writer_goes_before_ordinary_writers_already_waiting() -> None:
    queue, order = WriterQueue(), []
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with queue.hold():
            holding.set()
            release.wait(5)

    def writer(name: str, urgent: bool) -> None:
        with queue.hold(urgent=urgent):
            order.append(name)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    holding.wait(5)
    for name, urgent in [("answer-1", False), ("answer-2", False), ("callbacks", True)]:
        thread = threading.Thread(target=writer, args=(name, urgent))
        thread.start()
        threads.append(thread)
        time.sleep(0.05)  # each is waiting before the next comes
    release.set()
    for thread in threads:
        thread.join(5)
    assert order[0] == "callbacks"
    assert sorted(order[1:]) == ["answer-1", "answer-2"]


def test_a_thread_holding_the_turn_may_take_it_again() -> None:
    queue = WriterQueue()
    with queue.hold(), queue.hold(urgent=True), queue.hold():
        pass
    done = threading.Event()

    def other() -> None:
        with queue.hold():
            done.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(5)
    assert done.is_set()  # released fully after the nested holds


def _other_process_holds_the_lock(path: Path, seconds: float, holding: threading.Event) -> None:
    """Another process's writer, as far as SQLite can tell: its own connection to the file."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    holding.set()
    time.sleep(seconds)
    other.execute("COMMIT")
    other.close()


def _database(path: Path, busy_timeout_ms: int) -> Database:
    database = Database(make_engine(f"sqlite:///{path}", busy_timeout_ms=busy_timeout_ms))
    with database.write() as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
    return database


def _urgent_write_while_locked(path: Path, database: Database, seconds: float) -> None:
    """An urgent write while another connection holds the write lock for `seconds`."""
    holding = threading.Event()
    other = threading.Thread(target=_other_process_holds_the_lock, args=(path, seconds, holding))
    other.start()
    holding.wait(5)
    try:
        with database.write(urgent=True) as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        other.join(5)


def test_an_urgent_writer_waits_for_another_connections_lock_then_writes(tmp_path: Path) -> None:
    database = _database(tmp_path / "db.sqlite", busy_timeout_ms=10_000)
    _urgent_write_while_locked(tmp_path / "db.sqlite", database, 0.3)
    with database.read() as session:
        assert sorted(session.scalars(text("SELECT n FROM t"))) == [1, 2]
        # the connection's own busy timeout is back for its next, ordinary, use
        assert session.scalar(text("PRAGMA busy_timeout")) == 10_000
    database.dispose()


def test_an_urgent_writer_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    database = _database(tmp_path / "db.sqlite", busy_timeout_ms=200)
    with pytest.raises(OperationalError, match="locked"):
        _urgent_write_while_locked(tmp_path / "db.sqlite", database, 1.5)
    with database.read() as session:
        assert list(session.scalars(text("SELECT n FROM t"))) == [1]
    database.dispose()


def test_a_write_at_once_refuses_at_once_while_another_connection_holds_the_lock(
    tmp_path: Path,
) -> None:
    database = _database(tmp_path / "db.sqlite", busy_timeout_ms=10_000)
    holding = threading.Event()
    args = (tmp_path / "db.sqlite", 0.5, holding)
    other = threading.Thread(target=_other_process_holds_the_lock, args=args)
    other.start()
    holding.wait(5)
    started = time.monotonic()
    with pytest.raises(WriterBusy), database.one_statement_at_once() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert time.monotonic() - started < 0.2  # no busy handler, no polling
    other.join(5)
    with database.one_statement_at_once() as conn:  # free now: it writes
        conn.execute(text("INSERT INTO t VALUES (3)"))
    with database.read() as session:
        assert sorted(session.scalars(text("SELECT n FROM t"))) == [1, 3]
        assert session.scalar(text("PRAGMA busy_timeout")) == 10_000
    database.dispose()


def test_a_write_at_once_refuses_while_a_writer_of_this_process_has_its_turn(
    tmp_path: Path,
) -> None:
    database = _database(tmp_path / "db.sqlite", busy_timeout_ms=10_000)
    holding, release = threading.Event(), threading.Event()

    def answer_writes() -> None:
        with database.write() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            release.wait(5)

    other = threading.Thread(target=answer_writes)
    other.start()
    holding.wait(5)
    with pytest.raises(WriterBusy), database.one_statement_at_once() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    release.set()
    other.join(5)
    with database.read() as session:
        assert list(session.scalars(text("SELECT n FROM t"))) == [1]
    database.dispose()
