"""A question about the one customer a message told apart, by customer number ("C20001最近聊了什么")
or a namesake by phone tail, is about that customer; nothing for whoever may not see them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.dispatch import Dispatcher
from crm_store.notes import record_note
from crm_store.store import Store
from retrieval.index import NoteIndex
from retrieval.search import Retriever
from retrieval.sync import drain_outbox
from tests.assistant import Assistant
from tests.retrieval.conftest import ensure_queued, record_notes
from tests.world import NOW, customer


def ask(store: Store, index: NoteIndex, staff_id: str, text: str) -> Any:
    bot = Assistant(store, NOW)
    bot.dispatcher = Dispatcher(store, clock=lambda: bot.now, retriever=Retriever(index))
    return bot.say(staff_id, text)


def test_a_question_by_customer_number(store: Store, index: NoteIndex) -> None:
    record_notes(store)
    with store.db.write() as session:
        session.add(
            customer(store.cipher, "C20001", "于伟", "rm1", "B2", "regular", "15300002252", None)
        )
        session.flush()
        saved = record_note(
            session,
            staff_id="rm1",
            customer_id="C20001",
            content="客户想把到期的定期转成国债逆回购，担心手续费",
            occurred_at=NOW - timedelta(days=1),
            channel="console",
            source_message_id=None,
            next_followup_on=None,
        )
        ensure_queued(session, saved.interaction_id, "upsert")
    drain_outbox(store, index)

    said = ask(store, index, "rm1", "C20001最近聊了什么")
    assert said.event("question_answered")["customer_ids"] == ["C20001"]
    assert "于伟" in said.text and "国债逆回购" in said.text
    hidden = ask(store, index, "rm9", "C20001最近聊了什么")
    assert "于伟" not in hidden.text and "国债逆回购" not in hidden.text
    assert "C20001" not in hidden.reply.customer_ids()


def test_a_question_about_a_namesake_told_apart_by_phone_tail(
    store: Store, index: NoteIndex
) -> None:
    record_notes(store)
    drain_outbox(store, index)
    said = ask(store, index, "rm1", "王芳 尾号3333上次聊了什么")  # rm1 sees two 王芳
    assert "clarification_requested" not in said.types()
    assert said.event("question_answered")["customer_ids"] == ["c4"]
    assert "136****3333" in said.text and "135****4444" not in said.text
