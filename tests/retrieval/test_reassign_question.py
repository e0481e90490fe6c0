"""After `staff reassign`, the new owner's very next question finds the moved customer's notes
and the old owner's does not; the index metadata follows through the outbox."""

from __future__ import annotations

from typing import Any

from bot.dispatch import Dispatcher
from crm_store.index_outbox import pending_count
from crm_store.reassign import reassign
from crm_store.store import Store
from retrieval.index import NoteIndex
from retrieval.search import Retriever
from retrieval.sync import drain_outbox
from tests.assistant import Assistant
from tests.retrieval.conftest import record_notes
from tests.world import NOW


def ask(store: Store, index: NoteIndex, staff_id: str, text: str) -> Any:
    """One question through the dispatcher, as the console sends it."""
    bot = Assistant(store, NOW)
    bot.dispatcher = Dispatcher(store, clock=lambda: bot.now, retriever=Retriever(index))
    return bot.say(staff_id, text)


def test_new_owner_asks_over_the_notes_right_after(store: Store, index: NoteIndex) -> None:
    notes = record_notes(store)
    drain_outbox(store, index)
    before = ask(store, index, "rm2", "张伟上次聊了什么？")
    assert "c1" not in before.reply.customer_ids()  # rm2's grant on c1 ended yesterday
    with store.db.write() as s:
        reassign(s, from_staff="rm1", to_staff="rm2", now=NOW, customer_ids=["c1"])
        assert pending_count(s) == 2  # c1's two notes, queued with the move
    # Straight after the commit, before anything applied the outbox: the scope is SQL's.
    said = ask(store, index, "rm2", "张伟上次聊了什么？")
    data = said.event("question_answered")
    assert data["customer_ids"] == ["c1"] and set(data["notes"]) == {notes[0], notes[1]}
    assert "基金定投" in said.text
    gone = ask(store, index, "rm1", "张伟上次聊了什么？")
    assert "c1" not in gone.reply.customer_ids()
    assert "基金定投" not in gone.text and "转账限额" not in gone.text
    with store.db.read() as s:  # the dispatcher applied the queued rows after answering
        assert pending_count(s) == 0
    moved = [m for i, m, _ in index.entries(documents=False) if i in (notes[0], notes[1])]
    assert [(m["owner_staff_id"], m["staff_id"]) for m in moved] == [("rm2", "rm1")] * 2
