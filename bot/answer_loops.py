"""Threads that answer: each runs an event loop, and every answer is a task on one of them.

A thread does one answer's SQL and embedding at a time (blocking calls, so its loop runs
nothing else meanwhile); while an answer waits on the LLM (retrieval/llm_gate.py) its thread
goes on with the others. So answers in flight follow LLM_MAX_CONCURRENCY, and the threads
follow what the database pool and the cores can take, not how long the LLM thinks.

An answer must never wait on anything while it holds a database connection or the write
lock: another answer on the same thread would then block the thread on that connection or
lock, and the first could never go on. Questions give their read connection back before the
LLM (`crm_store.db.end_reads`), and the LLM gate refuses a call inside a write transaction.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy import Engine

T = TypeVar("T")

# Connections the inbox needs besides the answers: its insert transaction, and health checks.
RESERVED_CONNECTIONS = 2


def answer_thread_count(engine: Engine) -> int:
    """Threads for answering: one per core and two more (an answer also waits on commits and,
    on PostgreSQL, on round trips), and fewer than the pool's connections so that the
    acknowledgements' insert always finds one. On 2 cores with SQLite, bench_serve with 5 s
    answers kept 61 of 64 LLM slots busy with 4 threads and 37 with 2 (on a busier machine)."""
    wanted = (os.cpu_count() or 1) + 2
    capacity = pool_capacity(engine)
    if capacity is None:
        return wanted
    return max(1, min(wanted, capacity - RESERVED_CONNECTIONS))


def pool_capacity(engine: Engine) -> int | None:
    """How many connections the engine's pool hands out at most; None for no limit."""
    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", None)
    if not callable(size) or not isinstance(overflow, int):
        return None  # NullPool, StaticPool and the like: no pool limit to respect
    if overflow < 0:
        return None  # QueuePool(max_overflow=-1): unbounded
    return int(size()) + overflow


class AnswerLoops:
    """`count` threads, each with an event loop; answers go to the least busy one."""

    def __init__(self, count: int, name: str = "inbox-answer") -> None:
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._threads: list[threading.Thread] = []
        self._busy: list[int] = []  # answers on each loop, changed on the serving loop only
        self._name = name
        self.count = count

    async def run(self, answer: Coroutine[Any, Any, T]) -> T:
        """Run the `answer` coroutine to its end on one of the threads' loops."""
        self._start()
        n = min(range(self.count), key=self._busy.__getitem__)
        self._busy[n] += 1
        try:
            # The task copies this context (context variables travel as with to_thread).
            future = asyncio.run_coroutine_threadsafe(answer, self._loops[n])
            return await asyncio.wrap_future(future)
        finally:
            self._busy[n] -= 1

    def _start(self) -> None:
        if self._loops:
            return
        for n in range(self.count):
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name=f"{self._name}-{n}", daemon=True
            )
            thread.start()
            self._loops.append(loop)
            self._threads.append(thread)
            self._busy.append(0)

    def close(self, timeout: float = 60.0) -> None:
        """Stop the threads once the answers on them have finished (or after `timeout` s)."""
        for loop in self._loops:
            asyncio.run_coroutine_threadsafe(_finish_and_stop(timeout), loop)
        for loop, thread in zip(self._loops, self._threads, strict=True):
            thread.join(timeout + 5)
            if not thread.is_alive():
                loop.close()
        self._loops, self._threads, self._busy = [], [], []


async def _finish_and_stop(timeout: float) -> None:
    """On a thread's loop: wait for its other tasks, then stop the loop."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if others:
        await asyncio.wait(others, timeout=timeout)
    asyncio.get_running_loop().stop()
