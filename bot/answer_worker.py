"""Answering in processes of their own, so the web process only acknowledges.

With ANSWER_PROCESSES=N (N >= 1) `bankbot serve` stores each callback and acknowledges it,
and N answer processes (`python -m bot.answer_worker`, started and restarted by serve) claim
the stored messages and answer them. Why: on 2 cores the answers' CPU work (the query
embedding, Chroma, SQL, the LLM client) held the interpreter lock that the acknowledging loop
needs, and ack p99 was 15.7x its floor (bench/bench_serve.py). A process has a lock of its own.

An answer process looks at the inbox every POLL_SECONDS (one indexed query) and answers what
is pending, through the inbox's own claims: two processes never answer one message, and a
message claimed by a process that died is taken again after INBOX_LEASE_SECONDS. It holds the
note index (the embedded one, or its share of a Chroma server) and keeps it current, and it
sends replies through the platforms' clients as serve would.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.inbox import Inbox
from crm_store.store import Store

if TYPE_CHECKING:
    from bot.web import PlatformAdapter

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1  # a new message waits this long at most before an answer process sees it
RESTART_AFTER_SECONDS = 2.0  # serve restarts an answer process that exited, this often at most


class AnswerLoop:
    """Looks at the inbox on a short timer and answers every unfinished message once."""

    def __init__(self, inbox: Inbox, poll: float = POLL_SECONDS) -> None:
        self.inbox = inbox
        self.poll = poll
        self._inflight: set[int] = set()
        self._tasks: set[asyncio.Task[object]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; then wait for the answers in flight."""
        while not stop.is_set():
            try:
                self._take(await asyncio.to_thread(self.inbox.unfinished, datetime.now(UTC)))
            except Exception:  # the database is away: look again shortly
                log.exception("could not read the inbox; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=60)

    def _take(self, ids: list[int]) -> None:
        for inbox_id in ids:
            if inbox_id in self._inflight:
                continue  # ours already, not yet claimed or still being answered
            self._inflight.add(inbox_id)
            task: asyncio.Task[object] = asyncio.create_task(self.inbox.process(inbox_id))
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._done, inbox_id=inbox_id))

    def _done(self, task: asyncio.Task[object], *, inbox_id: int) -> None:
        self._tasks.discard(task)
        self._inflight.discard(inbox_id)
        if not task.cancelled() and task.exception() is not None:
            log.error("answering inbox message %s failed: %s", inbox_id, task.exception())


def main() -> None:
    """One answer process: the settings from the environment, until SIGTERM."""
    from bot import logs
    from bot.cli_common import store_from_env
    from bot.serve import service_secrets

    serve = serve_pid(sys.argv[1:])  # first: serve may be killed while this one starts
    logs.configure()
    polling = "--telegram-polling" in sys.argv[1:]
    store = store_from_env()
    logs.register_secrets(service_secrets(store))
    # Answers may wait; acknowledgements may not: under contention the kernel runs serve first.
    os.nice(store.settings.answer_process_nice)
    try:
        asyncio.run(_serve_answers(store, polling, serve))
    finally:
        store.close()


def serve_pid(args: list[str]) -> int:
    """The pid of the serve process that started this one: `--serve-pid N`, else the parent
    now (a process started by hand)."""
    if "--serve-pid" in args[:-1]:
        return int(args[args.index("--serve-pid") + 1])
    return os.getppid()


def open_sealed_callbacks(inbox: Inbox, adapters: Sequence[PlatformAdapter]) -> None:
    """Serve stores callbacks sealed (bot/wecom.py); this process's claims open them with
    their platform's opener. Without one, this process leaves them to another."""
    for adapter in adapters:
        opener = getattr(adapter, "open_sealed", None)
        if opener is not None:
            inbox.open_sealed_with(adapter.name, opener)


async def _serve_answers(store: Store, polling: bool, serve: int) -> None:
    from bot.dispatch import Dispatcher
    from bot.index_upkeep import IndexUpkeep, requests_folder
    from bot.serve import open_retriever, platform_adapters, voice_notes, warm_up

    adapters = platform_adapters(store, telegram_polling=polling)  # clients only: no routes
    channels = {a.name: a.channel for a in adapters}
    retriever = open_retriever(store)
    upkeep = None
    if retriever is not None:
        warm_up(retriever)
        upkeep = IndexUpkeep(
            store, retriever.index, requests=requests_folder(store), questions=retriever
        )
        upkeep.start()
    dispatcher = Dispatcher(store, retriever=retriever, voice=voice_notes(adapters))
    inbox = Inbox(store, dispatcher, channels)
    open_sealed_callbacks(inbox, adapters)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    for adapter in adapters:
        await adapter.start()
    log.info("answer process ready")
    orphaned = asyncio.create_task(_stop_when_orphaned(stop, serve))
    try:
        await AnswerLoop(inbox).run(stop)
    finally:
        orphaned.cancel()
        for adapter in adapters:
            await adapter.stop()
        await asyncio.to_thread(inbox.close)
        if upkeep is not None:
            upkeep.stop()
        if retriever is not None:
            retriever.close()


async def _stop_when_orphaned(stop: asyncio.Event, serve: int) -> None:
    """Stop when serve is gone (killed: it could not stop us), so that no answer process
    outlives it holding the note index. `serve` is its pid as serve passed it: read here
    after the start-up (the model loads for seconds), the parent would already be init when
    serve was killed meanwhile, and the process would never stop."""
    while not stop.is_set():
        if os.getppid() != serve:
            log.warning("serve is gone: the answer process stops")
            stop.set()
        await asyncio.sleep(1.0)


class AnswerProcesses:
    """Serve's side: start N answer processes, restart any that exits, stop them at the end."""

    def __init__(self, count: int, *, telegram_polling: bool = False) -> None:
        self.argv = [sys.executable, "-m", "bot.answer_worker", "--serve-pid", str(os.getpid())]
        if telegram_polling:
            self.argv.append("--telegram-polling")
        self.processes: list[subprocess.Popen[bytes]] = []
        self.count = count
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="answer-processes", daemon=True)

    def start(self) -> None:
        """Start them, and a thread that restarts any that exits."""
        self.processes = [subprocess.Popen(self.argv) for _ in range(self.count)]
        self._watcher.start()

    def alive(self) -> int:
        """How many are running (for /healthz)."""
        return sum(1 for p in self.processes if p.poll() is None)

    def _watch(self) -> None:
        while not self._stop.wait(RESTART_AFTER_SECONDS):
            for n, process in enumerate(self.processes):
                if process.poll() is not None and not self._stop.is_set():
                    # A clean exit is a stop from outside serve (SIGTERM by hand): no crash.
                    level = logging.WARNING if process.returncode == 0 else logging.ERROR
                    log.log(
                        level,
                        "answer process %s %s: starting it again",
                        n,
                        exit_reason(process.returncode),
                    )
                    self.processes[n] = subprocess.Popen(self.argv)

    def stop(self, timeout: float = 70.0) -> None:
        """SIGTERM each; it finishes its answers in flight (up to a minute), then goes."""
        self._stop.set()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()


def exit_reason(returncode: int) -> str:
    """How a process ended, in an admin's words."""
    if returncode == 0:
        return "stopped (exit status 0)"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"failed (exit status {returncode})"


if __name__ == "__main__":
    main()
