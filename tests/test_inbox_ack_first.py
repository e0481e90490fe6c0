"""Acknowledgements first: an answer waits for a burst of callbacks to be taken in."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from bot import inbox as inbox_module
from bot.inbox import Inbox
from bot.intake_mark import MARK_EVERY, IntakeMark


def waited(inbox: Inbox) -> float:
    started = time.monotonic()
    asyncio.run(inbox._wait_for_quiet_intake())
    return time.monotonic() - started


def test_an_answer_waits_for_a_quiet_intake_but_not_forever(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(inbox_module, "ACK_QUIET", 0.05)
    monkeypatch.setattr(inbox_module, "ACK_FIRST_MAX_WAIT", 0.4)
    inbox = Inbox.__new__(Inbox)  # only the intake clocks are involved
    inbox._last_intake = time.monotonic() - 10
    inbox._mark = IntakeMark(tmp_path)  # no mark yet: quiet
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


def test_an_answer_process_waits_for_serves_intake(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """serve (storing only) marks each burst in the home folder; an answer process, with no
    callbacks of its own, reads the mark and waits for the same quiet."""
    monkeypatch.setattr(inbox_module, "ACK_QUIET", 0.05)
    monkeypatch.setattr(inbox_module, "ACK_FIRST_MAX_WAIT", 0.4)
    answering = Inbox.__new__(Inbox)
    answering._last_intake = time.monotonic() - 10
    answering._mark = IntakeMark(tmp_path)
    serve_side = IntakeMark(tmp_path)
    serve_side.touch()
    assert (tmp_path / ".bankbot.intake").stat().st_mode & 0o777 == 0o600
    assert 0.03 <= waited(answering) < 0.2  # a callback just now in serve: until quiet
    assert waited(answering) < 0.02  # quiet since
    time.sleep(MARK_EVERY)
    serve_side.touch()
    assert abs(answering._mark.last() - time.time()) < 0.05
