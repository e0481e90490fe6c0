"""What an audit row says about a voice message (kept apart: the dispatcher needs only this)."""

from __future__ import annotations

from handlers.contracts import IncomingMessage


def voice_detail(message: IncomingMessage) -> str:
    """That the message was spoken, and how long it was; empty for typed text."""
    voice = message.voice
    if voice is None:
        return ""
    seconds = "?" if voice.seconds is None else str(voice.seconds)
    return f"source=voice seconds={seconds}"
