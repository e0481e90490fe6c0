"""A one-line way to talk to the assistant in tests, through the real console adapter."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.console import console_message
from bot.dispatch import Dispatcher
from crm_store.store import Store
from handlers.contracts import IncomingMessage
from handlers.guard import GuardedReply


@dataclass
class Said:
    """A reply, with its events easy to query."""

    reply: GuardedReply
    text: str = field(init=False)

    def __post_init__(self) -> None:
        self.text = self.reply.text

    def event(self, kind: str) -> dict[str, Any]:
        """The one event of that type (fails the test if there is none)."""
        found = [e.data for e in self.reply.events if e.type == kind]
        assert found, f"no {kind} event in {[e.type for e in self.reply.events]}: {self.text}"
        return found[0]

    def types(self) -> list[str]:
        """Event types, in order."""
        return [e.type for e in self.reply.events]


class Assistant:
    """Sends messages as a staff member at a fixed time."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.now = now
        self.dispatcher = Dispatcher(store, clock=lambda: self.now)

    def say(self, staff_id: str, text: str, *, msg_id: str | None = None) -> Said:
        """One console message; `msg_id` repeats a delivery."""
        message = console_message(staff_id, text, self.now)
        if msg_id:
            message = IncomingMessage(**{**message.__dict__, "msg_id": msg_id})
        return self.send(message)

    def send(self, message: IncomingMessage) -> Said:
        """Any incoming message, for other channels and chat types."""
        return Said(asyncio.run(self.dispatcher.handle(message)))


def platform_message(
    channel: str, sender: str, text: str, now: datetime, chat_type: str = "private"
) -> IncomingMessage:
    """A message as a platform adapter would build it."""
    return IncomingMessage(
        channel=channel,
        sender_id=sender,
        chat_id=sender if chat_type == "private" else "group-1",
        chat_type=chat_type,  # type: ignore[arg-type]
        msg_id=uuid.uuid4().hex,
        text=text,
        received_at=now,
    )
