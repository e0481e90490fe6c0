"""Warnings in the morning plan: one outbox row per customer a day, 【流失预警】 in the digest."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from crm_store.models import Reminder
from crm_store.store import Store
from handlers.retention_text import short_money
from scheduler.service import plan_day
from tests.assistant import Assistant
from tests.retention.helpers import add_note, set_aum
from tests.scheduler.helpers import Clock, add_customer, at, make_timer
from tests.world import build_world

MONDAY = date(2026, 11, 30)


def retention_rows(store: Store) -> list[tuple[str, str]]:
    with store.db.read() as s:
        query = select(Reminder.customer_id, Reminder.recipient_staff_id).where(
            Reminder.kind == "retention"
        )
        return sorted(s.execute(query).tuples())


def test_planning_writes_each_warning_once_for_the_owner(store: Store) -> None:
    build_world(store)
    add_note(store, "n5", "c5", 20)  # a prospect contacted 20 days ago: silent too
    plan_day(store, MONDAY, now=at(MONDAY))
    first = retention_rows(store)
    assert ("c1", "rm1") in first and ("c5", "rm1") in first and ("c8", "rm2") in first
    assert len({cid for cid, _ in first}) == len(first)  # one row per customer
    plan_day(store, MONDAY, now=at(MONDAY, 9))
    assert retention_rows(store) == first  # planning again adds nothing


def test_digest_shows_five_warnings_largest_first_and_counts_the_rest(store: Store) -> None:
    build_world(store)
    for i in range(6):
        add_customer(store, f"r{i}", "rm1", name=f"客户{'甲乙丙丁戊己'[i]}")
        set_aum(store, f"r{i}", str(100_000 * (i + 1)))
    set_aum(store, "c4", "3000000")
    add_note(store, "n1", "c1", 45)  # c1: 50万 CD matures in 3 days, 45 days of silence
    clock = Clock(at(MONDAY, 8, 30))
    timer, channel = make_timer(store, clock)
    timer.morning()
    (text,) = channel.texts("rm1")
    section = text[text.index("【流失预警】") :]
    assert "【流失预警】8位客户" in section
    lines = [line for line in section.splitlines() if "⚠️" in line]
    assert len(lines) == 5
    assert "王芳（风险金额300万）" in lines[0]  # c4, the largest
    assert "张伟（风险金额120万）" in lines[1]
    assert "大额存单50万12月3日到期，近47天无沟通记录" in lines[1]
    assert "建议：" in lines[1]
    assert "另有3位" in section
    with store.db.read() as s:
        sent = s.scalar(
            select(func.count()).where(
                Reminder.kind == "retention",
                Reminder.status == "sent",
                Reminder.recipient_staff_id == "rm1",
            )
        )
    assert sent == 8


def test_short_money() -> None:
    assert short_money(Decimal("1000000")) == "100万"
    assert short_money(Decimal("355000")) == "35.5万"
    assert short_money(Decimal("8000")) == "8,000元"


def test_follow_up_on_a_digest_warning_quiets_it_next_morning(store: Store) -> None:
    build_world(store)
    add_note(store, "n1", "c1", 45)
    clock = Clock(at(MONDAY, 8, 30))
    timer, channel = make_timer(store, clock)
    timer.morning()
    (text,) = channel.texts("rm1")
    number = re.search(r"(\d+)\. ⚠️ 张伟", text)
    assert number is not None
    said = Assistant(store, at(MONDAY, 9)).say("rm1", f"跟进 {number.group(1)}")
    assert said.event("retention_followup_opened")["customer_id"] == "c1"
    tuesday = date(2026, 12, 1)
    clock.now = at(tuesday, 8, 30)
    timer.morning()
    assert "张伟（风险金额" not in channel.texts("rm1")[-1]
