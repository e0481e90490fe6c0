"""SQL to index: the outbox after commit, a rebuild from scratch, drift found and repaired."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from crm_store.index_outbox import enqueue, enqueue_customer, enqueue_owners, pending_count
from crm_store.models import Customer, IndexOutbox, Staff
from crm_store.notes import undo_note
from crm_store.store import Store
from retrieval.connect import embedded_client
from retrieval.embeddings import E5Embeddings
from retrieval.index import NoteIndex
from retrieval.sync import check, drain_outbox, process_outbox, reindex
from tests.retrieval.conftest import NOTES, QUERIES, ensure_queued, entry, record_notes
from tests.world import NOW

SCOPES: list[list[str] | None] = [None, ["c1"], ["c1", "c3", "c4", "c8"]]


def top_hits(index: NoteIndex) -> list[list[tuple[str, float]]]:
    vectors = [index.query_vector(q) for q in QUERIES]
    return [
        [(h.note_id, round(h.score, 4)) for h in index.search_vector(v, customer_ids=scope, k=3)]
        for v in vectors
        for scope in SCOPES
    ]


def test_outbox_brings_recorded_and_undone_notes_to_the_index(
    store: Store, index: NoteIndex
) -> None:
    ids = record_notes(store)
    assert index.count() == 0  # nothing reaches Chroma inside the transaction
    assert process_outbox(store, index, limit=3) == 3
    assert drain_outbox(store, index) == len(NOTES) - 3
    assert index.all_ids() == set(ids)
    hits = index.search("手机银行闪退", customer_ids=["c8"], k=1)
    assert [h.note_id for h in hits] == [ids[5]]
    with store.db.write() as session:
        assert undo_note(session, staff_id="rm2", interaction_id=ids[5], now=NOW)
        ensure_queued(session, ids[5], "delete")
    assert process_outbox(store, index) == 1
    assert ids[5] not in index.all_ids()
    assert index.search("手机银行闪退", customer_ids=["c8"], k=1) == []
    with store.db.read() as session:
        assert pending_count(session) == 0
        processed = session.scalars(select(IndexOutbox.processed_at)).all()
    assert len(processed) == len(NOTES) + 1 and all(p is not None for p in processed)


def test_a_rolled_back_change_queues_nothing(store: Store, index: NoteIndex) -> None:
    record_notes(store)
    drain_outbox(store, index)
    try:
        with store.db.write() as session:
            enqueue_customer(session, "c1")
            raise RuntimeError("the handler failed")
    except RuntimeError:
        pass
    with store.db.read() as session:
        assert pending_count(session) == 0


def test_reassignment_reaches_the_metadata(store: Store, index: NoteIndex) -> None:
    ids = record_notes(store)
    drain_outbox(store, index)
    with store.db.write() as session:
        session.execute(update(Customer).where(Customer.id == "c1").values(owner_staff_id="rm2"))
        enqueue_customer(session, "c1")
    assert drain_outbox(store, index) == 2
    owners = {i: m["owner_staff_id"] for i, m, _ in index.entries(documents=False)}
    assert owners[ids[0]] == owners[ids[1]] == "rm2" and owners[ids[2]] == "rm2"
    assert owners[ids[3]] == "rm1"  # c4 still belongs to rm1
    with store.db.write() as session:  # rm1 moves to team T2: the notes of rm1's customers
        session.execute(update(Staff).where(Staff.id == "rm1").values(team_id="T2"))
        enqueue_owners(session, ["rm1"])
    assert drain_outbox(store, index) == 1  # only c4's note: c1 went to rm2 above
    teams = {i: m["team_id"] for i, m, _ in index.entries(documents=False)}
    assert teams[ids[3]] == "T2" and teams[ids[0]] == "T1"
    assert check(store, index).total == 0


def test_reindex_from_scratch_gives_the_same_ids_and_hits(
    store: Store, index: NoteIndex, e5: E5Embeddings, tmp_path: Path
) -> None:
    record_notes(store)
    drain_outbox(store, index)
    before_ids, before_hits = index.all_ids(), top_hits(index)
    # A brand-new folder, as after deleting the Chroma folder.
    fresh = NoteIndex(embedded_client(tmp_path / "fresh"), e5, owns_client=True)
    try:
        assert reindex(store, fresh, progress=False) == len(NOTES)
        assert fresh.all_ids() == before_ids
        assert top_hits(fresh) == before_hits
    finally:
        fresh.close()
    # And the same index dropped and rebuilt in place.
    assert reindex(store, index, progress=True) == len(NOTES)
    assert index.all_ids() == before_ids and top_hits(index) == before_hits


def test_reindex_covers_queued_rows_and_leaves_later_ones(store: Store, index: NoteIndex) -> None:
    ids = record_notes(store)
    reindex(store, index, progress=False)
    with store.db.read() as session:
        assert pending_count(session) == 0  # the rebuild read all of them
    with store.db.write() as session:
        enqueue(session, ids[0], "upsert")
    with store.db.read() as session:
        assert pending_count(session) == 1


def test_check_finds_and_repairs_drift(store: Store, index: NoteIndex) -> None:
    ids = record_notes(store)
    drain_outbox(store, index)
    assert check(store, index).total == 0
    index.delete([ids[2]])  # lost from the index
    index.upsert([entry("Nghost", "c1", "一条SQL里没有的记录")])  # left behind
    with store.db.write() as session:  # reassigned without queueing
        session.execute(update(Customer).where(Customer.id == "c8").values(owner_staff_id="rm1"))
    drift = check(store, index)
    assert drift.missing == [ids[2]]
    assert drift.extra == ["Nghost"]
    assert drift.stale == [ids[5]]
    assert check(store, index, repair=True) == drift
    assert check(store, index).total == 0
    assert index.all_ids() == set(ids)
    owners = {i: m["owner_staff_id"] for i, m, _ in index.entries(documents=False)}
    assert owners[ids[5]] == "rm1"


def test_check_sees_edited_text(store: Store, index: NoteIndex) -> None:
    ids = record_notes(store)
    drain_outbox(store, index)
    from crm_store.models import Interaction

    with store.db.write() as session:
        note = session.get(Interaction, ids[0])
        assert note is not None
        note.content = "张伟改为关注债券基金"
        note.occurred_at = NOW + timedelta(days=1)
    drift = check(store, index, repair=True)
    assert drift.stale == [ids[0]]
    assert index.search("债券基金", customer_ids=["c1"], k=1)[0].occurred_on == 20261129
