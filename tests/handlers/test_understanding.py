"""Everyday phrasings, read end to end through the console adapter, on SQLite and PostgreSQL.

rm1 sees c1 张伟 (VIP), c4 and c5 (both 王芳) and c8 刘洋 (a grant); c2 is rm3's 张伟 and c6
李雷 is rm9's: for rm1 they must behave exactly like names that do not exist.
NOW is Saturday 28 November 2026, 17:00 in Shanghai.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm_store.models import Customer, FollowUp, Interaction
from crm_store.store import Store
from handlers.texts import t
from handlers.understanding.slots import name_like
from tests.assistant import Assistant
from tests.retention.helpers import add_note
from tests.world import NOW, build_world


@pytest.fixture
def bot(store: Store) -> Assistant:
    build_world(store)
    return Assistant(store, NOW)


FIELDS = [
    ("张伟电话多少", "c1", "phone"),
    ("刘洋的AUM", "c8", "aum"),
    ("张伟的风险评级", "c1", "risk"),
    ("張偉電話多少", "c1", "phone"),
    ("张 伟 资产多少", "c1", "aum"),
    ("张伟的定期哪天到期", "c1", "maturity"),
    ("张伟有哪些产品快到期", "c1", "maturity"),
    ("张伟的理财", "c1", "holdings"),
    ("张伟生日哪天", "c1", "birthday"),
    ("帮我看看张伟的持仓", "c1", "holdings"),
]


@pytest.mark.parametrize(("text", "customer", "field"), FIELDS)
def test_field_questions_lead_with_the_fact(
    bot: Assistant, text: str, customer: str, field: str
) -> None:
    shown = bot.say("rm1", text).event("customer_shown")
    assert shown == {"customer_id": customer, "field": field}


@pytest.mark.parametrize("text", ["看下张伟", "张伟", "查一下张伟的资料", "look up Zhang Wei"])
def test_lookups_in_any_position_show_the_card(bot: Assistant, text: str) -> None:
    assert bot.say("rm1", text).event("customer_shown") == {"customer_id": "c1", "field": None}


def test_field_answer_on_the_aum_leads_with_the_amount(bot: Assistant) -> None:
    said = bot.say("rm1", "张伟资产多少")
    assert said.text.startswith("张伟的资产（AUM）：120.00万")


def test_hidden_customer_is_exactly_a_name_that_does_not_exist(bot: Assistant) -> None:
    for hidden, missing in [("李雷电话多少", "李四电话多少"), ("查一下李雷", "查一下李四")]:
        a, b = bot.say("rm1", hidden), bot.say("rm1", missing)
        assert (a.text, a.types()) == (b.text, b.types())
        assert "c6" not in str(a.reply.events)


def test_the_other_rms_namesake_never_appears(bot: Assistant) -> None:
    for text in ["张伟电话多少", "明天提醒我给张伟打电话", "看下张伟", "张伟的理财"]:
        assert "c2" not in str(bot.say("rm1", text).reply.events)


def test_reminder_request_opens_a_followup_and_undo_takes_it_back(
    bot: Assistant, store: Store
) -> None:
    said = bot.say("rm1", "后天提醒我给张伟回电话")
    created = said.event("followup_created")
    assert created["customer_id"] == "c1" and created["due_on"] == "2026-11-30"
    assert "11月30日" in said.text
    with store.db.read() as s:
        task = s.get(FollowUp, created["followup_id"])
        assert task is not None and task.interaction_id is None
    undone = bot.say("rm1", "撤销")
    assert undone.event("followup_undone")["followup_id"] == created["followup_id"]
    with store.db.read() as s:
        assert s.get(FollowUp, created["followup_id"]) is None


def test_reminder_without_a_customer_asks_who(bot: Assistant) -> None:
    said = bot.say("rm1", "明天提醒我打电话")
    assert said.types() == ["not_found"] and said.text == t("remind_who")


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("帮我记一下，张伟下周三要来网点签大额存单", "2026-12-02"),
        ("张伟今天来电说想转定期，下周一再联系", "2026-11-30"),
        ("上午见了刘洋，聊了养老规划，过两周回访", "2026-12-12"),
    ],
)
def test_notes_without_a_command_word(bot: Assistant, text: str, due: str) -> None:
    note = bot.say("rm1", text).event("note_recorded")
    assert note["next_followup_on"] == due
    assert note["customer_id"] in {"c1", "c8"}


def test_note_keeps_the_words_as_typed(bot: Assistant, store: Store) -> None:
    note = bot.say("rm1", "张伟今天来电说想转定期，下周一再联系").event("note_recorded")
    with store.db.read() as s:
        row = s.get(Interaction, note["interaction_id"])
        assert row is not None and row.content == "张伟今天来电说想转定期，下周一再联系"


LISTS = [
    ("本月过生日的客户", {"kind": "birthdays", "from": "2026-11-01", "to": "2026-11-30"}),
    ("下个月到期的客户", {"kind": "maturities", "from": "2026-12-01", "to": "2026-12-31"}),
    ("下个礼拜有哪些到期", {"kind": "maturities", "from": "2026-11-30", "to": "2026-12-06"}),
    ("AUM五百万以上的", {"kind": "customers", "aum_at_least": "5000000.00"}),
    ("潜在客户有哪些", {"kind": "customers", "segment": "prospect"}),
    ("我有多少客户", {"kind": "customers", "count_only": True}),
    ("哪些客户待跟进", {"kind": "followups"}),
    ("关注基金的客户有哪些", {"kind": "customers", "tag": "关注基金"}),
    ("最近一个月没联系的VIP", {"kind": "customers", "segment": "vip", "silent_days": "30"}),
    ("半个月没跟进的客户有哪些", {"kind": "customers", "silent_days": "15"}),
    ("90天未沟通的客户有几个", {"kind": "customers", "silent_days": "90", "count_only": True}),
    (
        "VIPs not contacted for 30 days",
        {"kind": "customers", "segment": "vip", "silent_days": "30"},
    ),
    ("有哪些客户很久没联系了", {"kind": "customers", "past_cadence": "1"}),
    ("好久没跟进的VIP", {"kind": "customers", "segment": "vip", "past_cadence": "1"}),
    ("customers not contacted for a long time", {"kind": "customers", "past_cadence": "1"}),
]


@pytest.mark.parametrize(("text", "expected"), LISTS)
def test_lists_carry_their_filter(bot: Assistant, text: str, expected: dict[str, object]) -> None:
    shown = bot.say("rm1", text).event("list_shown")
    assert {k: shown["filter"].get(k) for k in expected} == expected
    assert not {"c2", "c3", "c6", "c7"} & set(shown["customer_ids"])


def test_list_ids_follow_the_display_order(bot: Assistant) -> None:
    said = bot.say("rm1", "下个月到期的客户")
    assert said.event("list_shown")["customer_ids"] == ["c1", "c8"]
    assert said.text.index("张伟") < said.text.index("刘洋")


def test_count_question_answers_with_the_count(bot: Assistant) -> None:
    said = bot.say("rm1", "我有多少客户")
    assert said.event("list_shown")["total"] == 4 and "4位" in said.text


@pytest.mark.parametrize("text", ["谢谢", "好的", "收到", "你好", "ok"])
def test_small_talk_is_not_a_customer_name(bot: Assistant, text: str) -> None:
    said = bot.say("rm1", text)
    assert said.types() == ["small_talk"]


@pytest.mark.parametrize("text", ["完成", "推迟"])
def test_a_bare_action_word_asks_for_the_item_number(bot: Assistant, text: str) -> None:
    assert bot.say("rm1", text).types() == ["item_number_needed"]


def test_a_near_miss_name_is_asked_about_not_shown(bot: Assistant) -> None:
    said = bot.say("rm1", "查下张玮")
    assert said.event("clarification_requested") == {"candidates": ["c1"]}
    assert "您是要找张伟吗" in said.text
    assert bot.say("rm1", "1").event("customer_shown")["customer_id"] == "c1"


def test_a_statement_about_a_customer_asks_note_or_card(bot: Assistant, store: Store) -> None:
    said = bot.say("rm1", "张伟想了解大额存单")
    assert said.event("intent_choice")["options"] == ["note", "lookup"]
    with store.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == 0
    note = bot.say("rm1", "1").event("note_recorded")
    assert note["customer_id"] == "c1"


def test_field_question_on_two_namesakes_answers_the_field_after_the_choice(
    bot: Assistant,
) -> None:
    assert bot.say("rm1", "王芳电话多少").event("clarification_requested")
    assert bot.say("rm1", "2").event("customer_shown") == {"customer_id": "c5", "field": "phone"}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("王芳的生日是哪天", "birthday"),
        ("王芳的理财哪天到期", "maturity"),
        ("王芳生日", "birthday"),
    ],
)
def test_a_birthday_or_maturity_of_two_namesakes_asks_which_not_lists_everyone(
    bot: Assistant, text: str, field: str
) -> None:
    """Its words are a list's too ("生日", "到期"): the named customer decides."""
    said = bot.say("rm1", text)
    assert said.event("clarification_requested")
    assert "list_shown" not in said.types()
    assert bot.say("rm1", "1").event("customer_shown") == {"customer_id": "c4", "field": field}


