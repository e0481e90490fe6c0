"""Keeping the index in step with SQL: the outbox after commit, full rebuilds, drift checks."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from crm_store.index_outbox import (
    last_id,
    mark_processed,
    mark_processed_up_to,
    pending,
    pending_count,
)
from crm_store.store import Store
from retrieval.entries import META_KEYS, NoteEntry
from retrieval.index import WRITE_BATCH, NoteIndex
from retrieval.note_signals import classify_entries
from retrieval.progress import Progress
from retrieval.source import live_note_count, note_entries, note_pages

OUTBOX_BATCH = 500
PAGE_SIZE = 2_000  # notes read from SQL at a time by `check`


# One applier at a time in a process: answer threads that each wrote a note, and the index
# upkeep, otherwise all embedded the same pending notes at once (every thread the whole batch).
_APPLYING = threading.Lock()


def process_outbox(
    store: Store, index: NoteIndex, limit: int = OUTBOX_BATCH, *, now: datetime | None = None
) -> int:
    """Apply up to `limit` pending outbox rows to the index; the number of rows applied.

    Each note is read as it is *now*: live notes are (re)written with fresh metadata, notes
    undone or deleted are removed, whatever the queued action said. Rows are marked only
    after the index accepted the change, so a failure leaves them to be retried.
    """
    with _APPLYING:
        if store.db.engine.dialect.name == "postgresql":
            return _apply_claimed(store, index, limit, now)
        with store.db.read() as session:
            rows = pending(session, limit)
        if not rows:
            return 0
        _apply(store, index, rows, now)
        with store.db.write() as session:
            mark_processed(session, [row_id for row_id, _, _ in rows], now=now)
        return len(rows)


def _apply_claimed(store: Store, index: NoteIndex, limit: int, now: datetime | None) -> int:
    """PostgreSQL, where several processes share a Chroma server: the rows are locked while
    they are applied, and another process's applier skips them instead of doing them again."""
    with store.db.write() as session:
        rows = pending(session, limit, claim=True)
        if not rows:
            return 0
        _apply(store, index, rows, now)
        mark_processed(session, [row_id for row_id, _, _ in rows], now=now)
    return len(rows)


def _apply(
    store: Store, index: NoteIndex, rows: list[tuple[int, str, str]], now: datetime | None
) -> None:
    note_ids = list(dict.fromkeys(note_id for _, note_id, _ in rows))
    with store.db.read() as session:
        entries = note_entries(session, store.settings.tz, note_ids)
    live = {e.note_id for e in entries}
    index.upsert(entries)
    classify_entries(store, index, entries, now)
    index.delete([n for n in note_ids if n not in live])


def drain_outbox(
    store: Store, index: NoteIndex, *, batch: int = OUTBOX_BATCH, progress: bool = False
) -> int:
    """Apply every pending row; the number applied."""
    total = 0
    queued = 0
    if progress:
        with store.db.read() as session:
            queued = pending_count(session)
    with Progress("indexing queued notes", queued, enabled=progress) as shown:
        while done := process_outbox(store, index, batch):
            total += done
            shown.advance(done)
    return total


@dataclass(frozen=True)
class CatchUp:
    """What `catch_up` did: a full rebuild (notes indexed) or outbox rows applied."""

    rebuilt: bool
    count: int

    def describe(self) -> str:
        """One line for a person."""
        if self.rebuilt:
            return f"built the note index: {self.count} notes"
        return f"note index updated: {self.count} queued changes applied"


def catch_up(store: Store, index: NoteIndex, *, progress: bool = False) -> CatchUp:
    """Bring the index level with SQL: rebuild an empty index while SQL has notes (a new or
    deleted index folder), otherwise apply the queued outbox rows."""
    if index.count() == 0:
        with store.db.read() as session:
            notes = live_note_count(session)
        if notes:
            return CatchUp(True, reindex(store, index, progress=progress))
    return CatchUp(False, drain_outbox(store, index, progress=progress))


def reindex(store: Store, index: NoteIndex, progress: bool = True) -> int:
    """Drop the collection and rebuild it from SQL; the number of notes indexed.

    Outbox rows queued before the rebuild started are covered by it and marked processed;
    later ones stay pending for `process_outbox`.
    """
    with store.db.read() as session:
        covered = last_id(session)
        total = live_note_count(session)
    index.reset()
    done = 0
    with Progress("indexing notes", total, enabled=progress) as shown:
        for page in note_pages(store.db, store.settings.tz, WRITE_BATCH):
            index.upsert(page)
            classify_entries(store, index, page)
            done += len(page)
            shown.advance(len(page))
    with store.db.write() as session:
        mark_processed_up_to(session, covered)
    return done


@dataclass(frozen=True)
class Drift:
    """What differs between SQL and the index (note ids, sorted)."""

    missing: list[str] = field(default_factory=list)  # live in SQL, absent from the index
    extra: list[str] = field(default_factory=list)  # in the index, undone or gone in SQL
    stale: list[str] = field(default_factory=list)  # in both, other metadata or text

    @property
    def total(self) -> int:
        """How many notes are out of step."""
        return len(self.missing) + len(self.extra) + len(self.stale)


def _differs(entry: NoteEntry, meta: dict[str, object], document: str) -> bool:
    wanted = entry.metadata()
    return any(meta.get(key) != wanted[key] for key in META_KEYS) or document != entry.document()


def check(store: Store, index: NoteIndex, repair: bool = False) -> Drift:
    """Compare SQL with the index (ids, owner and scope metadata, text); repair if asked."""
    in_sql: dict[str, NoteEntry] = {}
    for page in note_pages(store.db, store.settings.tz, PAGE_SIZE):
        in_sql.update((e.note_id, e) for e in page)
    seen: set[str] = set()
    extra: list[str] = []
    stale: list[str] = []
    for note_id, meta, document in index.entries():
        seen.add(note_id)
        entry = in_sql.get(note_id)
        if entry is None:
            extra.append(note_id)
        elif _differs(entry, meta, document):
            stale.append(note_id)
    missing = sorted(set(in_sql) - seen)
    drift = Drift(missing, sorted(extra), sorted(stale))
    if repair and drift.total:
        index.upsert([in_sql[n] for n in (*drift.missing, *drift.stale)])
        index.delete(drift.extra)
    return drift
