"""Who saw a customer, asked in chat by compliance: exactly the audit rows that disclosed
that customer in the period, the namesakes asked apart, refused for every other role, and the
look-up itself audited. Both engines."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm_store.access_log import customer_access
from crm_store.audit import write_audit
from crm_store.models import AuditLog, Staff
from crm_store.store import Store
from tests.assistant import Assistant
from tests.world import build_world

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 8, 15, 0, tzinfo=SHANGHAI)


@pytest.fixture
def world(store: Store) -> Store:
    build_world(store)
    yesterday = Assistant(store, NOW - timedelta(days=1))
    yesterday.say("rm2", "刘洋的资产")  # rm2's own VIP
    today = Assistant(store, NOW - timedelta(hours=2))
    today.say("rm1", "查一下张伟")  # c1, rm1's
    today.say("rm3", "查一下张伟")  # c2, rm3's: another 张伟
    today.say("lead1", "刘洋的手机号")
    return store


def last_audit(store: Store, staff_id: str) -> AuditLog:
    with store.db.read() as session:
        query = select(AuditLog).where(AuditLog.actor_staff_id == staff_id)
        row = session.scalars(query.order_by(AuditLog.id.desc())).first()
        assert row is not None
        session.expunge(row)
        return row


def test_compliance_sees_who_viewed_a_customer_in_the_last_seven_days(world: Store) -> None:
    said = Assistant(world, NOW).say("comp", "刘洋被谁看过")
    assert said.event("access_log_shown") == {"customer_id": "c8", "rows": 2}
    lines = said.text.splitlines()
    assert lines[0] == "刘洋近7天的访问记录（共2条）："
    assert lines[1].startswith("1. 12月8日 13:00 孙丽（lead1） 查询信息")  # newest first
    assert lines[2].startswith("2. 12月7日 15:00 周杰（rm2） 查询信息")
    assert all(line.endswith("｜控制台") for line in lines[1:])
    # The look-up is itself a disclosure of 刘洋, audited as such.
    row = last_audit(world, "comp")
    assert (row.intent, row.customer_ids, row.decision) == ("access_log", "c8", "allowed")


def test_namesakes_are_asked_apart_and_each_has_only_its_own_record(world: Store) -> None:
    bot = Assistant(world, NOW)
    asked = bot.say("comp", "今天谁查看过张伟")
    assert asked.event("clarification_requested")["candidates"] == ["c1", "c2"]
    chosen = bot.say("comp", "2")
    # The question "which 张伟?" named both: compliance's own look-up is on the record too.
    assert chosen.event("access_log_shown") == {"customer_id": "c2", "rows": 2}
    assert "张伟今天的访问记录（共2条）" in chosen.text
    assert "何敏（comp） 查访问记录" in chosen.text and "陈静（rm3） 查看资料" in chosen.text
    assert "李娜" not in chosen.text


def test_a_choice_answered_after_the_role_changed_is_refused(world: Store) -> None:
    bot = Assistant(world, NOW)
    bot.say("comp", "今天谁查看过张伟")
    with world.db.write() as session:
        staff = session.get(Staff, "comp")
        assert staff is not None
        staff.role, staff.team_id = "team_lead", "T1"  # who may still see c1
    said = bot.say("comp", "1")
    assert said.event("refused") == {"reason": "role"} and "李娜" not in said.text
    assert "access_log_shown" not in said.types()


def test_the_period_typed_is_the_period_read(world: Store) -> None:
    said = Assistant(world, NOW).say("comp", "今天谁看过刘洋")
    assert said.event("access_log_shown")["rows"] == 1
    assert "周杰" not in said.text  # yesterday's
    nobody = Assistant(world, NOW + timedelta(days=10)).say("comp", "刘洋的访问日志")
    assert nobody.text == "刘洋近7天没有访问记录。"


def test_compliance_sees_which_customers_a_staff_member_saw(world: Store) -> None:
    said = Assistant(world, NOW).say("comp", "李娜今天看了哪些客户")
    assert said.event("staff_access_shown") == {
        "staff_id": "rm1", "rows": 1, "customer_ids": ["c1"],
    }  # fmt: skip
    assert said.text.splitlines() == [
        "李娜（rm1）今天查看客户的记录（共1条）：",
        "1. 12月8日 13:00 查看资料：张伟｜控制台",
    ]
    week = Assistant(world, NOW).say("comp", "周杰最近查了哪些客户")
    assert week.event("staff_access_shown")["customer_ids"] == ["c8"]
    nobody = Assistant(world, NOW).say("comp", "欧阳锋今天看了哪些客户")
    assert nobody.text == "没有名为欧阳锋的员工。"
    refused = Assistant(world, NOW).say("lead1", "李娜今天看了哪些客户")
    assert refused.event("refused") == {"reason": "role"}


@pytest.mark.parametrize("staff_id", ["rm1", "lead1", "head1"])
def test_every_other_role_is_refused_and_nothing_is_disclosed(world: Store, staff_id: str) -> None:
    said = Assistant(world, NOW).say(staff_id, "谁看过张伟")
    assert said.text == "客户的访问记录仅提供给合规人员。"
    assert said.event("refused") == {"reason": "role"}
    assert last_audit(world, staff_id).customer_ids == ""


def test_a_note_that_mentions_a_look_up_is_a_note(world: Store) -> None:
    said = Assistant(world, NOW).say("rm1", "刚和张伟通话，他问谁查了他的征信")
    assert "已记录" in said.text and "access_log_shown" not in said.types()


def test_in_english(world: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKBOT_LANG", "en")
    english = Store(type(world.settings)(), world.db, world.cipher)
    said = Assistant(english, NOW).say("comp", "who viewed 刘洋")
    assert said.text.startswith("Access to 刘洋 in the last 7 days (2 in all):")
    assert "1. 12-08 13:00 孙丽 (lead1) field look-up | console" in said.text


def test_an_id_matches_whole_never_as_part_of_another(store: Store) -> None:
    build_world(store)
    with store.db.write() as session:
        for ids in (["c10"], ["c4", "c1"], ["c1"], ["xc1"], ["c1_"]):
            write_audit(session, at=NOW, actor_staff_id="rm1", channel="console",
                        sender_id="rm1", chat_type="private", intent="lookup", customer_ids=ids,
                        decision="allowed", text_masked="")  # fmt: skip
    with store.db.read() as session:
        log = customer_access(session, "c1", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
        assert log.total == 2 and len(log.accesses) == 2
        underscore = customer_access(session, "c1_", NOW - timedelta(hours=1), NOW)
        assert underscore.total == 0  # the end is exclusive
        assert customer_access(session, "c1_", NOW, NOW + timedelta(seconds=1)).total == 1
