"""The in-process vector cache behind scoped searches of the embedded index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from bot.serve import warm_up
from retrieval.embeddings import E5Embeddings
from retrieval.entries import Hit
from retrieval.index import NoteIndex
from retrieval.search import Retriever
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


def meta(customer: str, branch: str = "b1") -> dict[str, str | int]:
    return {"customer_id": customer, "branch_id": branch, "occurred_on": 20261101}


def test_a_load_racing_a_write_starts_again() -> None:
    cache = VectorCache("k")
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((3, 4)).astype(np.float32)
    loads = []

    def pages() -> Iterator[Page]:
        loads.append(1)
        yield ["a", "b"], vectors[:2], [meta("x"), meta("y")], ["doc a", "doc b"]
        if len(loads) == 1:
            cache.changing()  # a write lands while the first load pages
        yield ["c"], vectors[2:], [meta("x")], ["doc c"]

    assert cache.ensure_loaded(pages) and len(loads) == 2 and len(cache) == 3
    top = cache.top_k(vectors[0], ["x"], 5)
    assert top is not None and top[0].note_id == "a" and {h.note_id for h in top} == {"a", "c"}
    assert (top[0].customer_id, top[0].document, top[0].occurred_on) == ("x", "doc a", 20261101)
    cache.remove(["a"])
    cache.put(["d"], vectors[:1] * 3, [meta("y")], ["doc d"])
    top = cache.top_k(vectors[0], ["x", "y"], 1)
    assert (
        top is not None and top[0].note_id == "d" and top[0].score == pytest.approx(1.0, abs=1e-6)
    )
    assert cache.top_k(vectors[0], ["x"], 0) == []


def brute_force(
    vectors: dict[str, Any], owner: dict[str, str], query: Any, scope: set[str], k: int
) -> list[str]:
    """The k best note ids by cosine among the scope's notes, computed the slow way."""
    unit = {n: v / np.linalg.norm(v) for n, v in vectors.items() if owner[n] in scope}
    q = query / np.linalg.norm(query)
    return sorted(unit, key=lambda n: -float(unit[n] @ q))[:k]


@pytest.mark.parametrize("min_regroup", [4, 1024])
def test_grouped_rows_tail_and_regroups_rank_like_brute_force(
    min_regroup: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Branches of customers, loaded grouped; then writes (new notes, notes moved to another
    # customer, deletions) land in the tail and, with a low threshold, trigger regroups.
    monkeypatch.setattr("retrieval.vector_cache.MIN_REGROUP", min_regroup)
    monkeypatch.setattr("retrieval.vector_cache.MAX_SLICES", 3)  # exercise the gather path too
    rng = np.random.default_rng(5)
    customers = [f"c{i:03d}" for i in range(60)]
    branch = {c: f"b{i % 4}" for i, c in enumerate(customers)}  # branches interleave by id
    vectors = {f"n{i}": rng.standard_normal(16).astype(np.float32) for i in range(400)}
    owner = {n: customers[int(rng.integers(60))] for n in vectors}
    cache = VectorCache("k")
    ids = list(vectors)

    def pages() -> Iterator[Page]:
        for start in range(0, len(ids), 150):
            chunk = ids[start : start + 150]
            metas = [meta(owner[n], branch[owner[n]]) for n in chunk]
            yield chunk, np.stack([vectors[n] for n in chunk]), metas, chunk

    assert cache.ensure_loaded(pages)
    scopes = [
        {c for c in customers if branch[c] == "b1"},
        {c for c in customers if branch[c] in ("b0", "b3")},
        set(customers[:7]) | {"unknown"},
        set(customers),
    ]

    def check() -> None:
        for _ in range(3):
            query = rng.standard_normal(16).astype(np.float32)
            for scope in scopes:
                got = cache.top_k(query, scope, 6)
                assert got is not None
                assert [h.note_id for h in got] == brute_force(vectors, owner, query, scope, 6)
                assert all(h.document == h.note_id and h.customer_id in scope for h in got)

    check()
    for step in range(40):
        new = f"m{step}"
        vectors[new] = rng.standard_normal(16).astype(np.float32)
        owner[new] = customers[int(rng.integers(60))] if step % 5 else "c999"  # a new customer
        moved = ids[step]
        owner[moved] = customers[(int(customers.index(owner[moved])) + 1) % 60]
        batch = [new, moved]
        metas = [meta(owner[n], branch.get(owner[n], "b9")) for n in batch]
        cache.put(batch, np.stack([vectors[n] for n in batch]), metas, batch)
        gone = ids[-1 - step]
        cache.remove([gone])
        del vectors[gone], owner[gone]
        if step % 10 == 9:
            scopes.append({"c999"})
            check()
    assert len(cache) == len(vectors)


def test_warm_up_loads_the_cache_before_any_search(bare_index: NoteIndex, e5: E5Embeddings) -> None:
    fill(bare_index, extra=20)
    assert bare_index._cache is None
    thread = warm_up(Retriever(bare_index))  # what `bankbot serve` starts with
    thread.join(timeout=60)
    cache = bare_index._cache
    assert cache is not None and cache.loaded and len(cache) == len(NOTES) + 20
    assert not NoteIndex(bare_index.client, e5).warm_up()  # no lock, no cache: nothing to load


def _loaded(vectors: Any, half: bool) -> VectorCache:
    ids = [f"n{i}" for i in range(len(vectors))]
    metas = [meta(f"c{i % 50}", f"b{i % 3}") for i in range(len(vectors))]
    cache = VectorCache("k", half=half)
    assert cache.ensure_loaded(lambda: iter([(ids, vectors, metas, ids)]))
    return cache


def test_a_bfloat16_cache_halves_the_memory_and_keeps_the_ranking() -> None:
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((3000, 384)).astype(np.float32)
    full, half = _loaded(vectors, False), _loaded(vectors, True)
    assert half.nbytes * 2 == full.nbytes
    scope = [f"c{i}" for i in range(0, 50, 2)]
    for _ in range(20):
        query = rng.standard_normal(384).astype(np.float32)
        exact, narrow = full.top_k(query, scope, 10), half.top_k(query, scope, 10)
        assert exact is not None and narrow is not None
        exact_scores = [h.score for h in exact]
        assert [h.score for h in narrow] == pytest.approx(exact_scores, abs=5e-4)
        # Wherever float32 separates a place from its neighbours by more than the bfloat16
        # error, bfloat16 puts the same note there.
        gaps = np.diff(exact_scores)
        for place in range(10):
            before = place == 0 or -gaps[place - 1] > 1e-3
            after = place == 9 or -gaps[place] > 1e-3
            if before and after:
                assert narrow[place].note_id == exact[place].note_id


def test_auto_precision_turns_to_bfloat16_above_the_threshold(
    bare_index: NoteIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(bare_index, extra=0)
    monkeypatch.setattr("retrieval.index.HALF_ABOVE_NOTES", len(NOTES) - 1)
    bare_index.search_vector(bare_index.query_vector("基金"), customer_ids=["c1"], k=3)
    cache = existing_cache(str(bare_index.collection.id))
    assert cache is not None and cache.half and cache.loaded
