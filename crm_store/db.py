"""Engine and session factory; SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE` writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    """Let us issue BEGIN ourselves so read-then-write transactions can take the lock up front."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver must not emit its own BEGIN
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # FULL: every commit is on disk before it returns, as on PostgreSQL. An acknowledged
        # message, an audit row or a sent reminder's mark survives a power cut, not only a
        # crash of the process (NORMAL's promise in WAL mode). Costs ~0.17 ms per commit here.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        mode = options.get("sqlite_begin", "DEFERRED")
        if options.get(AT_ONCE):
            _begin_urgently(conn, mode, busy_timeout_ms, wait=False)
        elif options.get(URGENT):
            _begin_urgently(conn, mode, busy_timeout_ms)
        else:
            conn.exec_driver_sql(f"BEGIN {mode}")


URGENT = "bankbot_urgent"  # an execution option: take SQLite's write lock by polling it
AT_ONCE = "bankbot_at_once"  # an execution option: take SQLite's write lock now, or WriterBusy
URGENT_POLL_SECONDS = 0.0005


class WriterBusy(Exception):
    """SQLite's write lock is taken (by this process or another) and the caller won't wait."""


def _begin_urgently(
    conn: Connection, mode: str, busy_timeout_ms: int, *, wait: bool = True
) -> None:
    """BEGIN, trying again every half millisecond while another process holds the lock
    (`wait=False`: once, raising `WriterBusy` if it is held).

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... up to 100 ms between its tries, so a
    callback waiting behind an answer process's short write could wait 50-100 ms for a lock
    that was free after 3 (bench/bench_serve.py --answer-processes). Polling finely puts
    the acknowledgements ahead of the other processes' writers, which keep the busy handler."""
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    deadline = time.monotonic() + busy_timeout_ms / 1000
    try:
        while True:
            try:
                conn.exec_driver_sql(f"BEGIN {mode}")
                return
            except OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                if not wait:
                    raise WriterBusy from None
                if time.monotonic() > deadline:
                    raise
            time.sleep(URGENT_POLL_SECONDS)
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")


def make_engine(url: str, *, busy_timeout_ms: int = 30_000, echo: bool = False) -> Engine:
    """Create the engine for `url`, with the SQLite settings that make concurrent writers safe."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        )
        _sqlite_pragmas(engine, busy_timeout_ms)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


READ_ONLY = "bankbot_read_only"
# Whether the current task or thread is inside `Database.write()`: a long wait there (an LLM)
# would hold the write lock, which on SQLite every writer of the process queues on.
_writing: ContextVar[bool] = ContextVar("bankbot_writing", default=False)


def in_write_transaction() -> bool:
    """Whether the caller is inside a `Database.write()` block."""
    return _writing.get()


def end_reads(session: Session) -> None:
    """Before a long wait (an LLM), end a `read()` session's transaction so its pooled
    connection goes back to the pool; using the session again starts a new one. A write
    session is left alone: ending its transaction would lose its work."""
    if session.info.get(READ_ONLY):
        session.rollback()


class WriterQueue:
    """The process's SQLite writers, one at a time (re-entrant for one thread); an urgent
    writer (storing callbacks before they are acknowledged) goes before every waiting
    ordinary one, so a burst of answers' writes never stands between a callback and its 200."""

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._urgent_waiting = 0

    @contextmanager
    def hold(self, *, urgent: bool = False) -> Iterator[None]:
        """Hold the writers' turn for the block."""
        me = threading.get_ident()
        with self._turn:
            if self._owner == me:
                self._depth += 1
            else:
                self._wait_for_turn(urgent)
                self._owner, self._depth = me, 1
        try:
            yield
        finally:
            with self._turn:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._turn.notify_all()

    @contextmanager
    def hold_now(self) -> Iterator[None]:
        """Hold the writers' turn for the block if nobody holds it now, else `WriterBusy`."""
        with self._turn:
            if self._owner is not None:
                raise WriterBusy
            self._owner, self._depth = threading.get_ident(), 1
        try:
            yield
        finally:
            with self._turn:
                self._depth, self._owner = 0, None
                self._turn.notify_all()

    def _wait_for_turn(self, urgent: bool) -> None:
        """With the condition held: until nobody writes (and, for an ordinary writer, no
        urgent one waits)."""
        self._urgent_waiting += urgent
        try:
            while self._owner is not None or (not urgent and self._urgent_waiting):
                self._turn.wait()
        finally:
            self._urgent_waiting -= urgent


