"""A voice message's inbox row keeps its platform reference (never audio) across a restart."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from crm_store.models import InboxMessage
from crm_store.store import Store
from handlers.contracts import IncomingMessage, VoiceNote


def test_a_stored_voice_message_comes_back_with_its_reference(store: Store) -> None:
    voice = VoiceNote(ref="MEDIA-1", format="amr", seconds=None, size=None)
    message = IncomingMessage(
        channel="wecom",
        sender_id="wangfang",
        chat_id="wangfang",
        chat_type="private",
        msg_id="9100000000000000001",
        text="",
        received_at=datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
        voice=voice,
    )
    inbox = Inbox(store, Dispatcher(store), {})
    try:
        inbox_id = inbox.accept(message)
        assert inbox_id is not None and inbox.accept(message) is None
        with store.db.read() as session:
            row = session.scalars(select(InboxMessage)).one()
            assert row.text == "" and row.voice is not None and "MEDIA-1" in row.voice
        claimed = inbox._claim(inbox_id, datetime.now(UTC))
        assert claimed is not None and claimed.voice == voice and claimed.source == "voice"
    finally:
        inbox.close()
