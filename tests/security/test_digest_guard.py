"""Every text that leaves for a person passes the reply guard, the morning digest included, and
no channel sends anything else."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest

from bot.channels import CONSOLE, ConsoleDeliveryChannel
from bot.console import ConsoleChannel
from bot.telegram_channel import TelegramChannel
from bot.wecom_client import WeComChannel
from bot.wiring import build_formatter, build_router
from crm_store.notes import record_note
from crm_store.store import Store
from handlers.contracts import Event, Reply
from handlers.guard import GuardedReply
from scheduler.delivery import MemberRateLimit, Sender
from scheduler.service import plan_day
from tests.scheduler.helpers import at
from tests.world import NOW, TODAY, build_world


def note(store: Store, staff_id: str, content: str) -> None:
    """A note on rm1's 张伟 (c1) with a follow-up due today."""
    with store.db.write() as s:
        record_note(
            s,
            staff_id=staff_id,
            customer_id="c1",
            content=content,
            occurred_at=NOW - timedelta(days=2),
            channel="console",
            source_message_id=None,
            next_followup_on=TODAY,
        )


def test_the_morning_digest_is_guarded_like_a_chat_reply(store: Store) -> None:
    build_world(store)
    # The team lead names 李雷, a customer of another branch that rm1 cannot see; rm1's own
    # note names 韩梅梅, also hidden from rm1, and must come back as rm1 typed it.
    note(store, "lead1", "他朋友李雷也想开户，电话１３４００００５５５５")
    note(store, "rm1", "约了韩梅梅一起来")
    log = store.settings.home / "deliveries.jsonl"
    router = build_router(store, {CONSOLE: ConsoleDeliveryChannel(log)})
    morning = at(TODAY)
    plan_day(store, TODAY, now=morning)
    sender = Sender(store, router, build_formatter(store), lambda: morning, "w1", MemberRateLimit())
    stats = asyncio.run(sender.run())
    assert stats.sent >= 1
    [digest] = [r for r in map(json.loads, log.read_text().splitlines()) if r["recipient"] == "rm1"]
    text = digest["text"]
    assert "他朋友***也想开户" in text and "李雷" not in text
    assert "１３４" not in text and "13400005555" not in text
    assert "约了韩梅梅一起来" in text


class _Unused:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an unguarded reply reached the platform ({name})")


CHANNELS = [
    lambda tmp: ConsoleChannel(),
    lambda tmp: ConsoleDeliveryChannel(tmp / "deliveries.jsonl"),
    lambda tmp: WeComChannel(_Unused()),  # type: ignore[arg-type]
    lambda tmp: TelegramChannel(_Unused()),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("make", CHANNELS)
def test_no_channel_sends_a_reply_that_skipped_the_guard(make: Any, tmp_path: Any) -> None:
    channel = make(tmp_path)
    unguarded = Reply("李雷 13400005555", (Event("customer_shown", {"customer_id": "c6"}),))
    with pytest.raises(TypeError):
        asyncio.run(channel.send("rm1", unguarded))
    assert not (tmp_path / "deliveries.jsonl").exists()


def test_only_the_guard_makes_a_guarded_reply() -> None:
    with pytest.raises(TypeError):
        GuardedReply("李雷 13400005555")
    with pytest.raises(TypeError):
        GuardedReply("李雷", (), object())