def test_today_numbers_birthdays_and_maturities_too(bot: Assistant) -> None:
    bot.now = NOW + timedelta(days=1)  # Sunday 29th: c1's birthday (1 Dec) and h1 (3 Dec) ahead
    said = bot.say("rm1", "今天要做什么")
    assert "1. 🎂 张伟" in said.text
    assert said.event("agenda_shown")["items"] == 2  # the birthday and h1's maturity
    acked = bot.say("rm1", "完成 1").event("reminder_acked")
    assert acked == {"customer_id": "c1", "kind": "birthday"}


def test_undo_names_an_older_note_instead_of_nothing(bot: Assistant) -> None:
    bot.say("rm1", "记录：张伟想了解基金")
    bot.now = NOW + timedelta(minutes=30)
    said = bot.say("rm1", "撤销")
    assert said.types() == ["nothing_to_undo"]
    assert "已超过10分钟" in said.text


def test_churn_questions_in_plain_words(bot: Assistant) -> None:
    listed = bot.say("rm1", "我这边哪些客户可能会流失")
    assert listed.event("list_shown")["filter"] == "retention"
    assert "c2" not in str(listed.reply.events)
    why = bot.say("rm1", "张伟会不会流失")
    assert "c2" not in str(why.reply.events) and "not_understood" not in why.types()


