"""A size cap at the door for every channel: a short reply, nothing stored beyond the cap."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.cli import app
from bot.dispatch import Dispatcher
from bot.door import OVERSIZE, admit
from bot.inbox import Inbox
from crm_store.models import AuditLog, ChannelIdentity, InboxMessage, Interaction
from crm_store.settings import Settings
from crm_store.store import Store, init_store
from handlers.contracts import IncomingMessage, Reply
from tests.assistant import Assistant, platform_message
from tests.test_cli import env_for
from tests.world import NOW, build_world

CAP = 4000
LONG_TEXTS = [
    "记录：张伟" + "很" * CAP,  # one character over the cap
    "查一下张伟" * 2000,
    "x" * (5 * 1024 * 1024),  # 5 MB
]


def _stored_text_lengths(store: Store) -> list[int]:
    with store.db.read() as s:
        audit = s.scalars(select(AuditLog.text_masked)).all()
        inbox = s.scalars(select(InboxMessage.text)).all()
    return [len(t) for t in (*audit, *inbox)]


def test_the_door_keeps_messages_at_the_cap_and_drops_control_bytes() -> None:
    at_cap = platform_message("telegram", "1", "张" * CAP, NOW)
    assert admit(at_cap, CAP) == at_cap
    over = platform_message("telegram", "1", "张" * (CAP + 1), NOW)
    assert admit(over, CAP).text == OVERSIZE
    assert admit(admit(over, CAP), CAP).text == OVERSIZE
    typed = platform_message("telegram", "1", f"{OVERSIZE}查一下\x00张伟\x1b[2J", NOW)
    assert admit(typed, CAP).text == "查一下张伟[2J"  # nobody can type the marker


@pytest.mark.parametrize("text", LONG_TEXTS, ids=["cap+1", "10k", "5MB"])
def test_console_over_the_cap_gets_a_short_reply(store: Store, text: str) -> None:
    build_world(store)
    said = Assistant(store, NOW).say("rm1", text)
    assert said.event("refused") == {"reason": "too_long"}
    assert "4000" in said.text and len(said.text) < 100
    with store.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == 0
        [row] = s.scalars(select(AuditLog)).all()
    assert (row.intent, row.decision) == ("too_long", "refused")
    assert row.text_masked == ""  # not even the door's marker
    assert max(_stored_text_lengths(store)) <= 1


def test_a_message_at_the_cap_is_read(store: Store) -> None:
    build_world(store)
    note = "记录：张伟" + "好" * (CAP - 5)
    said = Assistant(store, NOW).say("rm1", note)
    assert "too_long" not in str(said.reply.events)


def test_cli_ask_over_the_cap(settings: Settings) -> None:
    store, _ = init_store(settings)
    build_world(store)
    store.close()
    result = CliRunner().invoke(
        app, ["ask", "--as", "rm1", "--json", "记录：张伟" + "很" * CAP], env=env_for(settings)
    )
    assert result.exit_code == 0, result.output
    assert '"reason": "too_long"' in result.stdout
    store, _ = init_store(settings)
    assert max(_stored_text_lengths(store)) <= 1
    store.close()


class _Recorded:
    """A channel that keeps what it was asked to send."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, recipient: str, reply: Reply) -> None:
        self.sent.append((recipient, reply))


@pytest.mark.parametrize("channel", ["wecom", "telegram"])
def test_platform_messages_over_the_cap_store_nothing_of_the_text(
    store: Store, channel: str
) -> None:
    build_world(store)
    with store.db.write() as s:
        s.add(ChannelIdentity(channel=channel, external_id="u1", staff_id="rm1", bound_at=NOW))
    sink = _Recorded(channel)
    inbox = Inbox(store, Dispatcher(store, clock=lambda: NOW), {channel: sink})
    message = IncomingMessage(
        channel=channel,
        sender_id="u1",
        chat_id="u1",
        chat_type="private",
        msg_id=uuid.uuid4().hex,
        text="记录：张伟" + "很" * (5 * 1024 * 1024),
        received_at=NOW,
    )

    async def deliver() -> None:
        inbox_id = inbox.accept(message)
        assert inbox_id is not None
        await inbox.process(inbox_id)

    try:
        asyncio.run(deliver())
    finally:
        inbox.close()
    [(to, reply)] = sink.sent
    assert to == "u1" and "4000" in reply.text
    assert max(_stored_text_lengths(store)) <= 1
    with store.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == 0
