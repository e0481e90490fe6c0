"""SQLite: callbacks are acknowledged once committed to a journal file that serve alone writes,
then moved into the inbox by a thread of serve's.

On SQLite every writer of the database queues on one lock. With answer processes, their
writes (a claim, a note, the audit row, finishing) held it while acknowledgements waited:
under RM-paced load (bench/bench_serve.py --paced) the intake's p99 was 27-45 ms against a
floor of 7-10 ms, each of those writes holding the lock for 0.5 ms at p50 but 6-19 ms at p99,
whenever its process waited for a core. Serve is the only writer of the journal, so an
acknowledgement waits for nothing but its own commit (synchronous=FULL, as everywhere).

A WeCom callback is journalled still sealed: verified by its signature, not yet decrypted or
parsed (bot/wecom.py). The move opens it: the acknowledgement's CPU was mostly the
decryption and two XML parses, and in a burst every callback waits for those of the others
(bench/bench_ack_cpu.py). The message's text is thus never in this file in plain text.

Exactly once: the inbox's UNIQUE (channel, msg_key) drops a message the move brings twice
(a retried delivery of a message already moved, a move a crash interrupted). Rows are
deleted from the journal by its next write once the move committed them to the inbox, and
a start-up moves whatever a crash left. The journal holds only messages not yet moved, for
milliseconds: a backup of the database misses at most those.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData, Table, delete, inspect, select, text
from sqlalchemy.engine import make_url

from crm_store.db import Database, make_engine
from crm_store.models import InboxMessage
from crm_store.private_files import private_file
from crm_store.upsert import insert_new

INBOX: Table = InboxMessage.__table__  # type: ignore[assignment]


def _journal_table() -> Table:
    """The inbox's own columns and types (one row shape, one conversion) and its UNIQUE key;
    ids never reused (AUTOINCREMENT), as the move goes by the last id it moved and deleted
    rows would otherwise give their ids to new ones."""
    table = INBOX.to_metadata(MetaData(), name="intake_journal")
    table.indexes.clear()  # nothing looks rows up by status here
    # The inbox's `sealed` column comes along: a WeCom callback as it came, still encrypted
    # (bot/wecom.py), is opened here by the move.
    table.dialect_options["sqlite"]["autoincrement"] = True
    return table


JOURNAL = _journal_table()
KEY = ("channel", "msg_key")
MOVE_BATCH = 500
# A sealed row's inbox values once opened, or None when it holds nothing to answer.
Opener = Callable[[Mapping[str, Any]], dict[str, Any] | None]


def journal_path(db_url: str) -> Path | None:
    """Where the journal of a file SQLite database lives (beside it); None for PostgreSQL,
    whose row locks never make an insert wait for another transaction, and for a database
    in memory."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = Path(url.database)
    return database.with_name(f"{database.stem}.intake{database.suffix or '.db'}")


class IntakeJournal:
    """The acknowledged messages not yet in the inbox."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = private_file(path)  # private before SQLite opens it
        self.db = Database(make_engine(f"sqlite:///{path}", busy_timeout_ms=busy_timeout_ms))
        JOURNAL.metadata.create_all(self.db.engine)
        _add_sealed_column(self.db)
        self._moving = threading.Lock()  # one move at a time: the moved mark is shared
        self._moved = 0  # the highest journal id the inbox holds
        self._deleted = 0  # journal ids up to this are deleted
        self.more = False  # the last move took a full batch: more may wait

    @contextmanager
    def _writing(self, *, at_once: bool) -> Iterator[Connection]:
        """One write transaction; it first deletes the rows the inbox holds by now."""
        db = self.db
        with db.one_statement_at_once() if at_once else db.one_statement(urgent=True) as conn:
            moved = self._moved
            if moved > self._deleted:
                conn.execute(delete(JOURNAL).where(JOURNAL.c.id <= moved))
            yield conn
        self._deleted = max(self._deleted, moved)

    def add(
        self, rows: Sequence[Mapping[str, Any]], *, at_once: bool = False
    ) -> dict[tuple[str, str], int]:
        """Commit the rows (inbox values, no id); the journal id of each the journal did not
        hold, by key. `at_once`: now or `WriterBusy`, for a caller on the event loop."""
        with self._writing(at_once=at_once) as conn:
            added = insert_new(conn, JOURNAL, rows, key=KEY, returning=(*KEY, "id"))
        return {(channel, msg_key): int(row_id) for channel, msg_key, row_id in added}

    def move_into(self, inbox: Database, opener: Opener) -> list[int]:
        """Move the next rows into the inbox in one transaction, sealed ones as `opener` opens
        them (None: nothing to answer, or no way to open it here, which the opener logs); the
        inbox ids of those it did not hold yet (a duplicate is dropped there), oldest first."""
        with self._moving:
            with self.db.engine.connect() as conn:
                query = select(JOURNAL).where(JOURNAL.c.id > self._moved).order_by(JOURNAL.c.id)
                rows = conn.execute(query.limit(MOVE_BATCH)).mappings().all()
            if not rows:
                self.more = False
                return []
            opened = [_inbox_values(dict(row), opener) for row in rows]
            values = [v for v in opened if v is not None]
            added = []
            if values:
                with inbox.one_statement(urgent=True) as conn:
                    added = insert_new(conn, INBOX, values, key=KEY, returning=("id",))
            self._moved = max(self._moved, int(rows[-1]["id"]))
            self.more = len(rows) == MOVE_BATCH
            return sorted(int(inbox_id) for (inbox_id,) in added)

    def move_all(self, inbox: Database, opener: Opener) -> list[int]:
        """Move every row (at start-up: what a crash left), then delete them here."""
        ids = self.move_into(inbox, opener)
        while self.more:
            ids += self.move_into(inbox, opener)
        self._delete_moved()
        return ids

    def _delete_moved(self) -> None:
        """Delete the rows the inbox holds, without waiting for the next write."""
        with self._writing(at_once=False):
            pass

    def close(self) -> None:
        """Delete what the inbox holds by now (a clean stop leaves only rows not yet moved,
        which the next start moves) and close the journal's connections."""
        try:
            self._delete_moved()
        finally:
            self.db.dispose()


def _inbox_values(row: Mapping[str, Any], opener: Opener) -> dict[str, Any] | None:
    """The inbox row a journal row becomes (a sealed one as `opener` opens it)."""
    if row["sealed"] is not None:
        return opener(row)
    return {k: v for k, v in row.items() if k not in ("id", "sealed")}


def _add_sealed_column(db: Database) -> None:
    """A journal file from before sealed rows gets their column (its rows keep NULL)."""
    columns = {c["name"] for c in inspect(db.engine).get_columns(JOURNAL.name)}
    if "sealed" not in columns:
        with db.engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {JOURNAL.name} ADD COLUMN sealed TEXT"))
