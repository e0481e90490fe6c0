"""An answer process stops once the serve process that started it is gone."""

from __future__ import annotations

import asyncio
import os

from bot.answer_worker import AnswerProcesses, _stop_when_orphaned, serve_pid


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
