"""End to end through the console adapter and the dispatcher, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm_store.db import Database, make_engine
from crm_store.models import AuditLog, ChannelIdentity, FollowUp, Interaction
from crm_store.store import Store
from handlers.texts import t
from tests.assistant import Assistant, platform_message
from tests.world import build_world

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)  # a Saturday


@pytest.fixture
def world(store: Store) -> Store:
    build_world(store)
    return store


@pytest.fixture
def bot(world: Store) -> Assistant:
    return Assistant(world, NOW)


def count(store: Store, model: type, **where: object) -> int:
    with store.db.read() as s:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int(s.scalar(query) or 0)


def test_lookup_shows_own_customer_only(bot: Assistant) -> None:
    said = bot.say("rm1", "张伟最近怎么样")
    assert said.event("customer_shown")["customer_id"] == "c1"
    assert "138****5678" in said.text and "13812345678" not in said.text
    assert "139****1111" not in said.text  # the other 张伟 does not exist for rm1
    assert "大额存单2025年第12期" in said.text  # matures within 30 days
    assert "易方达" not in said.text  # no maturity: not on the card's maturity list
    assert bot.say("rm3", "/c 张伟").event("customer_shown")["customer_id"] == "c2"


@pytest.mark.parametrize("text", ["查一下张伟", "张伟", "/c 张伟", "张伟的情况"])
def test_hidden_and_missing_customers_get_the_same_answer(bot: Assistant, text: str) -> None:
    hidden = bot.say("rm9", text)  # 张伟 exists, but not for rm9
    missing = bot.say("rm9", text.replace("张伟", "欧阳锋"))
    assert hidden.text == missing.text
    assert hidden.types() == missing.types() == ["not_found"]


def test_phone_tail_lookup(bot: Assistant) -> None:
    assert bot.say("rm1", "尾号5678的客户").event("customer_shown")["customer_id"] == "c1"
    assert bot.say("rm9", "尾号5678的客户").types() == ["not_found"]


def test_ambiguity_asks_and_survives_a_restart(world: Store) -> None:
    first = Assistant(world, NOW).say("rm1", "查一下王芳")
    assert first.event("clarification_requested") == {"candidates": ["c4", "c5"]}
    assert "136****3333" in first.text and "135****4444" in first.text
    assert "137****2222" not in first.text  # rm2's 王芳 is not a candidate
    # A new process: new engine, new dispatcher; the question lives in the database.
    reopened = Store(world.settings, Database(make_engine(world.settings.db_url)), world.cipher)
    try:
        second = Assistant(reopened, NOW + timedelta(minutes=3)).say("rm1", "第二个")
    finally:
        reopened.close()
    assert second.event("customer_shown")["customer_id"] == "c5"


def test_record_note_with_followup_then_undo(world: Store, bot: Assistant) -> None:
    said = bot.say("rm1", "记录：刚和张伟通话，他想了解大额存单，下周二回访")
    note = said.event("note_recorded")
    assert note["customer_id"] == "c1" and note["next_followup_on"] == "2026-12-01"
    assert "撤销" in said.text
    assert count(world, FollowUp, customer_id="c1", status="open") == 1
    undone = bot.say("rm1", "撤销")
    assert undone.event("note_undone")["interaction_id"] == note["interaction_id"]
    assert count(world, FollowUp, customer_id="c1") == 0
    assert "刚和张伟通话" not in bot.say("rm1", "/c 张伟").text


def test_undo_expires_after_ten_minutes(world: Store, bot: Assistant) -> None:
    bot.say("rm1", "/note 张伟 送了台历，三天后回访")
    bot.now = NOW + timedelta(minutes=11)
    assert bot.say("rm1", "撤销").types() == ["nothing_to_undo"]  # "已超过10分钟"
    assert count(world, Interaction, customer_id="c1") == 1


def test_ambiguous_note_writes_nothing_until_chosen(world: Store, bot: Assistant) -> None:
    said = bot.say("rm1", "刚和王芳通话，她想做基金定投，12月5号再联系")
    assert said.event("clarification_requested") == {"candidates": ["c4", "c5"]}
    assert count(world, Interaction) == 0
    chosen = bot.say("rm1", "1")
    note = chosen.event("note_recorded")
    assert note["customer_id"] == "c4" and note["next_followup_on"] == "2026-12-05"
    assert count(world, Interaction, customer_id="c4") == 1


def test_same_message_delivered_twice_records_one_note(world: Store, bot: Assistant) -> None:
    first = bot.say("rm1", "/note 张伟 客户咨询理财", msg_id="m-1")
    again = bot.say("rm1", "/note 张伟 客户咨询理财", msg_id="m-1")
    assert first.event("note_recorded") == again.event("note_recorded")
    assert count(world, Interaction) == 1


def test_note_masks_numbers_and_guard_redacts_hidden_names(world: Store, bot: Assistant) -> None:
    # The team lead writes on rm1's customer and names 李雷, rm9's customer.
    bot.say("lead1", "/note 张伟 他朋友李雷也想开户，电话13400005555，明天回电")
    with world.db.read() as s:
        content = s.scalar(select(Interaction.content))
    assert content is not None and "13400005555" not in content
    card = bot.say("rm1", "/c 张伟").text
    assert "李雷" not in card and "134****5555" in card  # 李雷 is rm9's customer
    assert "李雷" in bot.say("rm9", "/c 李雷").text
    # rm1's own words come back as typed: redacting them would say who is a customer.
    bot.say("rm1", "/note 张伟 他同事李雷也想开户")
    assert "他同事李雷也想开户" in bot.say("rm1", "/c 张伟").text


def test_today_lists_and_acts_on_items(world: Store, bot: Assistant) -> None:
    bot.now = NOW - timedelta(days=3)
    bot.say("rm1", "/note 张伟 讨论续存，明天回访")  # due 11-26: overdue today
    bot.say("rm1", "/note 刘洋 约了面谈，后天见面")  # c8 through a grant; due 11-27
    bot.now = NOW
    today = bot.say("rm1", "今天要做什么")
    assert set(today.event("agenda_shown")["customer_ids"]) >= {"c1", "c8"}
    assert "逾期2天" in today.text and "12月1日" in today.text  # c1's birthday is 12-01
    assert "大额存单2025年第12期" in today.text  # matures 12-03
    done = bot.say("rm1", "完成 1")
    assert done.event("followup_done")["customer_id"] == "c1"
    snoozed = bot.say("rm1", "推迟 2 3天")
    assert snoozed.event("followup_snoozed")["until"] == "2026-12-01"
    assert "逾期" not in bot.say("rm1", "/today").text


def test_a_later_days_list_holds_what_falls_due_by_then(world: Store, bot: Assistant) -> None:
    bot.say("rm1", "/note 张伟 讨论续存，周二回访")  # due Tuesday 12-01
    today = bot.say("rm1", "今天要做什么")
    assert today.event("agenda_shown")["day"] == "2026-11-28"
    assert "张伟" not in today.text.split("【近")[0]  # not among today's follow-ups
    tuesday = bot.say("rm1", "周二的安排")
    assert tuesday.event("agenda_shown")["day"] == "2026-12-01"
    assert tuesday.text.startswith("12月1日（周二）的待办")
    assert "张伟" in tuesday.text.split("【近")[0]
    done = bot.say("rm1", "完成 1")  # the day's list is the one its numbers refer to
    assert done.event("followup_done")["customer_id"] == "c1"


def test_a_manager_lists_one_staff_members_customers(bot: Assistant) -> None:
    vips = bot.say("lead1", "李娜名下有哪些VIP")  # lead1 sees T1: rm1 李娜, rm2 周杰
    shown = vips.event("list_shown")
    assert shown["customer_ids"] == ["c1"] and shown["filter"]["owner"] == "rm1"
    assert vips.text.startswith("您可查看的李娜名下的VIP客户（共1位）")
    counted = bot.say("lead1", "周杰负责的客户有多少")
    assert counted.event("list_shown")["total"] == 2  # c3, c8
    at_risk = bot.say("lead1", "李娜名下哪些客户有流失风险")
    assert at_risk.event("list_shown")["owner"] == "rm1"
    # Someone owning nothing in the asker's scope matches nothing, never the whole team.
    for name in ("赵强", "赵无极"):  # another branch's RM, and nobody
        outside = bot.say("lead1", f"{name}名下有哪些VIP")
        assert outside.event("list_shown")["customer_ids"] == []
        assert outside.text == f"没有符合条件的客户（{name}名下的VIP）。"


def test_lists(bot: Assistant) -> None:
    vip = bot.say("rm1", "我的VIP客户")
    assert vip.event("list_shown")["customer_ids"] == ["c1", "c8"]
    maturing = bot.say("rm1", "下个月到期的客户")
    assert maturing.event("list_shown")["customer_ids"] == ["c1", "c8"]


def test_unknown_sender_and_deactivated_staff_learn_nothing(world: Store, bot: Assistant) -> None:
    stranger = bot.send(platform_message("wecom", "zhangsan", "查一下张伟", NOW))
    gone = bot.say("gone", "查一下韩梅梅")
    assert stranger.event("refused") == {"reason": "unknown_sender"}
    assert stranger.text == t("unknown_sender", "zh")
    # A departed staff member's own account is told so, and still learns nothing.
    assert gone.event("refused") == {"reason": "deactivated"}
    assert (
        gone.text == t("deactivated", "zh") == "该账号已停用，无法提供服务。如有疑问请联系管理员。"
    )
    assert "韩梅梅" not in gone.text
    with world.db.read() as s:
        row = s.scalars(select(AuditLog).order_by(AuditLog.id)).first()
    assert row is not None and row.decision == "refused" and row.sender_id == "zhangsan"


def test_bound_platform_identity_and_group_chat(world: Store, bot: Assistant) -> None:
    with world.db.write() as s:
        s.add(ChannelIdentity(channel="wecom", external_id="lina", staff_id="rm1", bound_at=NOW))
    private = bot.send(platform_message("wecom", "lina", "查一下张伟", NOW))
    assert private.event("customer_shown")["customer_id"] == "c1"
    group = bot.send(platform_message("wecom", "lina", "查一下张伟", NOW, chat_type="group"))
    assert group.event("refused") == {"reason": "group_chat"} and "138" not in group.text


def test_roles_admin_and_compliance(bot: Assistant) -> None:
    assert bot.say("admin", "查一下张伟").event("refused") == {"reason": "role"}
    assert bot.say("comp", "/c 李雷").event("customer_shown")["customer_id"] == "c6"
    assert bot.say("comp", "/note 李雷 测试").event("refused") == {"reason": "read_only"}


def test_every_request_is_audited_with_disclosed_ids(world: Store, bot: Assistant) -> None:
    bot.say("rm1", "/c 张伟")
    bot.say("rm1", "帮助")
    with world.db.read() as s:
        rows = s.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(r.intent, r.customer_ids, r.decision) for r in rows] == [
        ("lookup", "c1", "allowed"),
        ("help", "", "allowed"),
    ]
    # The request ran on the test clock: kept as `as_of`; `at` is the real time of the write.
    assert rows[0].as_of is not None and rows[0].as_of.astimezone(UTC) == NOW.astimezone(UTC)
    assert rows[0].at > NOW


def test_reassignment_between_question_and_answer(world: Store, bot: Assistant) -> None:
    bot.say("rm1", "查一下王芳")
    with world.db.write() as s:
        from crm_store.models import Customer

        s.get(Customer, "c5").owner_staff_id = "rm2"  # type: ignore[union-attr]
    assert bot.say("rm1", "2").types() == ["not_found"]


def test_staff_names_and_fixed_text_survive_the_guard(world: Store, bot: Assistant) -> None:
    # With 100k customers nearly every staff name is also some customer's name.
    with world.db.write() as s:
        from crm_store.models import Customer

        s.get(Customer, "c6").name = "李娜"  # type: ignore[union-attr]  # rm9's, hidden from rm1
    bot.say("rm1", "/note 张伟 客户想了解理财")
    card = bot.say("rm1", "/c 张伟").text
    assert "客户经理李娜" in card and "李娜：客户想了解理财" in card
    assert "张伟最近怎么样" in bot.say("rm9", "帮助").text  # rm9 cannot see any 张伟
    # The asker's own words come back as typed: starring them would say who is a customer.
    assert "朋友李娜来开户" in bot.say("rm1", "/note 张伟 她介绍了朋友李娜来开户").text


def test_bind_with_a_one_time_code(world: Store, bot: Assistant) -> None:
    from crm_store.binding import issue_code

    with world.db.write() as s:
        code = issue_code(s, staff_id="rm1", now=NOW, cipher=world.cipher)
    before = bot.send(platform_message("telegram", "777", "查一下张伟", NOW))
    assert before.event("refused") == {"reason": "unknown_sender"}
    bound = bot.send(platform_message("telegram", "777", f"/bind {code.lower()}", NOW))
    assert bound.event("bound") == {"staff_id": "rm1"}
    after = bot.send(platform_message("telegram", "777", "查一下张伟", NOW))
    assert after.event("customer_shown")["customer_id"] == "c1"
    reused = bot.send(platform_message("telegram", "888", f"/bind {code}", NOW))
    assert reused.event("refused") == {"reason": "bad_code"}
    with world.db.write() as s:
        late = issue_code(s, staff_id="rm2", now=NOW - timedelta(hours=25), cipher=world.cipher)
    expired = bot.send(platform_message("telegram", "999", f"/bind {late}", NOW))
    assert expired.event("refused") == {"reason": "bad_code"}


def test_strangers_get_one_short_answer_then_silence(bot: Assistant) -> None:
    replies = [bot.send(platform_message("wecom", "spy", "查一下张伟", NOW)) for _ in range(5)]
    assert [bool(r.text) for r in replies] == [True, True, True, False, False]
    assert all(r.types() == ["refused"] for r in replies)


def test_a_note_naming_nobody_visible_asks_about_a_near_miss_or_says_not_found(
    world: Store, bot: Assistant
) -> None:
    """ "刚和张玮通话" (a typo of 张伟) asks whether the note is for 张伟 and saves nothing until
    confirmed; a name the RM may not see (李雷, rm9's) is "not found", never echoed and with no
    near miss outside the RM's scope; a note naming nobody asks for a name."""
    asked = bot.say("rm1", "刚和张玮通话，明天回电")
    assert asked.event("clarification_requested") == {"candidates": ["c1"]}
    assert "是记给张伟的吗" in asked.text and count(world, Interaction) == 0
    note = bot.say("rm1", "1").event("note_recorded")
    assert note["customer_id"] == "c1" and note["next_followup_on"] == "2026-11-29"
    hidden = bot.say("rm1", "刚和李雷通话，明天回电")
    assert hidden.text == t("not_found", "zh") and "李雷" not in hidden.text
    assert hidden.event("not_found") == {}
    nameless = bot.say("rm1", "记录：今天天气不错，聊了聊")
    assert nameless.text == t("who_is_it", "zh")
    assert count(world, Interaction) == 1


def test_cancel_says_whether_anything_was_waiting(bot: Assistant) -> None:
    assert bot.say("rm1", "算了").text == t("nothing_to_cancel", "zh")
    assert bot.say("rm1", "查一下王芳").event("clarification_requested")  # two 王芳: a choice
    assert bot.say("rm1", "算了").text == t("cancelled", "zh")
    assert bot.say("rm1", "取消").text == t("nothing_to_cancel", "zh")  # it is gone
