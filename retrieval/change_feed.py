"""Keeping every process's vector cache current on a shared Chroma server.

On the embedded index one process holds the folder, so its own writes are every change
there is. On a Chroma server any process may write, and Chroma has no cheap change counter,
so each write is logged in SQL after Chroma took it (crm_store/index_changes.py). Every
process with a cache follows that log from the last id it applied: it re-reads those notes
from Chroma (vectors included, never re-embedded) and puts or removes them in its cache. A
logged rebuild makes it drop the cache and load the new collection.

When. The index upkeep timer follows every 2 s (bot/index_upkeep.py), and a scoped search
follows first when the last look is older than FRESH_SECONDS. So a note written through
process A is searchable from process B within FRESH_SECONDS of A logging it, and A logs it
within its upkeep interval of the import's commit plus the time to embed it.

Safety. The cache never decides who sees what: each search's scope is computed in SQL, and
every hit is checked again in SQL (retrieval/search.py). A stale cache can miss a fresh
note or rank an old text; it cannot widen access.

Ids. They are given in order but on PostgreSQL may commit out of order, so the follower
keeps the highest id below which it has seen everything, and re-reads above it; an id
still missing after GAP_SECONDS was rolled back and is skipped. Applying a change twice
is harmless: it re-reads the note as Chroma now holds it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Protocol

from crm_store.db import Database
from crm_store.index_changes import (
    changes_after,
    last_change_id,
    prune_changes,
    record_notes,
    record_rebuild,
)

FRESH_SECONDS = 1.0
GAP_SECONDS = 30.0
BATCH = 2_000


class Follower(Protocol):
    """The index side of following: what to do with the logged changes."""

    def refresh_cached(self, note_ids: Sequence[str]) -> None:
        """Re-read these notes from Chroma into the cache (absent ones are removed)."""

    def follow_rebuild(self) -> None:
        """The collection was rebuilt elsewhere: take the new one, drop the cache."""


class ChangeFeed:
    """Logs this process's index writes and applies everyone's to this process's cache."""

    def __init__(
        self, db: Database, *, fresh_for: float = FRESH_SECONDS, gap_wait: float = GAP_SECONDS
    ) -> None:
        self.db = db
        self.fresh_for = fresh_for
        self.gap_wait = gap_wait
        self.applied = 0  # changes applied since start (for tests and the log)
        self._lock = threading.Lock()
        self._upto: int | None = None  # every id <= this is in the cache; None: no cache yet
        self._seen: set[int] = set()  # ids above _upto already applied
        self._gap_since: float | None = None
        self._looked = 0.0

    # -- writers ---------------------------------------------------------------------

    def wrote(self, note_ids: Sequence[str]) -> None:
        """Log that Chroma took these notes' writes or removals."""
        with self.db.write() as session:
            record_notes(session, note_ids)

    def rebuilt(self) -> None:
        """Log that the collection was dropped and created anew."""
        with self.db.write() as session:
            record_rebuild(session)

    def prune(self) -> int:
        """Drop log rows older than a day."""
        with self.db.write() as session:
            return prune_changes(session)

    # -- followers -------------------------------------------------------------------

    def loading(self) -> None:
        """A cache load is about to page through Chroma: everything logged so far will be in
        it. With loads overlapping, the lowest mark wins (re-applying is harmless)."""
        with self.db.read() as session:
            last = last_change_id(session)
        with self._lock:
            self._upto = last if self._upto is None else min(self._upto, last)
            self._looked = time.monotonic()

    def follow(self, index: Follower, *, force: bool = False) -> int:
        """Apply what was logged since the last look; how many changes. A search calls it
        unforced (at most every `fresh_for` s); the upkeep timer forces it."""
        if not self._lock.acquire(blocking=False):
            return 0  # another thread is following right now: search what we have
        try:
            if self._upto is None:
                return 0
            if not force and time.monotonic() - self._looked < self.fresh_for:
                return 0
            self._looked = time.monotonic()
            return self._apply_all(index)
        finally:
            self._lock.release()

    def _apply_all(self, index: Follower) -> int:
        applied = 0
        while True:
            assert self._upto is not None
            with self.db.read() as session:
                rows = changes_after(session, self._upto, BATCH)
            fresh = [(i, n) for i, n in rows if i not in self._seen]
            if any(n is None for _, n in fresh):
                index.follow_rebuild()
            elif fresh:
                index.refresh_cached(list(dict.fromkeys(n for _, n in fresh if n)))
            self._seen.update(i for i, _ in fresh)
            applied += len(fresh)
            self._advance()
            if len(rows) < BATCH or not fresh:  # all read, or only ids above a gap left
                self.applied += applied
                return applied

    def _advance(self) -> None:
        assert self._upto is not None
        while self._upto + 1 in self._seen:
            self._upto += 1
            self._seen.discard(self._upto)
        if not self._seen:
            self._gap_since = None
            return
        now = time.monotonic()
        if self._gap_since is None:
            self._gap_since = now
        elif now - self._gap_since > self.gap_wait:  # given but never committed: skip it
            self._upto = min(self._seen) - 1
            self._gap_since = None
            self._advance()
