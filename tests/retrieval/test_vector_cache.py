"""The in-process vector cache behind scoped searches of the embedded index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from retrieval.embeddings import E5Embeddings
from retrieval.entries import Hit
from retrieval.index import NoteIndex
from retrieval.vector_cache import Page, VectorCache, existing_cache
from tests.retrieval.conftest import NOTES, entry

CUSTOMERS = [f"c{i}" for i in range(1, 13)]


def fill(index: NoteIndex, extra: int = 300) -> None:
    """NOTES (embedded) plus `extra` notes with random vectors, written straight to Chroma."""
    index.upsert([entry(f"N{i}", c, text) for i, (c, _, text) in enumerate(NOTES)])
    if not extra:
        return
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((extra, 384)).astype(np.float32)
    metadatas: Any = [entry(f"R{i}", CUSTOMERS[i % 12], "").metadata() for i in range(extra)]
    index.collection.add(
        ids=[f"R{i}" for i in range(extra)],
        embeddings=vectors,
        documents=[f"random note {i}" for i in range(extra)],
        metadatas=metadatas,
    )


def both(index: NoteIndex, vector: Any, scope: list[str], k: int) -> tuple[list[Hit], list[Hit]]:
    """(cache path, Chroma's exact path) for the same search."""
    assert index.use_cache
    cached = index.search_vector(vector, customer_ids=scope, k=k)
    index.use_cache, index.exact_max_customers = False, 10_000
    try:
        exact = index.search_vector(vector, customer_ids=scope, k=k)
    finally:
        index.use_cache, index.exact_max_customers = True, 20
    return cached, exact


def assert_same(cached: list[Hit], exact: list[Hit]) -> None:
    assert [h.note_id for h in cached] == [h.note_id for h in exact]
    assert [h.score for h in cached] == pytest.approx([h.score for h in exact], abs=1e-5)
    assert [(h.customer_id, h.text, h.occurred_on) for h in cached] == [
        (h.customer_id, h.text, h.occurred_on) for h in exact
    ]


def queries(index: NoteIndex) -> Iterator[Any]:
    rng = np.random.default_rng(3)
    yield index.query_vector("手机银行")
    yield index.query_vector("基金定投")
    for _ in range(4):
        yield rng.standard_normal(384).astype(np.float32)


def test_embedded_index_uses_the_cache_and_matches_the_exact_path(bare_index: NoteIndex) -> None:
    fill(bare_index)
    scopes = [["c1"], ["c1", "c8"], CUSTOMERS[:5], CUSTOMERS, ["nobody"], ["c6", "nobody"]]
    for vector in queries(bare_index):
        for scope in scopes:
            for k in (1, 5, 40):
                cached, exact = both(bare_index, vector, scope, k)
                assert_same(cached, exact)
                assert {h.customer_id for h in cached} <= set(scope)
    cache = bare_index._cache
    assert cache is not None and cache.loaded and len(cache) == len(NOTES) + 300
    # Unscoped (compliance) searches still go through Chroma's ANN index.
    assert bare_index.search("养老保险", customer_ids=None, k=1)[0].note_id == "N4"


def test_writes_and_resets_keep_the_cache_in_step(bare_index: NoteIndex, e5: E5Embeddings) -> None:
    fill(bare_index, extra=50)
    vector = bare_index.query_vector("手机银行")
    assert_same(*both(bare_index, vector, ["c1", "c8"], 5))  # loads the cache
    cache = bare_index._cache
    assert cache is not None and cache.loaded

    bare_index.upsert([entry("N99", "c1", "张伟说手机银行又闪退了")])
    cached, exact = both(bare_index, vector, ["c1"], 5)
    assert_same(cached, exact)
    assert "N99" in {h.note_id for h in cached}

    bare_index.upsert([entry("N1", "c99", "张伟抱怨手机银行转账限额太低，希望调高")])  # moved
    assert "N1" not in {h.note_id for h in bare_index.search_vector(vector, customer_ids=["c1"])}
    cached, exact = both(bare_index, vector, ["c99"], 5)
    assert_same(cached, exact)
    assert [h.note_id for h in cached] == ["N1"]

    bare_index.delete(["N99", "N5", "R0", "not-there"])
    for scope in (["c1"], ["c8"], CUSTOMERS):
        cached, exact = both(bare_index, vector, scope, 10)
        assert_same(cached, exact)
        assert not {"N99", "N5", "R0"} & {h.note_id for h in cached}
    assert len(cache) == bare_index.count()

    # Another NoteIndex of the process on the same collection shares the cache.
    other = NoteIndex(bare_index.client, e5)
    other.upsert([entry("N77", "c8", "刘洋说手机银行登录又闪退了")])
    assert bare_index.search_vector(vector, customer_ids=["c8"], k=1)[0].note_id == "N77"
    other.delete(["N77"])
    cached, exact = both(bare_index, vector, ["c8"], 5)
    assert_same(cached, exact)
    assert "N77" not in {h.note_id for h in cached}

    # A rebuild (what `bankbot reindex` does first) drops the cache with the collection.
    bare_index.reset()
    assert not cache.loaded and existing_cache(cache.key) is None
    assert bare_index.search_vector(vector, customer_ids=["c1"], k=5) == []
    bare_index.upsert([entry("N1", "c1", "张伟抱怨手机银行转账限额太低，希望调高")])
    cached, exact = both(bare_index, vector, ["c1", "c99"], 5)
    assert_same(cached, exact)
    assert [h.note_id for h in cached] == ["N1"]
    assert bare_index._cache is not None and bare_index._cache is not cache


def test_empty_scope_never_touches_the_cache(
    bare_index: NoteIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(bare_index, extra=10)
    bare_index.search("基金", customer_ids=["c1"], k=1)  # loaded

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache was used for an empty scope")

    for name in ("ensure_loaded", "top_k", "put", "remove", "changing"):
        monkeypatch.setattr(VectorCache, name, refuse)
    assert bare_index.search("基金", customer_ids=[], k=5) == []
    assert bare_index.search_vector(np.ones(384, dtype=np.float32), customer_ids=[], k=5) == []


def test_close_releases_the_memory(bare_index: NoteIndex) -> None:
    fill(bare_index, extra=100)
    bare_index.search("基金", customer_ids=["c1"], k=1)
    cache = bare_index._cache
    assert cache is not None and cache.loaded and cache.nbytes >= 107 * 384 * 4
    bare_index.close()
    assert bare_index._cache is None and not bare_index.use_cache
    assert not cache.loaded and cache.nbytes == 0 and len(cache) == 0


def test_without_the_folder_lock_scoped_searches_go_to_chroma(
    bare_index: NoteIndex, e5: E5Embeddings
) -> None:
    unlocked = NoteIndex(bare_index.client, e5)  # as on a Chroma server: others may write
    assert not unlocked.use_cache
    fill(unlocked, extra=0)
    assert unlocked.search("手机银行", customer_ids=["c1"], k=1)[0].note_id == "N1"
    assert unlocked._cache is None


def test_a_load_racing_a_write_starts_again() -> None:
    cache = VectorCache("k")
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((3, 4)).astype(np.float32)
    loads = []

    def pages() -> Iterator[Page]:
        loads.append(1)
        yield ["a", "b"], vectors[:2], ["x", "y"]
        if len(loads) == 1:
            cache.changing()  # a write lands while the first load pages
        yield ["c"], vectors[2:], ["x"]

    assert cache.ensure_loaded(pages) and len(loads) == 2 and len(cache) == 3
    top = cache.top_k(vectors[0], ["x"], 5)
    assert top is not None and top[0][0] == "a" and {n for n, _ in top} == {"a", "c"}
    cache.remove(["a"])
    cache.put(["d"], vectors[:1] * 3, ["y"])
    top = cache.top_k(vectors[0], ["x", "y"], 1)
    assert top is not None and top[0][0] == "d" and top[0][1] == pytest.approx(1.0, abs=1e-6)
    assert cache.top_k(vectors[0], ["x"], 0) == []
