"""Replies for channel tests that do not exercise the reply guard itself."""

from __future__ import annotations

from handlers import guard
from handlers.contracts import Reply


def sealed(reply: Reply) -> guard.GuardedReply:
    """`reply` as if it had passed the guard unchanged: for tests of a channel's sending and
    formatting only. Production code has no way to do this; only handlers/guard.py seals."""
    return guard.GuardedReply(reply.text, reply.events, guard._SEAL)
