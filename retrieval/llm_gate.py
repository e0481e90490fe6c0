"""Where LLM calls run: one event loop of their own, at most LLM_MAX_CONCURRENCY at once.

An answer waiting seconds for the model holds no thread and no database connection: the
request is a coroutine on this loop, bounded by an asyncio.Semaphore, while the thread that
prepared it (SQL, embedding) goes on with other answers. One loop for every call also keeps the
OpenAI client's async HTTP connection pool on the loop it was made on, whichever thread asks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from crm_store.db import in_write_transaction

T = TypeVar("T")

DEFAULT_LIMIT = 32


class LlmInWriteTransaction(RuntimeError):
    """An LLM call was asked for inside a write transaction: it would hold the write lock
    (SQLite: every writer of the process, acknowledgements included) for seconds."""


class LlmGate:
    """Runs LLM calls on a loop of its own, at most `limit` in flight."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("the LLM gate needs a limit of at least 1")
        self.limit = limit
        self.in_flight = 0
        self.most_in_flight = 0  # the highest `in_flight` seen, for tests and the bench
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def call(self, make: Callable[[], Awaitable[T]], *, timeout: float) -> T:
        """`make()` awaited on the gate's loop: up to `timeout` s for a free slot, then up to
        `timeout` s for the call itself. Raises TimeoutError past either."""
        if in_write_transaction():
            raise LlmInWriteTransaction("no LLM call inside a write transaction")
        future = asyncio.run_coroutine_threadsafe(self._bounded(make, timeout), self._start())
        # Cancelling the caller (its own timeout, shutdown) cancels the call on the gate's loop.
        return await asyncio.wrap_future(future)

    async def _bounded(self, make: Callable[[], Awaitable[T]], timeout: float) -> T:
        assert self._semaphore is not None
        await asyncio.wait_for(self._semaphore.acquire(), timeout)
        self.in_flight += 1  # only ever changed on the gate's loop
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await asyncio.wait_for(make(), timeout)
        finally:
            self.in_flight -= 1
            self._semaphore.release()

    def _start(self) -> asyncio.AbstractEventLoop:
        """The gate's loop, started on first use (a process without an LLM never starts it)."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=_run_loop, args=(loop, ready), name="llm-gate", daemon=True
                )
                thread.start()
                ready.wait()
                # Made on the loop's own thread: the semaphore belongs to that loop.
                self._semaphore = asyncio.run_coroutine_threadsafe(
                    _semaphore(self.limit), loop
                ).result()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        """Stop the gate's loop (calls still in flight are cancelled)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = self._semaphore = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(_cancel_all_and_stop, loop)
        thread.join(10)
        if not thread.is_alive():
            loop.close()


def _run_loop(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()


async def _semaphore(limit: int) -> asyncio.Semaphore:
    return asyncio.Semaphore(limit)


def _cancel_all_and_stop(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel()
    loop.call_soon(loop.stop)