class Database:
    """Hands out sessions: `read()` for queries, `write()` for read-then-write transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        writer = engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else engine
        self._reader = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(writer, expire_on_commit=False)
        urgent = writer.execution_options(**{URGENT: True}) if self.is_sqlite else writer
        self._urgent_writer = sessionmaker(urgent, expire_on_commit=False)
        self._write_engine, self._urgent_engine = writer, urgent
        self._at_once_engine = writer.execution_options(**{AT_ONCE: True})
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._local_writers = WriterQueue() if self.is_sqlite else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; closed without commit, so it never writes. Objects read stay
        usable after the block (closing detaches them without expiring their values)."""
        with self._reader() as session:
            session.info[READ_ONLY] = True
            yield session

    @contextmanager
    def write(self, *, urgent: bool = False) -> Iterator[Session]:
        """A session whose transaction takes the write lock first and commits on success;
        `urgent`: ahead of the other writers of this process waiting for SQLite's lock."""
        # SQLite: writers of this process queue on a lock instead of racing for the file lock,
        # where a waiter sleeps up to 100 ms between tries and newer writers overtake it
        # (measured in bench/bench_serve.py: a single insert waited up to 2.6 s).
        if self._local_writers is None:  # PostgreSQL: row locks, no queue of our own
            with self._writer() as session, session.begin():
                yield from self._writing(session)
            return
        sessions = self._urgent_writer if urgent else self._writer
        with (
            self._local_writers.hold(urgent=urgent),
            sessions() as session,
            session.begin(),
        ):
            yield from self._writing(session)

    @contextmanager
    def one_statement(self, *, urgent: bool = False) -> Iterator[Connection]:
        """A connection for one statement that commits as it ends. PostgreSQL runs it in
        autocommit, atomic and durable on its own, in one round trip instead of BEGIN, the
        statement and COMMIT (on 2 busy cores each round trip waits for the server process to
        be scheduled). SQLite runs it in a write transaction as `write` does, on a bare
        connection (an ORM session around one statement cost a fifth of it)."""
        if self._local_writers is not None:
            engine = self._urgent_engine if urgent else self._write_engine
            with (
                self._local_writers.hold(urgent=urgent),
                engine.begin() as conn,
                self._writing_flag(),
            ):
                yield conn
            return
        with self._autocommit.connect() as conn:
            yield conn

    @contextmanager
    def one_statement_at_once(self) -> Iterator[Connection]:
        """SQLite: `one_statement(urgent=True)` if the write lock is free this instant, else
        `WriterBusy` without waiting, for a caller on an event loop that must not block on
        another writer. It still waits for its own commit: the callbacks stored there wait
        for that anyway, and handing one commit to a thread cost them more (the thread
        waits for the interpreter lock while the loop parses the next callbacks)."""
        if self._local_writers is None:
            raise WriterBusy  # PostgreSQL: a network round trip, never on the loop
        with (
            self._local_writers.hold_now(),
            self._at_once_engine.begin() as conn,
            self._writing_flag(),
        ):
            yield conn

    @staticmethod
    def _writing(session: Session) -> Iterator[Session]:
        with Database._writing_flag():
            yield session

    @staticmethod
    @contextmanager
    def _writing_flag() -> Iterator[None]:
        writing = _writing.set(True)
        try:
            yield
        finally:
            _writing.reset(writing)

    def analyze(self) -> None:
        """Refresh planner statistics after bulk changes; without them SQLite picks the
        segment index over the owner index and a "my VIP customers" list gets 3x slower."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
