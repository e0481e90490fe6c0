"""Before any parsing: binding a chat account with a one-time code, and keeping strangers
from using the bot as an oracle (one short generic reply, then silence for a while)."""

from __future__ import annotations

import re
import time
from collections import defaultdict, deque
from datetime import datetime

from sqlalchemy.orm import Session

from crm_store.binding import redeem_code
from crm_store.crypto import FieldCipher
from crm_store.models import Staff
from handlers.contracts import Event, IncomingMessage, Reply
from handlers.texts import t

BIND = re.compile(r"^/bind\s+([A-Za-z0-9]{4,16})$")


class StrangerLimit:
    """At most `replies` answers per `window` seconds to one unknown sender (per process)."""

    def __init__(self, replies: int = 3, window: float = 600.0) -> None:
        self.replies = replies
        self.window = window
        self._seen: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def allow(self, channel: str, sender: str) -> bool:
        """Whether this sender may get one more reply now."""
        now = time.monotonic()
        seen = self._seen[(channel, sender)]
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.replies:
            return False
        seen.append(now)
        return True


def bind_request(message: IncomingMessage) -> str | None:
    """The code in a '/bind CODE' message, or None."""
    m = BIND.match(message.text.strip())
    return m.group(1) if m else None


def bind_account(
    session: Session,
    message: IncomingMessage,
    code: str,
    now: datetime,
    lang: str,
    cipher: FieldCipher,
) -> Reply:
    """Redeem a code for the sender's platform account (private chats only)."""
    if message.chat_type != "private":
        return Reply(t("group_chat", lang), (Event("refused", {"reason": "group_chat"}),))
    staff_id = redeem_code(
        session,
        code=code,
        channel=message.channel,
        external_id=message.sender_id,
        now=now,
        cipher=cipher,
    )
    if staff_id is None:
        return Reply(t("bind_failed", lang), (Event("refused", {"reason": "bad_code"}),))
    staff = session.get(Staff, staff_id)
    name = staff.name if staff else staff_id
    return Reply(t("bound", lang, name=name), (Event("bound", {"staff_id": staff_id}),))


def stranger_reply(
    limit: StrangerLimit, message: IncomingMessage, lang: str, *, deactivated: bool = False
) -> Reply:
    """The one generic answer for unknown senders, or "deactivated" for a departed staff
    member's own account; empty when over the limit.

    Saying "deactivated" leaks nothing: only an account bound to that staff member gets it,
    and whoever holds it knows whose it is. Unknown senders learn nothing either way."""
    reason = "deactivated" if deactivated else "unknown_sender"
    event = (Event("refused", {"reason": reason}),)
    if not limit.allow(message.channel, message.sender_id):
        return Reply("", event)  # adapters send nothing for an empty reply
    return Reply(t(reason, lang), event)
