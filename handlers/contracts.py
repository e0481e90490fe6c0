"""The small, stable contracts shared by handlers, the scheduler and every channel adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:  # made only by the reply guard, which imports this module
    from handlers.guard import GuardedReply

ChatType = Literal["private", "group"]


@dataclass(frozen=True)
class VoiceNote:
    """Where a voice message's audio can be fetched (never the audio itself)."""

    ref: str  # WeCom MediaId, Telegram file_id
    format: str  # as the platform says: "amr", "ogg", "mp3", ...
    seconds: int | None = None  # the platform's duration, when it gives one
    size: int | None = None  # bytes, when the platform gives it


@dataclass(frozen=True)
class IncomingMessage:
    """One message from a person, whatever platform it came from."""

    channel: str
    sender_id: str
    chat_id: str
    chat_type: ChatType
    msg_id: str
    text: str
    received_at: datetime
    raw: dict[str, Any] = field(default_factory=dict)
    # A voice message: `text` is empty until transcribed, then holds the transcript.
    voice: VoiceNote | None = None

    @property
    def source(self) -> Literal["text", "voice"]:
        """Whether the person typed the text or spoke it."""
        return "voice" if self.voice is not None else "text"


@dataclass(frozen=True)
class Event:
    """A machine-readable fact about what a reply did (for tests, `ask --json` and audit)."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The event as one flat JSON object."""
        return {"type": self.type, **self.data}


@dataclass(frozen=True)
class Reply:
    """What a handler returns: text for the person and events for machines."""

    text: str
    events: tuple[Event, ...] = ()
    # Names the handler rendered on purpose from trusted data (staff and branch names, fixed
    # help text): the guard must not mistake them for a hidden customer with the same name.
    allowed_names: frozenset[str] = frozenset()

    def customer_ids(self) -> list[str]:
        """Every customer id this reply discloses, in order, without repeats."""
        seen: dict[str, None] = {}
        for event in self.events:
            for key in ("customer_id",):
                if event.data.get(key):
                    seen.setdefault(str(event.data[key]), None)
            for cid in event.data.get("customer_ids", []) or []:
                seen.setdefault(str(cid), None)
            for cid in event.data.get("candidates", []) or []:
                seen.setdefault(str(cid), None)
        return list(seen)


class Channel(Protocol):
    """A way to reach a staff member: console, WeCom, Telegram."""

    name: str

    async def send(self, recipient: str, reply: GuardedReply) -> None:
        """Deliver `reply` to `recipient` (a platform user id, never a group). Only a reply
        that passed the reply guard can be sent: implementations call `require_guarded`."""
        ...
