"""The reply texts: English is complete, and rendering speaks the language it is asked for."""

from __future__ import annotations

import re
import string
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crm_store.agenda import BirthdayLine, MaturityLine
from crm_store.cards import CustomerCard, FollowUpLine, HoldingLine, NoteLine
from crm_store.customers import CustomerSummary
from handlers import texts
from handlers.render import (
    PRODUCT_NAMES,
    birthday_line,
    card_text,
    followup_line,
    maturity_line,
    product_text,
    segment_text,
    summary_line,
)
from handlers.texts import day_text, money_text, t

# CJK ideographs, CJK punctuation (、「」　), kana, Hangul and full-width forms (，：（）｜).
CJK = re.compile(
    r"[\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]"
)
HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
TODAY = date(2026, 11, 28)  # a Saturday
SHANGHAI = ZoneInfo("Asia/Shanghai")


def placeholders(template: str) -> set[str]:
    """The {names} a template fills in."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_chinese_key_has_english_with_the_same_placeholders() -> None:
    missing = sorted(set(texts._ZH) - set(texts._EN))
    assert missing == []
    for key, zh in texts._ZH.items():
        assert placeholders(texts._EN[key]) == placeholders(zh), key


def test_no_english_key_without_chinese() -> None:
    assert sorted(set(texts._EN) - set(texts._ZH)) == []


@pytest.mark.parametrize("key", sorted(texts._EN))
def test_english_has_no_cjk(key: str) -> None:
    value = texts._EN[key]
    assert value.strip(), key
    assert not CJK.findall(value), (key, value)


def test_every_key_used_in_handlers_exists() -> None:
    used: set[str] = set()
    for path in HANDLERS.glob("*.py"):
        used |= set(re.findall(r"\bt\(\s*\"([a-z_]+)\"", path.read_text(encoding="utf-8")))
    assert used and used - set(texts._ZH) == set()


def test_t_falls_back_to_chinese_and_fills_values() -> None:
    assert t("bad_item", n=3) == "没有第3项待办，请按最近一次列表的序号回复。"
    assert t("bad_item", "en", n=3).startswith("There is no item 3.")
    assert t("bad_item", "fr", n=3) == t("bad_item", "zh", n=3)


@pytest.mark.parametrize(
    ("day", "zh", "en"),
    [
        (date(2026, 12, 1), "12月1日（周二）", "Tue 1 Dec"),
        (date(2026, 11, 28), "今天 11月28日（周六）", "today, Sat 28 Nov"),
        (date(2026, 11, 29), "明天 11月29日（周日）", "tomorrow, Sun 29 Nov"),
        (date(2026, 11, 30), "后天 11月30日（周一）", "in 2 days, Mon 30 Nov"),
        (date(2026, 11, 27), "昨天 11月27日（周五）", "yesterday, Fri 27 Nov"),
        (date(2027, 1, 1), "2027年1月1日（周五）", "Fri 1 Jan 2027"),
    ],
)
def test_day_text(day: date, zh: str, en: str) -> None:
    assert day_text(day, TODAY) == zh
    assert day_text(day, TODAY, "zh") == zh
    assert day_text(day, TODAY, "en") == en


@pytest.mark.parametrize(
    ("amount", "currency", "zh", "en"),
    [
        (Decimal("1234567.00"), "CNY", "123.46万", "CNY 1,234,567.00"),
        (Decimal("500000"), "CNY", "50.00万", "CNY 500,000.00"),
        ("9999.5", "CNY", "9,999.50元", "CNY 9,999.50"),
        (0, "CNY", "0.00元", "CNY 0.00"),
        ("1500.5", "USD", "1,500.50元 USD", "USD 1,500.50"),
        (Decimal("25000"), "USD", "2.50万 USD", "USD 25,000.00"),
        ("n/a", "CNY", "n/a", "n/a"),
    ],
)
def test_money_text(amount: object, currency: str, zh: str, en: str) -> None:
    assert money_text(amount, currency) == zh
    assert money_text(amount, currency, "zh") == zh
    assert money_text(amount, currency, "en") == en


def test_segment_and_product_names() -> None:
    assert [segment_text(s) for s in ("vip", "regular", "prospect")] == [
        "VIP",
        "普通客户",
        "潜在客户",
    ]
    assert [segment_text(s, "en") for s in ("vip", "regular", "prospect")] == [
        "VIP",
        "regular",
        "prospect",
    ]
    assert PRODUCT_NAMES["large_cd"] == product_text("large_cd") == "大额存单"
    assert product_text("time_deposit", "en") == "time deposit"
    assert product_text("gold", "en") == product_text("gold") == "gold"  # unknown: as stored
    for product_type in PRODUCT_NAMES:
        assert not CJK.findall(product_text(product_type, "en"))


FOLLOWUPS = [
    FollowUpLine(1, "c1", "张伟", date(2026, 11, 25), "open", "讨论续存"),
    FollowUpLine(2, "c1", "张伟", date(2026, 11, 27), "open", "送台历"),
    FollowUpLine(3, "c1", "张伟", date(2026, 11, 29), "open", "回访"),
]
NOTE = NoteLine("n1", datetime(2026, 11, 20, 9, 30), "李娜", "客户想了解理财", None)
CARD = CustomerCard(
    id="c1",
    name="张伟",
    segment="vip",
    risk_level="C3",
    aum=Decimal("1234567.89"),
    phone_masked="138****5678",
    id_number_masked="**************123X",
    tags="高净值;养老",
    branch_name="陆家嘴支行",
    owner_name="李娜",
    birthday_calendar="lunar",
    next_birthday=date(2026, 12, 1),
    maturing=[
        HoldingLine("large_cd", "大额存单2025年第12期", Decimal("500000"), "CNY", date(2026, 12, 3))
    ],
    notes=[NOTE],
    followups=FOLLOWUPS,
)
# What the card may show in Chinese whatever the language: the customer's own data.
CARD_DATA = ["大额存单2025年第12期", "陆家嘴支行", "客户想了解理财", "讨论续存", "送台历", "回访"]
CARD_DATA += ["高净值", "养老", "张伟", "李娜"]


def without_data(text: str) -> str:
    for value in sorted(CARD_DATA, key=len, reverse=True):
        text = text.replace(value, "")
    return text


def test_card_text_in_chinese_is_unchanged() -> None:
    assert card_text(CARD, TODAY, tz=SHANGHAI) == "\n".join(
        [
            "张伟｜VIP｜风险等级C3｜资产123.46万",
            "手机：138****5678　证件：**************123X　陆家嘴支行，客户经理李娜",
            "标签：高净值、养老",
            "生日：12月1日（周二）（农历，还有3天）",
            "30天内到期：",
            "  • 大额存单「大额存单2025年第12期」50.00万，12月3日（周四）到期",
            "最近沟通：",
            "  • 2026-11-20 李娜：客户想了解理财",
            "待跟进：",
            "  • 张伟：讨论续存（逾期3天）",
            "  • 张伟：送台历（逾期1天）",
            "  • 张伟：回访（明天 11月29日（周日））",
        ]
    )
    assert card_text(CARD, TODAY, "zh", tz=SHANGHAI) == card_text(CARD, TODAY, tz=SHANGHAI)


def test_card_text_in_english() -> None:
    text = card_text(CARD, TODAY, "en", tz=SHANGHAI)
    assert not CJK.findall(without_data(text)), text
    assert text == "\n".join(
        [
            "张伟 | VIP | risk level C3 | AUM CNY 1,234,567.89",
            "Mobile: 138****5678  ID: **************123X  陆家嘴支行, RM 李娜",
            "Tags: 高净值, 养老",
            "Birthday: Tue 1 Dec (lunar, in 3 days)",
            "Maturing within 30 days:",
            '  • large-denomination CD "大额存单2025年第12期" CNY 500,000.00, matures Thu 3 Dec',
            "Recent notes:",
            "  • 2026-11-20 李娜: 客户想了解理财",
            "Open follow-ups:",
            "  • 张伟: 讨论续存 (overdue by 3 days)",
            "  • 张伟: 送台历 (overdue by 1 day)",
            "  • 张伟: 回访 (tomorrow, Sun 29 Nov)",
        ]
    )


def test_sparse_card_in_english() -> None:
    card = CustomerCard(
        id="c9",
        name="王芳",
        segment="prospect",
        risk_level=None,
        aum=None,
        phone_masked=None,
        id_number_masked=None,
        tags="",
        branch_name="社区支行",
        owner_name="陈静",
        birthday_calendar="solar",
        next_birthday=TODAY,
        maturing=[],
        notes=[],
        followups=[],
    )
    assert card_text(card, TODAY, "en", tz=SHANGHAI) == "\n".join(
        [
            "王芳 | prospect | risk level unknown | AUM unknown",
            "Mobile: n/a  ID: n/a  社区支行, RM 陈静",
            "Birthday: today (Gregorian) 🎂",
            "Nothing maturing within 30 days.",
            "No notes yet.",
        ]
    )
    tomorrow = CustomerCard(**{**card.__dict__, "next_birthday": date(2026, 11, 29)})
    assert "Birthday: tomorrow, Sun 29 Nov (Gregorian, in 1 day)" in card_text(
        tomorrow, TODAY, "en", tz=SHANGHAI
    )


def test_a_note_after_midnight_beijing_time_is_dated_that_day_on_the_card() -> None:
    # 01:30 on 28 Nov in Beijing is still 27 Nov in UTC, the stored time.
    late = NoteLine("n2", datetime(2026, 11, 27, 17, 30, tzinfo=UTC), "李娜", "夜里回电", None)
    card = CustomerCard(**{**CARD.__dict__, "notes": [late]})
    assert "2026-11-28 李娜：夜里回电" in card_text(card, TODAY, tz=SHANGHAI)
    assert "2026-11-27 李娜：夜里回电" in card_text(card, TODAY, tz=UTC)


def test_list_lines_in_both_languages() -> None:
    summary = CustomerSummary("c4", "王芳", "regular", "136****3333", "陆家嘴支行", "李娜", None)
    assert (
        summary_line(1, summary) == "1. 王芳｜普通客户｜手机136****3333｜陆家嘴支行｜客户经理李娜"
    )
    assert summary_line(1, summary, "en") == (
        "1. 王芳 | regular | mobile 136****3333 | 陆家嘴支行 | RM 李娜"
    )
    assert followup_line(2, FOLLOWUPS[0], TODAY) == "2. 张伟：讨论续存（逾期3天）"
    assert followup_line(2, FOLLOWUPS[0], TODAY, "en") == "2. 张伟: 讨论续存 (overdue by 3 days)"
    lunar = BirthdayLine("c1", "张伟", date(2026, 12, 1), "lunar")
    solar = BirthdayLine("c1", "张伟", date(2026, 12, 1), "solar")
    assert birthday_line(lunar, TODAY) == "  • 张伟 12月1日（周二）（农历）"
    assert birthday_line(solar, TODAY) == "  • 张伟 12月1日（周二）"
    assert birthday_line(lunar, TODAY, "en") == "  • 张伟: Tue 1 Dec (lunar)"
    assert birthday_line(solar, TODAY, "en") == "  • 张伟: Tue 1 Dec"
    maturity = MaturityLine(
        "c8", "刘洋", "time_deposit", "稳盈3个月", Decimal("200000"), "CNY", date(2026, 12, 20)
    )
    assert maturity_line(maturity, TODAY) == (
        "  • 刘洋：定期存款「稳盈3个月」20.00万，12月20日（周日）到期"
    )
    assert maturity_line(maturity, TODAY, "en") == (
        '  • 刘洋: time deposit "稳盈3个月" CNY 200,000.00, matures Sun 20 Dec'
    )