def test_english_reminder_reads_its_day(bot: Assistant) -> None:
    created = bot.say("rm1", "remind me to call Zhang Wei on Monday").event("followup_created")
    assert created == {**created, "customer_id": "c1", "due_on": "2026-11-30"}


def test_a_segment_tells_namesakes_apart(bot: Assistant) -> None:
    shown = bot.say("rm1", "王芳那个潜在客户的电话").event("customer_shown")
    assert shown == {"customer_id": "c5", "field": "phone"}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("记录：刚和赵敏通话，后天回电", "赵敏"),
        ("张伟今天来电说想转定期", "张伟"),
        ("和欧阳明通话，聊了基金", "欧阳明"),
        ("帮我记一下，李阿姨上午来网点", "李阿姨"),
        ("今天天气不错，聊了聊", None),
        ("刚和客户通话", None),
    ],
)
def test_a_notes_name_before_its_contact_verb_is_read_as_a_name(
    text: str, name: str | None
) -> None:
    assert name_like(text) == name


@pytest.fixture
def no_phone(bot: Assistant, store: Store) -> Assistant:
    """c1 张伟 with no mobile number on file."""
    with store.db.write() as s:
        customer = s.get(Customer, "c1")
        assert customer is not None
        customer.phone_enc = customer.phone_masked = customer.phone_last4 = None
    return bot


