"""An in-process copy of the index's vectors, for scoped searches without Chroma's `$in` filter.

A scoped search (a list of customer ids computed in SQL) ranks only that scope's notes. Chroma
answers it either with its `$in` metadata filter (tens of ms at 100k notes) or by handing back
the scope's stored vectors (~70 us each). With every vector already in memory, as a normalised
float32 matrix with the note, customer, date and stored (masked) text of each row, the same
exact cosine ranking costs a few milliseconds even for a branch head's scope, and Chroma is
not asked at all.

When the copy is right. It is loaded lazily, by paging through the collection, on the first
scoped search, and kept current by the writes of `NoteIndex.upsert` / `NoteIndex.delete` in this
process (every `NoteIndex` of the process shares one cache per collection, so a write through
any of them is seen by all). `NoteIndex.reset` (what `bankbot reindex` does first) drops it.
Writes that bypass `NoteIndex` (a raw `collection.add`, another process) are NOT seen: that is
why `NoteIndex` uses the cache only on the embedded index opened by `open_index`, whose folder
lock keeps every other bankbot process out. On a Chroma server other processes write at any
time and Chroma offers no cheap change counter to check against, so there every scoped search
still goes to Chroma.

Precision. Each vector is kept as float32 (1.5 KB a note) or, with `half=True`, as bfloat16
(the top 16 bits of the float32, rounded: 768 B a note; cosines change by at most ~4e-4).
Ranking widens bfloat16 back to float32 block by block, about 4x the time of float32 ranking
(bench/bench_cache_memory.py). At 1M notes float32 needs more than 2 GB per process, bfloat16
about half of it; `NoteIndex` picks bfloat16 above HALF_ABOVE_NOTES unless told otherwise.

Each write bumps a generation counter before and after it reaches Chroma; a load that saw the
counter move while paging starts again, so a load racing a write in another thread never keeps
a copy that misses that write.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# (note ids, their vectors, their Chroma metadatas, their stored documents): one page.
Page = tuple[Sequence[str], Any, Sequence[Any], Sequence[str]]
LOAD_ATTEMPTS = 5
# Scopes whose rows fall into at most this many contiguous runs are ranked slice by slice
# (no copy); more scattered scopes gather their rows first (measured at 100k x 384 on 2 cores:
# one 12.5k-row slice 0.4 ms, the same rows gathered from all over the matrix 1.8 ms).
MAX_SLICES = 64
# Rows written since the last regroup sit unsorted in a tail; a tail longer than
# max(MIN_REGROUP, rows / MAX_TAIL_SHARE), or more dead rows than max(MIN_REGROUP, rows / 2),
# triggers a regroup (a sort of the live rows: ~50 ms at 100k notes).
MIN_REGROUP = 1024
MAX_TAIL_SHARE = 8
PERMUTE_BYTES = 64 * 2**20  # scratch for a regroup, whatever the cache's size
WIDEN_ROWS = 1024  # bfloat16 rows widened at a time: small enough to stay in the CPU cache


@dataclass(frozen=True)
class CachedHit:
    """One ranked note, read from the cache alone."""

    note_id: str
    customer_id: str
    score: float
    document: str
    occurred_on: int


def _hierarchy(meta: Any) -> tuple[str, str, str, str]:
    """Where a note's customer sits: branch, team, owner, customer (the regroup order)."""
    m = meta or {}
    keys = ("branch_id", "team_id", "owner_staff_id", "customer_id")
    return tuple(str(m.get(k, "")) for k in keys)  # type: ignore[return-value]


