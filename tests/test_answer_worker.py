"""An answer process stops once the serve process that started it is gone."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time

import pytest

from bot import answer_worker
from bot.answer_worker import AnswerProcesses, _stop_when_orphaned, exit_reason, serve_pid


def test_serve_passes_its_pid_and_the_worker_reads_it() -> None:
    processes = AnswerProcesses(1)
    assert processes.argv[-2:] == ["--serve-pid", str(os.getpid())]
    assert serve_pid(["--serve-pid", "4321", "--telegram-polling"]) == 4321
    assert serve_pid([]) == os.getppid()  # started by hand: its parent then


def test_a_worker_whose_serve_died_during_its_start_up_stops() -> None:
    """Serve was killed while the worker loaded its model: the worker's parent is already
    init when it first looks, which must not be taken for serve."""
    stop = asyncio.Event()

    async def watch() -> None:
        await asyncio.wait_for(_stop_when_orphaned(stop, serve=os.getppid() + 1), 5)

    asyncio.run(watch())
    assert stop.is_set()


def test_a_worker_whose_serve_lives_goes_on() -> None:
    stop = asyncio.Event()

    async def watch() -> None:
        task = asyncio.create_task(_stop_when_orphaned(stop, serve=os.getppid()))
        await asyncio.sleep(1.5)
        assert not stop.is_set()
        stop.set()
        await asyncio.wait_for(task, 3)

    asyncio.run(watch())


def test_how_an_answer_process_ended_is_told_in_an_admins_words() -> None:
    assert exit_reason(0) == "stopped (exit status 0)"
    assert exit_reason(1) == "failed (exit status 1)"
    assert exit_reason(-signal.SIGKILL) == "was killed by SIGKILL"
    assert exit_reason(-200) == "was killed by signal 200"


@pytest.mark.parametrize(
    ("code", "level", "told"),
    [
        ("import time; time.sleep(0.2)", logging.WARNING, "stopped (exit status 0)"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", logging.ERROR, "SIGKILL"),
    ],
)
def test_serve_restarts_an_answer_process_and_logs_how_it_ended(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    code: str,
    level: int,
    told: str,
) -> None:
    """A process stopped by hand (SIGTERM: a clean exit) is a warning, not a crash."""
    monkeypatch.setattr(answer_worker, "RESTART_AFTER_SECONDS", 0.05)
    processes = AnswerProcesses(1)
    processes.argv = [sys.executable, "-c", code]
    with caplog.at_level(logging.WARNING, logger="bot.answer_worker"):
        processes.start()
        try:
            deadline = time.monotonic() + 20
            while "starting it again" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            processes.stop(timeout=5)
    record = next(r for r in caplog.records if "starting it again" in r.getMessage())
    assert record.levelno == level
    assert told in record.getMessage()