def test_a_customer_with_no_number_on_file_is_said_so_not_masked(no_phone: Assistant) -> None:
    text = no_phone.say("rm1", "张伟电话多少").text
    assert text.startswith("张伟没有登记手机号。")
    assert "已脱敏" not in text.splitlines()[0]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("刚和张伟通话，下周二回访", "已记录 张伟的跟进"),
        ("提醒我下周一给张伟打电话", "好的，后天 11月30日（周一）提醒您跟进张伟："),
    ],
)
def test_a_confirmation_names_a_customer_with_no_number_without_a_dash(
    no_phone: Assistant, text: str, start: str
) -> None:
    said = no_phone.say("rm1", text).text
    assert said.startswith(start), said
    assert "（-）" not in said


@pytest.mark.parametrize("text", ["下周要回访哪些客户", "这周需要回访谁"])
def test_who_to_call_back_is_the_follow_up_list(bot: Assistant, text: str) -> None:
    assert bot.say("rm1", text).event("list_shown")["filter"]["kind"] == "followups"


def test_customers_without_a_note_for_a_while_leave_out_those_with_one(
    bot: Assistant, store: Store
) -> None:
    """c1 had a note 3 days ago, c4 one 10 days ago (undone since), c5 none; c8 is rm1's by a
    grant, with a note 20 days ago."""
    add_note(store, "n1", "c1", 3)
    add_note(store, "n4", "c4", 10)
    add_note(store, "n8", "c8", 20)
    with store.db.write() as s:
        undone = s.get(Interaction, "n4")
        assert undone is not None
        undone.undone_at = undone.created_at
    week = bot.say("rm1", "一周没联系的客户").event("list_shown")
    assert set(week["customer_ids"]) == {"c4", "c5", "c8"}
    month = bot.say("rm1", "一个月没联系的客户").event("list_shown")
    assert set(month["customer_ids"]) == {"c4", "c5"}
    assert "30天内没有沟通记录的客户（共2位）" in bot.say("rm1", "一个月没联系的客户").text


def test_a_staff_members_customers_named_with_de_are_theirs(bot: Assistant) -> None:
    """'李娜的VIP客户有几个' from her team lead: her customers, not a near miss for 李娜."""
    said = bot.say("lead1", "李娜的VIP客户有几个").event("list_shown")
    assert said["filter"]["owner"] == "rm1" and said["filter"]["count_only"]
    assert said["total"] == 1  # c1 is rm1's only VIP


def test_a_staff_name_before_customers_is_the_owner_not_a_tag(bot: Assistant) -> None:
    mine = bot.say("lead1", "李娜的客户有哪些").event("list_shown")
    assert set(mine["customer_ids"]) == {"c1", "c4", "c5"} and "tag" not in mine["filter"]
    other = bot.say("lead1", "赵强的客户有哪些")  # another branch's RM: none in scope
    assert other.event("list_shown")["customer_ids"] == []
    assert "赵强名下的" in other.text and "标签" not in other.text
    tagged = bot.say("rm1", "关注基金的客户有哪些").event("list_shown")
    assert tagged["filter"]["tag"] == "关注基金"
    mine = bot.say("rm1", "我的客户有哪些").event("list_shown")  # all of them, not a tag "我"
    assert set(mine["customer_ids"]) == {"c1", "c4", "c5", "c8"} and "tag" not in mine["filter"]


def test_an_rm_counts_the_notes_they_recorded_in_a_period(bot: Assistant, store: Store) -> None:
    """Saturday 28 November. c8's note is its owner rm2's, not rm1's."""
    add_note(store, "n1", "c1", 3)
    add_note(store, "n2", "c1", 1)
    add_note(store, "n4", "c4", 10)
    add_note(store, "n8", "c8", 2)
    month = bot.say("rm1", "这个月我记了几条跟进")
    assert month.event("notes_counted") == {"notes": 3, "customers": 2}
    assert month.text == "这个月您记录了3条跟进，涉及2位客户。"
    week = bot.say("rm1", "本周写了多少条记录")
    assert week.event("notes_counted") == {"notes": 2, "customers": 1}
    bare = bot.say("rm1", "我记了几条")  # no period: this month
    assert bare.text == "本月您记录了3条跟进，涉及2位客户。"