class VectorCache:
    """The vectors of one Chroma collection, as unit rows, with each row's note and customer.

    Rows are kept grouped by customer, and customers in the order of the permission hierarchy
    (branch, team, owner), so the scope of an RM, a team lead or a branch head is one or a few
    contiguous slices of the matrix, ranked without copying. Rows written since the last
    regroup sit unsorted in a tail after the grouped rows. Bookkeeping is in arrays, not
    per-customer Python objects, which keeps both the scope mapping and the collector cheap.
    """

    def __init__(self, key: str, *, half: bool = False) -> None:
        self.key = key  # the collection's id
        self.half = half  # vectors stored as bfloat16 (uint16) instead of float32
        self._lock = threading.Lock()
        self._generation = 0
        self._loaded = False
        self.loading: int | None = None  # notes read so far while a load runs
        self._clear()

    def _clear(self) -> None:
        self._matrix: NDArray[Any] = np.empty((0, 0), dtype=self._dtype)
        self._size = 0  # rows in use (live or dead) at the top of the matrix
        self._grouped = 0  # rows [0, _grouped) are grouped by customer code
        self._note_of: list[str | None] = []  # row -> note id (None: deleted row)
        self._document_of: list[str] = []  # row -> stored (masked) text
        self._row_of: dict[str, int] = {}  # note id -> row
        self._code_of: dict[str, int] = {}  # customer id -> small integer code
        self._customers: list[str] = []  # code -> customer id
        self._sorted_ids: NDArray[np.str_] = np.empty(0, dtype=str)  # for `_codes`
        self._sorted_codes: NDArray[np.intp] = np.empty(0, dtype=np.intp)
        self._sorted_upto = 0  # customers [0, _sorted_upto) are in the sorted index
        self._row_code: NDArray[np.int32] = np.empty(0, dtype=np.int32)  # row -> code, -1 dead
        self._occurred: NDArray[np.int32] = np.empty(0, dtype=np.int32)  # row -> YYYYMMDD
        self._start: NDArray[np.intp] = np.empty(0, dtype=np.intp)  # code -> first grouped row
        self._end: NDArray[np.intp] = np.empty(0, dtype=np.intp)  # code -> past its last

    @property
    def _dtype(self) -> type[np.generic]:
        return np.uint16 if self.half else np.float32

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
        """Load every page unless loaded; False if writes kept racing the load, or while
        another thread is loading (that search goes to Chroma instead of waiting)."""
        with self._lock:
            if self._loaded:
                return True
            if self.loading is not None:
                return False
            self.loading = 0
        try:
            return self._load(pages)
        finally:
            with self._lock:
                self.loading = None

    def _load(self, pages: Callable[[], Iterable[Page]]) -> bool:
        for _ in range(LOAD_ATTEMPTS):
            with self._lock:
                if self._loaded:
                    return True
                generation = self._generation
                self.loading = 0
            fresh = VectorCache(self.key, half=self.half)
            places: dict[str, tuple[str, str, str, str]] = {}
            for ids, vectors, metas, documents in pages():
                fresh._put(ids, vectors, metas, documents)
                places.update((p[3], p) for p in map(_hierarchy, metas))
                self.loading = len(fresh._row_of)  # for /healthz while it loads
            fresh._recode(sorted(places.values()))
            with self._lock:
                if self._loaded:
                    return True
                if self._generation == generation:
                    self.__dict__.update(_state(fresh))
                    self._loaded = True
                    return True
        return False

    def state(self) -> str:
        """'ready (N notes)', 'loading (N notes so far)' or 'not loaded', for /healthz."""
        if self._loaded:
            return f"ready ({len(self)} notes)"
        if self.loading is not None:
            return f"loading ({self.loading} notes so far)"
        return "not loaded"

    def put(
        self, ids: Sequence[str], vectors: Any, metas: Sequence[Any], docs: Sequence[str]
    ) -> None:
        """Add or replace these notes' rows (ignored while not loaded)."""
        with self._lock:
            if self._loaded:
                self._put(ids, vectors, metas, docs)
                self._regroup_if_scattered()

    def remove(self, ids: Iterable[str]) -> None:
        """Drop these notes' rows; unknown ids are ignored."""
        with self._lock:
            if not self._loaded:
                return
            for note_id in ids:
                row = self._row_of.pop(note_id, None)
                if row is not None:
                    self._kill(row)
            self._regroup_if_scattered()

    def top_k(
        self, vector: NDArray[np.float32], scope: Iterable[str], k: int
    ) -> list[CachedHit] | None:
        """The k notes closest to `vector` (cosine) among the scope's customers' notes, best
        first, ties in row order; None if not loaded."""
        query = np.asarray(vector, dtype=np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        with self._lock:
            if not self._loaded:
                return None
            codes = self._codes(scope)
            rows, scores = self._score(codes, query)
            if not len(rows) or k <= 0:
                return []
            picked = np.arange(len(rows))
            if len(rows) > k:
                picked = np.argpartition(-scores, k - 1)[:k]
            order = picked[np.lexsort((rows[picked], -scores[picked]))]
            # Belt and braces, independent of the slicing above: each winner's customer must
            # be one of the scope's (the caller need not build a set of a 12k-id scope).
            kept = [i for i in order if (codes == self._row_code[rows[i]]).any()]
            return [self._hit(int(rows[i]), float(scores[i])) for i in kept]

    def release(self) -> None:
        """Free the memory; the next scoped search loads again."""
        with self._lock:
            self._generation += 1
            self._loaded = False
            self._clear()

    # -- ranking -------------------------------------------------------------------------

    def _codes(self, scope: Iterable[str]) -> NDArray[np.intp]:
        # The scope's known customers as codes (unknown ids dropped). Customers known at the
        # last regroup are found by a binary search over their sorted ids, all at once: a
        # Python dict look-up per id cost 5 ms for a branch head's 12.5k ids at 100k notes
        # (its entries scattered over memory), the search about a third of that. Customers
        # coded since then (and ids of no customer) are looked up in the dict.
        ids = scope if isinstance(scope, list | tuple) else list(scope)
        if not ids:
            return np.empty(0, dtype=np.intp)
        wanted = np.asarray(ids, dtype=str)
        codes, missing = self._sorted_lookup(wanted)
        if self._sorted_upto == len(self._customers) or not missing.any():
            return codes
        late = (self._code_of.get(i, -1) for i in wanted[missing].tolist())
        extra = [code for code in late if code >= self._sorted_upto]
        return np.concatenate([codes, np.asarray(extra, dtype=np.intp)])

    def _sorted_lookup(
        self, wanted: NDArray[np.str_]
    ) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
        # (codes of the ids found among the sorted ones, mask of the ids not found).
        if not len(self._sorted_ids):
            return np.empty(0, dtype=np.intp), np.ones(len(wanted), dtype=bool)
        at = np.searchsorted(self._sorted_ids, wanted)
        np.minimum(at, len(self._sorted_ids) - 1, out=at)
        found = self._sorted_ids[at] == wanted
        return self._sorted_codes[at[found]], ~found

    def _sort_ids(self) -> None:
        # The binary-search index over every customer coded so far (after each regroup).
        ids = np.asarray(self._customers, dtype=str)
        order = np.argsort(ids, kind="stable")
        self._sorted_ids, self._sorted_codes = ids[order], order.astype(np.intp)
        self._sorted_upto = len(self._customers)

    def _score(
        self, codes: NDArray[np.intp], query: NDArray[np.float32]
    ) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
        # (live rows of these customers, their cosine to the query), rows ascending.
        parts = [self._score_grouped(codes, query), self._score_tail(codes, query)]
        rows = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        live = self._row_code[rows] >= 0
        return rows[live], scores[live]

    def _score_grouped(
        self, codes: NDArray[np.intp], query: NDArray[np.float32]
    ) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
        codes = codes[codes < len(self._start)]  # customers new since the regroup: tail only
        starts, ends = self._start[codes], self._end[codes]
        keep = ends > starts
        starts, ends = np.sort(starts[keep]), np.sort(ends[keep])  # ranges never overlap
        if not len(starts):
            return np.empty(0, np.intp), np.empty(0, np.float32)
        breaks = np.flatnonzero(starts[1:] != ends[:-1]) + 1
        run_starts = starts[np.r_[0, breaks]]
        run_ends = ends[np.r_[breaks - 1, len(ends) - 1]]
        if len(run_starts) <= MAX_SLICES:
            blocks = [
                _cosines(self._matrix[a:b], query)
                for a, b in zip(run_starts, run_ends, strict=True)
            ]
            rows = np.concatenate(
                [np.arange(a, b) for a, b in zip(run_starts, run_ends, strict=True)]
            )
            return rows, np.concatenate(blocks)
        lengths = run_ends - run_starts
        rows = np.repeat(run_starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
            lengths.sum()
        )
        return rows, _cosines(np.take(self._matrix, rows, axis=0), query)

    def _score_tail(
        self, codes: NDArray[np.intp], query: NDArray[np.float32]
    ) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
        if self._size == self._grouped:
            return np.empty(0, np.intp), np.empty(0, np.float32)
        wanted = np.zeros(len(self._customers) + 1, dtype=bool)
        wanted[codes] = True  # wanted[-1] (dead rows' code) stays False
        tail = self._row_code[self._grouped : self._size]
        rows = self._grouped + np.flatnonzero(wanted[tail])
        return rows, _cosines(np.take(self._matrix, rows, axis=0), query)

    def _hit(self, row: int, score: float) -> CachedHit:
        customer = self._customers[int(self._row_code[row])]
        note = str(self._note_of[row])
        return CachedHit(note, customer, score, self._document_of[row], int(self._occurred[row]))

    # -- writing -------------------------------------------------------------------------

    def _put(
        self, ids: Sequence[str], vectors: Any, metas: Sequence[Any], docs: Sequence[str]
    ) -> None:
        if not len(ids):
            return
        block = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        block = block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
        if self._matrix.shape[1] != block.shape[1]:
            if self._size:
                raise ValueError("vectors of another dimension: the index needs a reindex")
            self._matrix = np.empty((0, block.shape[1]), dtype=self._dtype)
        stored = _narrow(block) if self.half else block
        for note_id, meta, document, row_vector in zip(ids, metas, docs, stored, strict=True):
            code = self._code(str((meta or {}).get("customer_id", "")))
            row = self._row_of.get(note_id)
            if row is not None and self._row_code[row] != code:
                self._kill(row)  # moved to another customer: its old group must not hold it
                row = None
            if row is None:
                row = self._row_of[note_id] = self._append_row(note_id)
            self._matrix[row] = row_vector
            self._row_code[row] = code
            self._occurred[row] = int((meta or {}).get("occurred_on", 0))
            self._document_of[row] = document or ""

    def _kill(self, row: int) -> None:
        self._note_of[row] = None
        self._document_of[row] = ""
        self._row_code[row] = -1

    def _code(self, customer: str) -> int:
        code = self._code_of.get(customer)
        if code is None:
            code = self._code_of[customer] = len(self._customers)
            self._customers.append(customer)
        return code

    def _append_row(self, note_id: str) -> int:
        if self._size == len(self._matrix):
            capacity = max(1024, 2 * self._size)
            self._matrix = _grown(self._matrix, capacity, self._size, 0.0)
            self._row_code = _grown(self._row_code, capacity, self._size, -1)
            self._occurred = _grown(self._occurred, capacity, self._size, 0)
        self._note_of.append(note_id)
        self._document_of.append("")
        self._size += 1
        return self._size - 1

    # -- grouping ------------------------------------------------------------------------

    def _recode(self, places: Sequence[tuple[str, str, str, str]]) -> None:
        # Renumber customers in hierarchy order (branch, team, owner, customer), then regroup.
        order = [self._code_of[p[3]] for p in places]
        renumber = np.full(len(self._customers) + 1, -1, dtype=np.int32)
        renumber[order] = np.arange(len(order), dtype=np.int32)
        self._customers = [p[3] for p in places]
        self._code_of = {c: n for n, c in enumerate(self._customers)}
        self._row_code[: self._size] = renumber[self._row_code[: self._size]]
        self._regroup()

    def _regroup_if_scattered(self) -> None:
        tail = self._size - self._grouped
        dead = self._size - len(self._row_of)
        if tail > max(MIN_REGROUP, self._size // MAX_TAIL_SHARE) or dead > max(
            MIN_REGROUP, self._size // 2
        ):
            self._regroup()

    def _regroup(self) -> None:
        # Live rows sorted by customer code (stable), dead rows dropped; every row grouped.
        codes = self._row_code[: self._size]
        keep = np.flatnonzero(codes >= 0)
        keep = keep[np.argsort(codes[keep], kind="stable")]
        _permute_rows(self._matrix, keep)
        self._row_code = _gathered(self._row_code, keep, -1)
        self._occurred = _gathered(self._occurred, keep, 0)
        self._note_of = [self._note_of[r] for r in keep]
        self._document_of = [self._document_of[r] for r in keep]
        self._row_of = {str(n): row for row, n in enumerate(self._note_of)}
        self._size = self._grouped = len(keep)
        self._sort_ids()
        span = np.arange(len(self._customers))
        grouped = self._row_code[: self._size]  # sorted; the spare capacity after it is not
        self._start = np.searchsorted(grouped, span, side="left")
        self._end = np.searchsorted(grouped, span, side="right")


def _state(cache: VectorCache) -> dict[str, Any]:
    """A loaded copy's data attributes (not its lock or generation)."""
    skip = {"key", "half", "loading", "_lock", "_generation", "_loaded"}
    return {k: v for k, v in vars(cache).items() if k not in skip}


def _cosines(block: NDArray[Any], query: NDArray[np.float32]) -> NDArray[np.float32]:
    """Row-by-query dot products (unit rows: cosines), on this thread only. BLAS would split a
    matrix-vector product over its thread pool, which is 3x faster on idle cores but stalls
    for 10+ ms whenever another request or process holds a core (measured p95 12.7 ms against
    0.85 ms for this loop, 12.4k x 384 on 2 busy cores). bfloat16 rows are widened a block at a
    time (widening all of a 12.5k-row scope at once took 5x longer than block by block)."""
    if block.dtype != np.uint16:
        return np.einsum("ij,j->i", block, query)
    out = np.empty(len(block), dtype=np.float32)
    for start in range(0, len(block), WIDEN_ROWS):
        part = _widen(block[start : start + WIDEN_ROWS])
        out[start : start + WIDEN_ROWS] = np.einsum("ij,j->i", part, query)
    return out


def _narrow(block: NDArray[np.float32]) -> NDArray[np.uint16]:
    """float32 to bfloat16 bits, rounded to nearest even (not truncated: half the error)."""
    bits = np.ascontiguousarray(block, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return rounded.astype(np.uint16)


def _widen(block: NDArray[np.uint16]) -> NDArray[np.float32]:
    """bfloat16 bits back to float32 (exact: the low 16 bits are zero)."""
    return (block.astype(np.uint32) << np.uint32(16)).view(np.float32)


def _permute_rows(matrix: NDArray[Any], order: NDArray[np.intp]) -> None:
    """matrix[:len(order)] = matrix[order], in place, a band of columns at a time: a whole
    copy would double the matrix's memory at each regroup (1.5 GB more at 1M float32 notes)."""
    band = max(1, PERMUTE_BYTES // max(1, len(order) * matrix.itemsize))
    for start in range(0, matrix.shape[1], band):
        columns = matrix[order, start : start + band]  # read every row of the band first
        matrix[: len(order), start : start + band] = columns


def _gathered(array: NDArray[Any], order: NDArray[np.intp], fill: float) -> NDArray[Any]:
    """array[order] at the front of a new array of the same capacity (rows must line up
    with the matrix's, which keeps its capacity)."""
    out = np.full(len(array), fill, dtype=array.dtype)
    out[: len(order)] = array[order]
    return out


def _grown(array: NDArray[Any], capacity: int, used: int, fill: float) -> NDArray[Any]:
    shape = (capacity, *array.shape[1:])
    grown = np.full(shape, fill, dtype=array.dtype)
    grown[:used] = array[:used]
    return grown


_shared: weakref.WeakValueDictionary[str, VectorCache] = weakref.WeakValueDictionary()
_shared_guard = threading.Lock()


def shared_cache(key: str, *, half: bool = False) -> VectorCache:
    """The process's cache of collection `key`, made empty (unloaded) if there is none yet
    (`half`: store it as bfloat16; a cache already made keeps its precision)."""
    with _shared_guard:
        cache = _shared.get(key)
        if cache is None:
            cache = VectorCache(key, half=half)
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
    """Pages from `fetch(limit, offset)` (a `collection.get` with embeddings, metadatas and
    documents)."""
    offset = 0
    while True:
        got = fetch(page, offset)
        if not got["ids"]:
            return
        yield page_of(got)
        offset += len(got["ids"])


def page_of(got: dict[str, Any]) -> Page:
    """(ids, vectors, metadatas, documents) of a `collection.get` with embeddings, metadatas
    and documents."""
    ids = got["ids"]
    metas = got["metadatas"] or [{}] * len(ids)
    documents = got["documents"] or [""] * len(ids)
    return ids, got["embeddings"], metas, documents
