"""Warnings, tags and team reports in chat, end to end through the console adapter."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm_store.models import AuditLog, Customer, FollowUp, RetentionAck
from crm_store.store import Store
from tests.assistant import Assistant
from tests.retention.helpers import add_note, only_customers
from tests.world import build_world

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Saturday


@pytest.fixture
def bot(store: Store) -> Assistant:
    build_world(store)
    only_customers(store, {"c1", "c4", "c3"})
    add_note(store, "n1", "c1", 45)  # c1: a 50万 CD in 5 days, 45 days without contact
    add_note(store, "n4", "c4", 3, "客户说要把钱转到别的银行", complaint=True)
    return Assistant(store, NOW)


def test_list_of_customers_at_risk_is_scoped(bot: Assistant) -> None:
    said = bot.say("rm1", "哪些客户有流失风险")
    shown = said.event("list_shown")
    assert shown["filter"] == "retention"
    assert shown["customer_ids"][:2] == ["c1", "c4"]  # 120万 each, 张伟 before 王芳 by name
    assert "c3" not in shown["customer_ids"]  # rm2's customer, silent too: not rm1's to see
    assert "大额存单50万12月3日到期，近45天无沟通记录" in said.text
    other = bot.say("rm2", "哪些客户有流失风险")
    assert other.event("list_shown")["customer_ids"] == ["c3"]


def test_why_is_a_customer_at_risk(bot: Assistant) -> None:
    said = bot.say("rm1", "王芳为什么有风险")  # two visible 王芳: choose
    assert said.event("clarification_requested")["candidates"] == ["c4", "c5"]
    chosen = bot.say("rm1", "1")
    assert chosen.event("customer_shown")["customer_id"] == "c4"
    assert "提到“转走”，之后未跟进" in chosen.text and "建议：" in chosen.text
    hidden = bot.say("rm9", "张伟为什么有风险")
    assert hidden.types() == ["not_found"]
    told_apart = bot.say("rm1", "王芳那个普通客户为什么有风险")  # the segment picks c4
    assert told_apart.event("customer_shown")["customer_id"] == "c4"
    assert "提到“转走”" in told_apart.text
    assert "风险等级" not in bot.say("rm1", "王芳普通客户为啥有风险").text  # not the field


def test_follow_up_on_a_warning_quiets_it(bot: Assistant, store: Store) -> None:
    bot.say("rm1", "哪些客户有流失风险")
    said = bot.say("rm1", "跟进 1")
    opened = said.event("retention_followup_opened")
    assert opened["customer_id"] == "c1" and opened["due_on"] == "2026-12-01"  # 2 working days
    assert set(opened["reasons"]) == {"m:h1", "silence"}
    with store.db.read() as s:
        task = s.get(FollowUp, opened["followup_id"])
        assert task is not None and task.kind == "retention" and task.status == "open"
        keys = set(s.scalars(select(RetentionAck.reason_key)))
    assert keys == {"m:h1", "silence"}
    again = bot.say("rm1", "哪些客户有流失风险")
    assert "c1" not in again.event("list_shown")["customer_ids"]
    assert "目前没有流失预警" in bot.say("rm1", "张伟为什么有风险").text


def test_compliance_cannot_open_a_retention_followup(bot: Assistant) -> None:
    bot.say("comp", "哪些客户有流失风险")
    assert bot.say("comp", "跟进 1").event("refused")["reason"] == "read_only"


def test_tags_from_chat_are_audited_and_listed(bot: Assistant, store: Store) -> None:
    said = bot.say("rm1", "给张伟打标签 高净值")
    assert said.event("tag_added") == {"customer_id": "c1", "tag": "高净值", "changed": True}
    with store.db.read() as s:
        customer = s.get(Customer, "c1")
        assert customer is not None and customer.tags == "关注基金;退休;高净值"
        audit = s.scalars(select(AuditLog).where(AuditLog.intent == "tag_add")).one()
    assert audit.customer_ids == "c1" and audit.actor_staff_id == "rm1"
    listed = bot.say("rm1", "高净值客户有哪些")
    shown = listed.event("list_shown")
    assert shown["customer_ids"] == ["c1"] and shown["filter"]["tag"] == "高净值"
    assert bot.say("rm2", "高净值客户有哪些").event("list_shown")["customer_ids"] == []
    removed = bot.say("rm1", "去掉张伟的标签 高净值")
    assert removed.event("tag_removed")["changed"] is True
    assert bot.say("rm1", "高净值客户有哪些").event("list_shown")["customer_ids"] == []


@pytest.mark.parametrize(
    ("added", "removed"),
    [
        ("给张伟加个高净值的标签", "把张伟的标签高净值去掉"),
        ("给张伟打上高净值标签", "张伟的高净值标签删掉"),
        ("把张伟的标签加上高净值", "去掉张伟的标签 高净值"),
    ],
)
def test_tags_in_everyday_words(bot: Assistant, added: str, removed: str) -> None:
    assert bot.say("rm1", added).event("tag_added") == {
        "customer_id": "c1", "tag": "高净值", "changed": True,
    }  # fmt: skip
    assert bot.say("rm1", removed).event("tag_removed") == {
        "customer_id": "c1", "tag": "高净值", "changed": True,
    }  # fmt: skip


def test_only_an_rm_tags_own_customers(bot: Assistant) -> None:
    assert bot.say("rm2", "给张伟打标签 高净值").types() == ["not_found"]  # c1 is rm1's
    assert bot.say("lead1", "给张伟打标签 高净值").event("refused")["reason"] == "role"


def test_segments_are_list_filters_too(bot: Assistant) -> None:
    said = bot.say("rm1", "潜在客户有哪些")
    shown = said.event("list_shown")
    assert shown["customer_ids"] == ["c5"] and shown["filter"]["segment"] == "prospect"


def test_the_card_carries_the_warning(bot: Assistant) -> None:
    said = bot.say("rm1", "查一下张伟")
    assert said.event("customer_shown")["customer_id"] == "c1"
    assert "⚠️ 流失预警：" in said.text and "近45天无沟通记录" in said.text
    calm = bot.say("rm2", "查一下刘洋")  # c8 had a note yesterday
    assert "流失预警" not in calm.text
