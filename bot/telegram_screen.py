"""Telegram updates that are audited but never handled as a request.

- `edited_message` / `edited_channel_post`: re-running an edited "记录：..." would record a
  second note, and an edit is not a new question. Audited as `ignored`.
- `channel_post`: a channel has no sender to answer. Audited as `ignored`.
- A private update whose chat is not the sender's own chat (Telegram never sends one; a forged
  or replayed update might): audited as `refused` and not answered, so nothing is posted into
  a chat we cannot vouch for.
- Plain group chatter (not a command, no mention): one offer to continue in private per group
  every `OFFER_EVERY` seconds goes through the dispatcher (its group refusal, audited); the rest
  is audited as `ignored`, so a busy group is not flooded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from telegram import Chat, Update
from telegram.constants import ChatType

from bot.door import admit
from bot.identity import resolve_actor
from bot.telegram_channel import CHANNEL
from crm_store.audit import write_audit
from crm_store.redaction import clean_text
from crm_store.store import Store
from handlers.contracts import IncomingMessage

OFFER_EVERY = 600.0


@dataclass(frozen=True)
class Unanswered:
    """What the audit row of an update nobody answers records."""

    reason: str  # edited | channel_post | chat_mismatch | group_chatter
    sender_id: str
    chat_id: str
    chat_type: str
    text: str

    @property
    def decision(self) -> str:
        """A chat that is not the sender's is refused; the rest is ignored on purpose."""
        return "refused" if self.reason == "chat_mismatch" else "ignored"


def screen_update(update: Update) -> Unanswered | None:
    """The update when it is one of those above (group chatter aside), else None."""
    edited = update.edited_message or update.edited_channel_post
    if edited is not None:
        sender = edited.from_user.id if edited.from_user else edited.chat.id
        return _unanswered("edited", sender, edited.chat.id, edited.chat.type, edited.text)
    post = update.channel_post
    if post is not None:
        return _unanswered("channel_post", post.chat.id, post.chat.id, post.chat.type, post.text)
    message = update.message
    person = message.from_user if message is not None else None
    if message is not None and person is not None and _foreign(message.chat, person.id):
        text = message.text or message.caption
        chat = message.chat
        return _unanswered("chat_mismatch", person.id, chat.id, chat.type, text)
    query = update.callback_query
    if (
        query is not None
        and query.message is not None
        and _foreign(query.message.chat, query.from_user.id)
    ):
        chat = query.message.chat
        return _unanswered("chat_mismatch", query.from_user.id, chat.id, chat.type, query.data)
    return None


def _foreign(chat: Chat, sender: int) -> bool:
    """A private chat is the sender's own: its id is the user's id."""
    return chat.type == ChatType.PRIVATE and chat.id != sender


def chatter(message: IncomingMessage, chat_type: str) -> Unanswered:
    """Group chatter that is audited only (its group had an offer a moment ago)."""
    return Unanswered("group_chatter", message.sender_id, message.chat_id, chat_type, message.text)


class GroupOffers:
    """At most one offer to continue in private per group chat every OFFER_EVERY seconds."""

    def __init__(self, every: float = OFFER_EVERY) -> None:
        self.every = every
        self._last: dict[str, float] = {}

    def allow(self, chat_id: str) -> bool:
        """Whether this group may get an offer now (and note that it got one)."""
        now = time.monotonic()
        if now - self._last.get(chat_id, -self.every) < self.every:
            return False
        self._last[chat_id] = now
        return True


def audit_unanswered(store: Store, seen: Unanswered) -> None:
    """One audit row for an update nobody answers: text capped and redacted like any other."""
    probe = IncomingMessage(
        channel=CHANNEL,
        sender_id=seen.sender_id,
        chat_id=seen.chat_id,
        chat_type="group" if seen.chat_type != "private" else "private",
        msg_id="",
        text=seen.text,
        received_at=datetime.now(UTC),
    )
    text = clean_text(admit(probe, store.settings.max_message_chars).text)
    with store.db.write() as session:
        actor = resolve_actor(session, channel=CHANNEL, sender_id=seen.sender_id)
        write_audit(
            session,
            at=probe.received_at,
            actor_staff_id=actor.staff_id if actor else None,
            channel=CHANNEL,
            sender_id=seen.sender_id,
            chat_type=seen.chat_type,
            intent=seen.reason,
            customer_ids=[],
            decision=seen.decision,
            text_masked=text,
            detail=f"chat={seen.chat_id}" if seen.chat_id != seen.sender_id else "",
        )


def _unanswered(
    reason: str, sender: int, chat_id: int, chat_type: str, text: str | None
) -> Unanswered:
    return Unanswered(reason, str(sender), str(chat_id), str(chat_type), text or "")
