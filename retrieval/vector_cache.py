"""An in-process copy of the index's vectors, for scoped searches without Chroma's `$in` filter.

A scoped search (a list of customer ids computed in SQL) ranks only that scope's notes. Chroma
answers it either with its `$in` metadata filter (tens of ms at 100k notes) or by handing back
the scope's stored vectors (~70 us each). With every vector already in memory, as a normalised
float32 matrix with the note and customer id of each row, the same exact cosine ranking costs
well under a millisecond; only the k winners' texts and metadata are then read from Chroma.

When the copy is right. It is loaded lazily, by paging through the collection, on the first
scoped search, and kept current by the writes of `NoteIndex.upsert` / `NoteIndex.delete` in this
process (every `NoteIndex` of the process shares one cache per collection, so a write through
any of them is seen by all). `NoteIndex.reset` (what `bankbot reindex` does first) drops it.
Writes that bypass `NoteIndex` (a raw `collection.add`, another process) are NOT seen: that is
why `NoteIndex` uses the cache only on the embedded index opened by `open_index`, whose folder
lock keeps every other bankbot process out. On a Chroma server other processes write at any
time and Chroma offers no cheap change counter to check against, so there every scoped search
still goes to Chroma.

Each write bumps a generation counter before and after it reaches Chroma; a load that saw the
counter move while paging starts again, so a load racing a write in another thread never keeps
a copy that misses that write.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

# (note ids, their vectors, their customer ids): one page of the collection.
Page = tuple[Sequence[str], Any, Sequence[str]]
LOAD_ATTEMPTS = 5


class VectorCache:
    """The vectors of one Chroma collection, as unit rows, with each row's note and customer."""

    def __init__(self, key: str) -> None:
        self.key = key  # the collection's id
        self._lock = threading.Lock()
        self._generation = 0
        self._loaded = False
        self._clear()

    def _clear(self) -> None:
        self._matrix: NDArray[np.float32] = np.empty((0, 0), dtype=np.float32)
        self._size = 0  # rows in use (live or dead) at the top of the matrix
        self._note_of: list[str | None] = []  # row -> note id (None: deleted row)
        self._customer_of: list[str] = []  # row -> customer id
        self._row_of: dict[str, int] = {}  # note id -> row
        self._rows_of: dict[str, set[int]] = {}  # customer id -> live rows

    @property
    def loaded(self) -> bool:
        """Whether the vectors are in memory."""
        return self._loaded

    def __len__(self) -> int:
        return len(self._row_of)

    @property
    def nbytes(self) -> int:
        """Bytes held by the vector matrix."""
        return int(self._matrix.nbytes)

    def changing(self) -> bool:
        """Call before and after a write reaches Chroma; whether the copy is loaded (then the
        writer must pass the change on with `put` / `remove`)."""
        with self._lock:
            self._generation += 1
            return self._loaded

    def ensure_loaded(self, pages: Callable[[], Iterable[Page]]) -> bool:
        """Load every page unless loaded; False if writes kept racing the load."""
        for _ in range(LOAD_ATTEMPTS):
            with self._lock:
                if self._loaded:
                    return True
                generation = self._generation
            fresh = VectorCache(self.key)
            for ids, vectors, customers in pages():
                fresh._put(ids, vectors, customers)
            with self._lock:
                if self._loaded:
                    return True
                if self._generation == generation:
                    self._matrix, self._size = fresh._matrix, fresh._size
                    self._note_of, self._customer_of = fresh._note_of, fresh._customer_of
                    self._row_of, self._rows_of = fresh._row_of, fresh._rows_of
                    self._loaded = True
                    return True
        return False

    def put(self, ids: Sequence[str], vectors: Any, customers: Sequence[str]) -> None:
        """Add or replace these notes' rows (ignored while not loaded)."""
        with self._lock:
            if self._loaded:
                self._put(ids, vectors, customers)

    def remove(self, ids: Iterable[str]) -> None:
        """Drop these notes' rows; unknown ids are ignored."""
        with self._lock:
            if not self._loaded:
                return
            for note_id in ids:
                row = self._row_of.pop(note_id, None)
                if row is None:
                    continue
                self._note_of[row] = None
                rows = self._rows_of[self._customer_of[row]]
                rows.discard(row)
                if not rows:
                    del self._rows_of[self._customer_of[row]]
            if self._size > 1024 and len(self._row_of) < self._size // 2:
                self._compact()

    def top_k(
        self, vector: NDArray[np.float32], scope: Iterable[str], k: int
    ) -> list[tuple[str, float]] | None:
        """The k (note id, cosine) closest to `vector` among the scope's customers' notes, best
        first, ties in row order; None if not loaded."""
        query = np.asarray(vector, dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        with self._lock:
            if not self._loaded:
                return None
            rows_of = self._rows_of
            found = [rows_of[c] for c in rows_of.keys() & scope]
            if not found or k <= 0:
                return []
            rows = np.fromiter(itertools.chain.from_iterable(found), dtype=np.intp)
            rows.sort()
            scores = self._matrix[rows] @ query
            picked = np.arange(len(rows))
            if len(rows) > k:
                picked = np.argpartition(-scores, k - 1)[:k]
            order = picked[np.lexsort((picked, -scores[picked]))]
            notes = self._note_of
            return [(str(notes[rows[i]]), float(scores[i])) for i in order]

    def release(self) -> None:
        """Free the memory; the next scoped search loads again."""
        with self._lock:
            self._generation += 1
            self._loaded = False
            self._clear()

    def _put(self, ids: Sequence[str], vectors: Any, customers: Sequence[str]) -> None:
        if not len(ids):
            return
        block = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        block = block / np.maximum(norms, 1e-12)
        if self._matrix.shape[1] != block.shape[1]:
            if self._size:
                raise ValueError("vectors of another dimension: the index needs a reindex")
            self._matrix = np.empty((0, block.shape[1]), dtype=np.float32)
        for note_id, customer, row_vector in zip(ids, customers, block, strict=True):
            row = self._row_of.get(note_id)
            if row is None:
                row = self._append_row()
                self._note_of.append(note_id)
                self._customer_of.append(customer)
                self._row_of[note_id] = row
            elif self._customer_of[row] != customer:
                old = self._rows_of[self._customer_of[row]]
                old.discard(row)
                if not old:
                    del self._rows_of[self._customer_of[row]]
                self._customer_of[row] = customer
            self._matrix[row] = row_vector
            self._rows_of.setdefault(customer, set()).add(row)

    def _append_row(self) -> int:
        if self._size == len(self._matrix):
            grown = np.empty((max(1024, 2 * self._size), self._matrix.shape[1]), np.float32)
            grown[: self._size] = self._matrix[: self._size]
            self._matrix = grown
        self._size += 1
        return self._size - 1

    def _compact(self) -> None:
        keep = [row for row in range(self._size) if self._note_of[row] is not None]
        matrix = self._matrix[keep]
        notes = [self._note_of[row] for row in keep]
        customers = [self._customer_of[row] for row in keep]
        self._clear()
        self._matrix = matrix
        self._size = len(keep)
        self._note_of, self._customer_of = list(notes), customers
        self._row_of = {str(n): row for row, n in enumerate(notes)}
        for row, customer in enumerate(customers):
            self._rows_of.setdefault(customer, set()).add(row)


_shared: weakref.WeakValueDictionary[str, VectorCache] = weakref.WeakValueDictionary()
_shared_guard = threading.Lock()


def shared_cache(key: str) -> VectorCache:
    """The process's cache of collection `key`, made empty (unloaded) if there is none yet."""
    with _shared_guard:
        cache = _shared.get(key)
        if cache is None:
            cache = VectorCache(key)
            _shared[key] = cache
        return cache


def existing_cache(key: str) -> VectorCache | None:
    """The process's cache of collection `key` if some index uses one."""
    with _shared_guard:
        return _shared.get(key)


def drop_cache(key: str) -> None:
    """Forget collection `key` (dropped or rebuilt): its cache is released."""
    with _shared_guard:
        cache = _shared.pop(key, None)
    if cache is not None:
        cache.release()


def pages_of(fetch: Callable[[int, int], dict[str, Any]], page: int) -> Iterator[Page]:
    """Pages from `fetch(limit, offset)` (a `collection.get` with embeddings and metadatas)."""
    offset = 0
    while True:
        got = fetch(page, offset)
        if not got["ids"]:
            return
        yield page_of(got)
        offset += len(got["ids"])


def page_of(got: dict[str, Any]) -> Page:
    """(ids, vectors, customer ids) of a `collection.get` with embeddings and metadatas."""
    ids = got["ids"]
    metas = got["metadatas"] or [{}] * len(ids)
    return ids, got["embeddings"], [str((m or {}).get("customer_id", "")) for m in metas]
