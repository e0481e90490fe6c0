"""The door every message passes before it is stored or read: a size cap, no control bytes.

A message longer than the cap (BANKBOT_MAX_MESSAGE_CHARS) keeps nothing of its text: it
becomes OVERSIZE, which the dispatcher answers with a short "too long" reply and audits with
no text. The marker begins with a control character the door removes from every real
message, so nobody can type it, and it survives the inbox row of WeCom and Telegram (the
message is rebuilt from the row after a restart).
Control characters other than tab and line breaks (NUL, ESC sequences' ESC, DEL) are dropped:
PostgreSQL refuses NUL in text, and none of them means anything in a chat message.
"""

from __future__ import annotations

import re
from dataclasses import replace

from handlers.contracts import IncomingMessage

OVERSIZE = "\x1a"  # SUB: "substitute", never left in a typed message
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def admit(message: IncomingMessage, max_chars: int) -> IncomingMessage:
    """The message as it may be stored and read: capped, without control characters."""
    if message.text == OVERSIZE:
        return message  # admitted before (the inbox row of an oversize message)
    text = _CONTROL.sub("", message.text)
    if len(text) > max_chars:
        return replace(message, text=OVERSIZE)
    return message if text == message.text else replace(message, text=text)


def is_oversize(message: IncomingMessage) -> bool:
    """Whether the door cut this message's text away."""
    return message.text == OVERSIZE
