"""Answer threads: sized by the pool and the cores; answers waiting take no thread."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from sqlalchemy import create_engine

from bot.answer_loops import AnswerLoops, answer_thread_count, pool_capacity


def test_threads_follow_the_cores_and_leave_connections_for_the_acks(tmp_path: Path) -> None:
    cores = os.cpu_count() or 1
    sqlite = create_engine(f"sqlite:///{tmp_path}/x.db")
    server = create_engine("postgresql+psycopg://u@127.0.0.1/x", pool_size=2, max_overflow=1)
    assert pool_capacity(sqlite) == 15  # SQLAlchemy's QueuePool: 5 + 10 overflow
    assert answer_thread_count(sqlite) == min(cores + 2, 13)
    assert answer_thread_count(server) == 1  # 3 connections, 2 kept for the inbox
    assert answer_thread_count(create_engine("postgresql+psycopg://u@127.0.0.1/x")) == min(
        cores + 2, 13
    )


def test_answers_waiting_share_one_thread() -> None:
    loops = AnswerLoops(1)

    async def answer() -> float:
        await asyncio.sleep(0.3)  # as an answer waits on the LLM gate
        return time.monotonic()

    async def many() -> list[float]:
        return list(await asyncio.gather(*(loops.run(answer()) for _ in range(20))))

    try:
        started = time.monotonic()
        ended = asyncio.run(many())
    finally:
        loops.close()
    assert max(ended) - started < 0.3 * 5  # together, not one after another (6 s)
