"""A staff member with no channel at digest time gets the digest once they bind, that day."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.wiring import build_formatter, build_router
from crm_store.binding import issue_code
from crm_store.importer import import_file
from crm_store.models import Digest
from crm_store.store import Store
from scheduler.delivery import SendStats
from scheduler.service import send_due
from tests.assistant import Assistant, platform_message
from tests.scheduler.helpers import RecordingChannel, at, plan_on
from tests.world import build_world

TUESDAY = date(2026, 12, 1)


def send_at(store: Store, channel: RecordingChannel, hour: int, minute: int = 0) -> SendStats:
    router = build_router(store, {"wecom": channel})  # as `serve` and `scheduler` wire WeCom
    clock = at(TUESDAY, hour, minute)
    return asyncio.run(send_due(store, router, build_formatter(store), lambda: clock))


def test_binding_with_a_code_the_same_day_delivers_the_waiting_digest(store: Store) -> None:
    build_world(store)
    channel = RecordingChannel("wecom")
    plan_on(store, TUESDAY)
    first = send_at(store, channel, 8, 30)
    assert first.sent == 0 and first.undeliverable >= 1
    assert channel.sent == []
    with store.db.write() as s:
        code = issue_code(s, staff_id="rm1", now=at(TUESDAY, 9), cipher=store.cipher)
    bound = Assistant(store, at(TUESDAY, 9)).send(
        platform_message("wecom", "LiNa", f"/bind {code}", at(TUESDAY, 9))
    )
    assert bound.event("bound") == {"staff_id": "rm1"}
    later = send_at(store, channel, 9, 1)
    assert later.sent == 1 and channel.recipients() == ["LiNa"]
    assert "张伟 生日" in channel.texts("LiNa")[0]
    assert send_at(store, channel, 9, 2) == SendStats()  # once
    with store.db.read() as s:
        rm1 = s.scalars(select(Digest).where(Digest.recipient_staff_id == "rm1")).one()
    assert (rm1.status, rm1.channel) == ("sent", "wecom")


def test_binding_on_a_later_day_leaves_the_reminders_to_the_next_digest(store: Store) -> None:
    build_world(store)
    channel = RecordingChannel("wecom")
    plan_on(store, TUESDAY)
    send_at(store, channel, 8, 30)
    with store.db.write() as s:
        code = issue_code(s, staff_id="rm1", now=at(TUESDAY, 20), cipher=store.cipher)
    wednesday = at(TUESDAY + timedelta(days=1), 7)
    Assistant(store, wednesday).send(platform_message("wecom", "LiNa", f"/bind {code}", wednesday))
    router = build_router(store, {"wecom": channel})
    stats = asyncio.run(send_due(store, router, build_formatter(store), lambda: wednesday))
    assert stats == SendStats() and channel.sent == []  # Tuesday's digest stays undelivered
    plan_on(store, TUESDAY + timedelta(days=1))
    stats = asyncio.run(
        send_due(store, router, build_formatter(store), lambda: at(TUESDAY + timedelta(days=1)))
    )
    assert stats.sent >= 1 and "张伟 生日" in channel.texts("LiNa")[0]  # rode along


def test_an_import_setting_wecom_userid_the_same_day_delivers_it(
    store: Store, tmp_path: Path
) -> None:
    build_world(store)
    channel = RecordingChannel("wecom")
    plan_on(store, TUESDAY)
    assert send_at(store, channel, 8, 30).sent == 0
    staff = tmp_path / "staff.csv"
    staff.write_text(
        "staff_id,name,role,branch_id,team_id,wecom_userid\nrm1,李娜,rm,B2,T1,LiNa\n",
        encoding="utf-8",
    )
    import_file(store, "staff", staff)
    later = send_at(store, channel, 10)
    assert later.sent == 1 and channel.recipients() == ["LiNa"]