def test_the_largest_customers_are_the_first_by_aum_and_only_as_many_as_asked(
    bot: Assistant, store: Store
) -> None:
    with store.db.write() as s:
        for cid, aum in (
            ("c1", "1000000"),
            ("c4", "5000000"),
            ("c5", "3000000"),
            ("c8", "2000000"),
        ):
            customer = s.get(Customer, cid)
            assert customer is not None
            customer.aum = Decimal(aum)
    two = bot.say("rm1", "我名下资产最多的前两个客户")
    assert two.event("list_shown")["customer_ids"] == ["c4", "c5"]
    assert "资产最多的前2位客户（共2位）" in two.text and "更多" not in two.text
    assert bot.say("rm1", "AUM最高的客户是谁").event("list_shown")["customer_ids"] == ["c4"]
    assert bot.say("rm1", "谁的资产最多").event("list_shown")["customer_ids"] == ["c4"]
    which = bot.say("rm1", "资产最多的客户有哪些").event("list_shown")  # not a tag
    assert which["customer_ids"] == ["c4", "c5", "c8", "c1"] and "tag" not in which["filter"]
    some = bot.say("rm1", "资产最多的几个客户").event("list_shown")  # a list, not a count
    assert some["customer_ids"] == ["c4", "c5", "c8", "c1"] and not some["filter"]["count_only"]


def test_customers_contacted_in_a_period_are_those_with_a_note_then(
    bot: Assistant, store: Store
) -> None:
    """Saturday 28 November: last week is 16-22 November. A note undone does not count."""
    add_note(store, "n1", "c1", 3)  # 25 November: this week
    add_note(store, "n4", "c4", 10)  # 18 November: last week
    add_note(store, "n5", "c5", 12)  # 16 November, undone since
    add_note(store, "n8", "c8", 20)  # 8 November
    with store.db.write() as s:
        undone = s.get(Interaction, "n5")
        assert undone is not None
        undone.undone_at = undone.created_at
    said = bot.say("rm1", "上周我联系了哪些客户")
    assert said.event("list_shown")["customer_ids"] == ["c4"]
    assert "上周有沟通记录的客户（共1位）" in said.text
    month = bot.say("rm1", "这个月拜访过几个客户").event("list_shown")
    assert (month["total"], month["filter"]["count_only"]) == (3, True)
    # "近一周", read ahead for maturities, is the week past here: 21-28 November.
    assert set(bot.say("rm1", "近一周联系了哪些客户").event("list_shown")["customer_ids"]) == {"c1"}


def test_customers_not_contacted_for_long_are_those_past_their_segments_cadence(
    bot: Assistant, store: Store
) -> None:
    """RETENTION_CADENCE's default: VIP 30 days, regular 90, prospect 14. c1 (VIP) and c5
    (prospect) are past theirs; c4 (regular) and c8 (VIP, by a grant) are not."""
    add_note(store, "n1", "c1", 40)
    add_note(store, "n4", "c4", 40)
    add_note(store, "n5", "c5", 20)
    add_note(store, "n8", "c8", 10)
    said = bot.say("rm1", "很久没联系的客户")
    assert set(said.event("list_shown")["customer_ids"]) == {"c1", "c5"}
    assert "超过联系周期（VIP30天、普通客户90天、潜在客户14天）没有沟通记录的客户（共2位）" in (
        said.text
    )


@pytest.mark.parametrize(
    ("text", "customer"),
    [
        ("记录：王芳尾号3333来电，想转定期", "c4"),  # the explicit note command
        ("帮我记一下：王芳尾号4444说想开户", "c5"),
        ("记一下，王芳那个潜在客户说下周来网点", "c5"),
    ],
)
def test_a_note_that_tells_namesakes_apart_is_saved_without_asking(
    bot: Assistant, text: str, customer: str
) -> None:
    assert bot.say("rm1", text).event("note_recorded")["customer_id"] == customer


def test_a_note_on_namesakes_not_told_apart_still_asks(bot: Assistant) -> None:
    assert bot.say("rm1", "记录：王芳来电，想转定期").event("clarification_requested")
