"""Acknowledgements first: an answer waits for a burst of callbacks to be taken in."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot import inbox as inbox_module
from bot.inbox import Inbox


def waited(inbox: Inbox) -> float:
    started = time.monotonic()
    asyncio.run(inbox._wait_for_quiet_intake())
    return time.monotonic() - started


def test_an_answer_waits_for_a_quiet_intake_but_not_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inbox_module, "ACK_QUIET", 0.05)
    monkeypatch.setattr(inbox_module, "ACK_FIRST_MAX_WAIT", 0.4)
    inbox = Inbox.__new__(Inbox)  # only the intake clock is involved
    inbox._last_intake = time.monotonic() - 10
    assert waited(inbox) < 0.02  # nothing arrived lately: at once

    inbox._last_intake = time.monotonic()
    assert 0.04 <= waited(inbox) < 0.2  # one callback just now: until it has been quiet

    stop = threading.Event()

    def burst() -> None:  # callbacks every 10 ms, never quiet
        while not stop.is_set():
            inbox._last_intake = time.monotonic()
            time.sleep(0.01)

    sender = threading.Thread(target=burst)
    sender.start()
    try:
        assert 0.35 <= waited(inbox) < 0.6  # a burst that goes on: the cap
    finally:
        stop.set()
        sender.join()
