"""Concurrent writers: several threads recording notes at once never hit 'database is locked'."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.console import console_message
from bot.dispatch import Dispatcher
from crm_store.models import AuditLog, FollowUp, Interaction
from crm_store.store import Store
from tests.world import build_world

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
THREADS = 6
NOTES_EACH = 12
WRITERS = ("rm1", "rm2", "rm3", "rm9", "rm1", "rm2")
CUSTOMER_OF = {"rm1": "张伟", "rm2": "刘洋", "rm3": "张伟", "rm9": "李雷"}


def test_threads_writing_notes_never_fail(store: Store) -> None:
    build_world(store)
    dispatcher = Dispatcher(store, clock=lambda: NOW)

    def writer(n: int) -> list[str]:
        staff = WRITERS[n]
        outcomes = []
        for i in range(NOTES_EACH):
            text = f"/note {CUSTOMER_OF[staff]} 第{n}-{i}次沟通，明天回访"
            reply = asyncio.run(dispatcher.handle(console_message(staff, text, NOW)))
            outcomes.extend(e.type for e in reply.events)
        return outcomes

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = [t for result in pool.map(writer, range(THREADS)) for t in result]

    assert outcomes == ["note_recorded"] * THREADS * NOTES_EACH  # no 'refused: error'
    with store.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == THREADS * NOTES_EACH
        assert s.scalar(select(func.count()).select_from(FollowUp)) == THREADS * NOTES_EACH
        assert s.scalar(select(func.count()).select_from(AuditLog)) == THREADS * NOTES_EACH
