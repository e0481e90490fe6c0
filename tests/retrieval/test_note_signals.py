"""Rule 4's signals are computed when notes are indexed, from the vectors the index holds."""

from __future__ import annotations

from sqlalchemy import select

from crm_store.models import Interaction, NoteSignal
from crm_store.store import Store
from retrieval.complaints import ComplaintDetector, keyword_in
from retrieval.index import NoteIndex
from retrieval.note_signals import stored_vectors
from retrieval.sync import drain_outbox, reindex
from tests.retrieval.conftest import record_notes


def signals(store: Store) -> dict[str, bool]:
    """Note text -> flagged as a complaint."""
    with store.db.read() as s:
        rows = s.execute(
            select(Interaction.content, NoteSignal.complaint).join(
                NoteSignal, NoteSignal.interaction_id == Interaction.id
            )
        )
        return {text: flag for text, flag in rows.tuples()}


def test_indexing_a_note_classifies_it(store: Store, index: NoteIndex) -> None:
    ids = record_notes(store)
    drain_outbox(store, index)
    found = signals(store)
    assert len(found) == len(ids)
    assert found["张伟抱怨手机银行转账限额太低，希望调高"] is True
    assert found["王芳的大额存单12月到期，打算续存三年期"] is False
    assert found["李雷对养老保险很感兴趣，约了下周面谈"] is False


def test_reindex_classifies_every_note_again(store: Store, index: NoteIndex) -> None:
    record_notes(store)
    drain_outbox(store, index)
    with store.db.write() as s:
        s.execute(NoteSignal.__table__.delete())
    reindex(store, index, progress=False)
    assert signals(store)["张伟抱怨手机银行转账限额太低，希望调高"] is True


def test_the_index_vectors_are_reused(store: Store, index: NoteIndex) -> None:
    ids = record_notes(store)
    drain_outbox(store, index)
    vectors = stored_vectors(index, ids)
    assert vectors is not None and vectors.shape == (len(ids), 384)
    assert stored_vectors(index, [*ids, "missing"]) is None


def test_keywords_respect_negation_and_money_coming_in() -> None:
    assert keyword_in("客户说要把钱转走") == "转走"
    assert keyword_in("客户表示没有什么不满意的") == ""
    assert keyword_in("客户计划把他行的存款转到我行") == ""


def test_similarity_alone_flags_a_complaint_without_keywords(e5: object) -> None:
    detector = ComplaintDetector()
    flagged = detector.classify(["客户直言这次的产品让他亏了钱，以后不会再在我们这里买理财"])
    calm = detector.classify(["客户推荐了他的同事来我行开户"])
    assert flagged[0].complaint and not calm[0].complaint


def test_paraphrases_without_the_first_keywords_are_caught() -> None:
    assert keyword_in("客户对最近的服务颇有微词") == "颇有微词"
    assert keyword_in("客户说隔壁银行还加息，打算过去") == "打算过去"
    assert keyword_in("客户在考虑换一家银行") in {"考虑换", "换一家"}
    assert keyword_in("客户说不打算过去，还是放我们这里") == ""  # negated
    assert keyword_in("客户把另一家的存款转来我行") == ""  # money coming in
    assert keyword_in("解释了前几年退保不划算，客户决定继续持有") == ""  # not a demand
