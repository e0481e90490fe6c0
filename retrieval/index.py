"""The Chroma index of interaction notes: one entry per note, with scalar permission metadata.

Only masked, redacted text reaches Chroma. A search is always narrowed to a permission scope
computed in SQL by the caller: a list of customer ids, where `None` means the caller decided
"every customer" (compliance) and an empty list answers nothing without asking Chroma.

Scoped searches rank an in-process copy of the vectors and stored texts
(retrieval/vector_cache.py) without asking Chroma: on the embedded index opened by
`open_index` (this process holds the folder's lock, so its writes are all there are), and on
a Chroma server opened with a change feed (retrieval/change_feed.py: every process logs its
writes in SQL and follows everyone's). Elsewhere (an index opened without either) they go to
Chroma: exactly over the scope's vectors for small scopes, by the `$in` filter for larger ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import NotFoundError
from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings
from numpy.typing import NDArray

from retrieval.change_feed import ChangeFeed
from retrieval.embeddings import E5Embeddings, embeddings_name
from retrieval.entries import Hit, NoteEntry, make_hit
from retrieval.errors import IndexUnavailable
from retrieval.lock import IndexLock
from retrieval.vector_cache import (
    Page,
    VectorCache,
    drop_cache,
    existing_cache,
    page_of,
    pages_of,
    shared_cache,
)

COLLECTION = "notes"
COLLECTION_CONFIG: Any = {"hnsw": {"space": "cosine"}}
MODEL_KEY = "bankbot_embeddings"
WRITE_BATCH = 256
PAGE = 5_000
# Scopes of at most this many customers are searched exactly over their own vectors; larger
# ones by Chroma's `$in` filter. Measured at 10k notes, ~10 per customer (p50, 2 cores,
# bench/bench_index_paths.py): exact 3 ms for 1 customer, 7 ms for 10, 10 ms for 20, 12 ms
# for 30, 37 ms for 100; the filter 10-12 ms up to 100 customers. Chroma hands back stored
# vectors at ~30 us each, so the exact path grows with the scope and the filter does not.
EXACT_MAX_CUSTOMERS = 20
# "auto" keeps a cache of more notes than this as bfloat16: float32 at 1M notes needs more than
# 2 GB per process, bfloat16 about half (bench/bench_cache_memory.py), at ~4x the ranking time.
HALF_ABOVE_NOTES = 600_000
PRECISIONS = ("auto", "float32", "bfloat16")

T = TypeVar("T")
P = ParamSpec("P")


def _scope_filter(scope: Sequence[str]) -> dict[str, Any]:
    if len(scope) == 1:
        return {"customer_id": scope[0]}
    return {"customer_id": {"$in": list(scope)}}


class NoteIndex:
    """Notes in a Chroma collection "notes" (cosine), embedded by our own embeddings only."""

    def __init__(
        self,
        client: ClientAPI,
        embeddings: Embeddings,
        *,
        lock: IndexLock | None = None,
        owns_client: bool = False,
        exact_max_customers: int = EXACT_MAX_CUSTOMERS,
        vector_cache: bool | None = None,
        feed: ChangeFeed | None = None,
        cache_precision: str = "auto",
    ) -> None:
        """`vector_cache`: rank scoped searches over an in-process copy of the vectors; by
        default with `lock` (the embedded index, which no other process can write) or with
        `feed` (a Chroma server whose writes every process logs and follows).
        `cache_precision`: float32, bfloat16, or auto (bfloat16 above HALF_ABOVE_NOTES)."""
        if embeddings is None:  # Chroma would fall back to a model it downloads
            raise IndexUnavailable("the note index needs an embeddings object")
        self.client = client
        self.embeddings = embeddings
        self.model = embeddings_name(embeddings)
        self.exact_max_customers = exact_max_customers
        self._lock = lock
        self._owns_client = owns_client
        self.feed = feed
        if cache_precision not in PRECISIONS:
            raise IndexUnavailable(f"vector cache precision must be one of {PRECISIONS}")
        self.cache_precision = cache_precision
        default_cache = lock is not None or feed is not None
        self.use_cache = default_cache if vector_cache is None else vector_cache
        self._cache: VectorCache | None = None
        self._connect()

    def _connect(self) -> None:
        self.store = Chroma(
            collection_name=COLLECTION,
            embedding_function=self.embeddings,
            client=self.client,
            collection_metadata={MODEL_KEY: self.model},
            collection_configuration=COLLECTION_CONFIG,
        )
        self._collection = self.client.get_or_create_collection(
            COLLECTION,
            embedding_function=None,
            metadata={MODEL_KEY: self.model},
            configuration=COLLECTION_CONFIG,
        )

    def _retry(self, action: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        # `action` must read self.store / self._collection when called, not before.
        try:
            return action(*args, **kwargs)
        except NotFoundError:  # another process rebuilt the collection: take the new one
            self._connect()
            return action(*args, **kwargs)

    @property
    def collection(self) -> Collection:
        """The raw Chroma collection."""
        return self._collection

    def built_with(self) -> str | None:
        """The embeddings the stored vectors came from."""
        value = (self._collection.metadata or {}).get(MODEL_KEY)
        return str(value) if value is not None else None

    def _require_same_model(self) -> None:
        built = self.built_with()
        if built is None or built == self.model:
            return
        if self.count() == 0:  # nothing to mix up: relabel by recreating it empty
            self.reset()
            return
        raise IndexUnavailable(
            f"the index was built with {built}, not {self.model}: run `bankbot reindex`"
        )

    def upsert(self, notes: Sequence[NoteEntry]) -> None:
        """Write or replace the entries of these notes."""
        self._require_same_model()
        latest = list({n.note_id: n for n in notes}.values())
        for start in range(0, len(latest), WRITE_BATCH):
            self._retry(self._write, latest[start : start + WRITE_BATCH])

    def _write(self, batch: Sequence[NoteEntry]) -> None:
        metas: list[dict[str, Any]] = [n.metadata() for n in batch]
        ids = [n.note_id for n in batch]
        cache = existing_cache(str(self._collection.id))
        if cache is not None:
            cache.changing()
        self.store.add_texts([n.document() for n in batch], metadatas=metas, ids=ids)
        if cache is not None and cache.changing():  # loaded: pass on what Chroma now holds
            got = self._collection.get(ids=ids, include=["embeddings", "metadatas", "documents"])
            cache.put(*page_of(dict(got)))
        if self.feed is not None:  # other processes' caches follow the log
            self.feed.wrote(ids)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove entries; ids not in the index are ignored."""
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), WRITE_BATCH):
            self._retry(self._delete, unique[start : start + WRITE_BATCH])

    def _delete(self, ids: list[str]) -> None:
        cache = existing_cache(str(self._collection.id))
        if cache is not None:
            cache.changing()
        self._collection.delete(ids=ids)
        if cache is not None and cache.changing():
            cache.remove(ids)
        if self.feed is not None:
            self.feed.wrote(ids)

    def query_vector(self, query: str) -> NDArray[np.float32]:
        """The query embedding (e5's "query: " form)."""
        if isinstance(self.embeddings, E5Embeddings):
            return self.embeddings.query_vector(query)
        return np.asarray(self.embeddings.embed_query(query), dtype=np.float32)

    def search(self, query: str, *, customer_ids: list[str] | None, k: int = 5) -> list[Hit]:
        """The k notes closest to `query` among the scope's customers (None: all customers)."""
        if customer_ids is not None and not customer_ids:
            return []  # no accessible customers: never an unfiltered query
        return self.search_vector(self.query_vector(query), customer_ids=customer_ids, k=k)

    def search_vector(
        self, vector: NDArray[np.float32], *, customer_ids: list[str] | None, k: int = 5
    ) -> list[Hit]:
        """Like `search`, for a query already embedded."""
        if k <= 0 or (customer_ids is not None and not customer_ids):
            return []
        self._require_same_model()
        if customer_ids is None:
            return self._retry(self._filtered, vector, None, k)
        if self.use_cache:
            cached = self._retry(self._cached, vector, customer_ids, k)
            if cached is not None:
                return cached  # the cache keeps only the scope's customers, and checks it
        allowed = set(customer_ids)
        scope = sorted(allowed)
        if len(scope) <= self.exact_max_customers:
            hits = self._retry(self._exact, vector, scope, k)
        else:
            hits = self._retry(self._filtered, vector, _scope_filter(scope), k)
        return [h for h in hits if h.customer_id in allowed]  # belt and braces

    def _filtered(
        self, vector: NDArray[np.float32], where: dict[str, Any] | None, k: int
    ) -> list[Hit]:
        found = self.store.similarity_search_by_vector_with_relevance_scores(
            vector.tolist(), k=k, filter=where
        )
        return [make_hit(str(doc.id), doc.metadata, doc.page_content, 1.0 - d) for doc, d in found]

    def warm_up(self) -> bool:
        """Load the vector cache now (at start-up), so no asker waits for the first load (about
        5-12 s at 100k notes); whether a loaded cache is ready. Without the cache, nothing."""
        if not self.use_cache:
            return False
        return self._retry(lambda: self._cache_now().ensure_loaded(self._pages))

    def cache_state(self) -> str:
        """The vector cache for /healthz: off, not loaded, loading (with progress) or ready.
        Until it is ready, scoped searches go to Chroma."""
        if not self.use_cache:
            return "off"
        cache = existing_cache(str(self._collection.id))
        return cache.state() if cache is not None else "not loaded"

    def _cache_now(self) -> VectorCache:
        key = str(self._collection.id)
        if self._cache is None or self._cache.key != key or existing_cache(key) is not self._cache:
            self._cache = existing_cache(key) or shared_cache(key, half=self._half())
        return self._cache

    def _half(self) -> bool:
        if self.cache_precision == "auto":
            return self._count() > HALF_ABOVE_NOTES
        return self.cache_precision == "bfloat16"

    def _pages(self) -> Iterator[Page]:
        include: Any = ["embeddings", "metadatas", "documents"]
        collection = self._collection
        if self.feed is not None:  # what is logged from now on is applied after the load
            self.feed.loading()
        return pages_of(
            lambda limit, offset: dict(collection.get(include=include, limit=limit, offset=offset)),
            PAGE,
        )

    def _cached(
        self, vector: NDArray[np.float32], scope: Sequence[str], k: int
    ) -> list[Hit] | None:
        # None: no usable copy (writes kept racing the load, or it was just released).
        cache = self._cache_now()
        if not cache.ensure_loaded(self._pages):
            return None
        if self.feed is not None and self.feed.follow(self):  # written by other processes
            cache = self._cache_now()  # a rebuild elsewhere replaces the collection
            if not cache.ensure_loaded(self._pages):
                return None
        chosen = cache.top_k(vector, scope, k)
        if chosen is None:
            return None
        return [Hit(c.note_id, c.customer_id, c.score, c.document, c.occurred_on) for c in chosen]

    def follow_changes(self) -> int:
        """Apply the index writes other processes logged (the upkeep timer calls it)."""
        if self.feed is None or not self.use_cache:
            return 0
        return self.feed.follow(self, force=True)

    def refresh_cached(self, note_ids: Sequence[str]) -> None:
        """Re-read these notes from Chroma into the loaded cache; absent ones leave it."""
        cache = existing_cache(str(self._collection.id))
        if cache is None or not cache.loaded:
            return
        for start in range(0, len(note_ids), PAGE):
            batch = list(note_ids[start : start + PAGE])
            got = self._retry(self._stored, batch)
            cache.changing()
            cache.put(*page_of(got))
            cache.remove(set(batch) - set(got["ids"]))
            cache.changing()

    def _stored(self, note_ids: list[str]) -> dict[str, Any]:
        include: Any = ["embeddings", "metadatas", "documents"]
        return dict(self._collection.get(ids=note_ids, include=include))

    def follow_rebuild(self) -> None:
        """Another process rebuilt the collection: connect to the new one; its cache loads
        on the next search."""
        drop_cache(str(self._collection.id))
        self._cache = None
        self._connect()

    def _hits(self, chosen: Sequence[tuple[str, float]]) -> list[Hit]:
        rows = self._collection.get(ids=[i for i, _ in chosen], include=["documents", "metadatas"])
        docs = rows["documents"] or []
        metas = rows["metadatas"] or []
        by_id = {i: (m, d) for i, m, d in zip(rows["ids"], metas, docs, strict=True)}
        return [make_hit(i, *by_id[i], score) for i, score in chosen if i in by_id]

    def _exact(self, vector: NDArray[np.float32], scope: Sequence[str], k: int) -> list[Hit]:
        got = self._collection.get(where=_scope_filter(scope), include=["embeddings"])
        ids = got["ids"]
        if not ids:
            return []
        matrix = np.asarray(got["embeddings"], dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1) * max(float(np.linalg.norm(vector)), 1e-12)
        scores = (matrix @ vector) / np.maximum(norms, 1e-12)
        top = np.argsort(-scores, kind="stable")[:k]
        return self._hits([(ids[i], float(scores[i])) for i in top])

    def count(self) -> int:
        """How many entries the index holds."""
        return self._retry(self._count)

    def _count(self) -> int:
        return int(self._collection.count())

    def entries(self, *, documents: bool = True) -> Iterator[tuple[str, dict[str, Any], str]]:
        """Every entry as (id, metadata, stored text), page by page."""
        include: Any = ["metadatas", "documents"] if documents else ["metadatas"]
        offset = 0
        while True:
            got = self._collection.get(include=include, limit=PAGE, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            metas = got["metadatas"] or [{}] * len(ids)
            docs = got["documents"] if documents and got["documents"] else [""] * len(ids)
            for note_id, meta, doc in zip(ids, metas, docs, strict=True):
                yield note_id, dict(meta or {}), doc or ""
            offset += len(ids)

    def all_ids(self) -> set[str]:
        """The ids of every entry."""
        ids: set[str] = set()
        offset = 0
        while True:
            page = self._collection.get(include=[], limit=PAGE, offset=offset)["ids"]
            if not page:
                return ids
            ids.update(page)
            offset += len(page)

    def reset(self) -> None:
        """Drop the collection and create it empty (with the current embeddings' label)."""
        drop_cache(str(self._collection.id))
        self._cache = None
        with contextlib.suppress(NotFoundError):
            self.client.delete_collection(COLLECTION)
        self._connect()
        if self.feed is not None:
            self.feed.rebuilt()

    def close(self) -> None:
        """Release the vector cache, and the embedded folder's lock and the client if this
        index opened them."""
        if self._cache is not None:
            self._cache.release()
            self._cache = None
        self.use_cache = False
        if self._owns_client:
            self._owns_client = False
            close = getattr(self.client, "close", None)
            if callable(close):
                close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> NoteIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
