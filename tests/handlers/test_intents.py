"""The explicit commands as a table; everything else is read in context
(tests/handlers/test_understanding.py)."""

from __future__ import annotations

import pytest

from handlers.intents import Intent, choice_number, parse_intent

NOTE = "刚和张伟通话，他想了解大额存单，下周二回访"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("帮助", Intent("help")),
        ("/help", Intent("help")),
        # Names are found in context by the permission-aware look-up, not by these rules.
        ("张伟最近怎么样", Intent("unknown")),
        ("查一下张伟", Intent("unknown")),
        ("/c 张伟", Intent("lookup", {"name": "张伟"})),
        ("张伟", Intent("unknown")),
        ("尾号5678的客户", Intent("lookup_tail", {"last4": "5678"})),
        ("手机尾号 1234", Intent("lookup_tail", {"last4": "1234"})),
        (f"记录：{NOTE}", Intent("note", {"content": NOTE})),
        (NOTE, Intent("note", {"content": NOTE})),
        (
            "/note 张伟 想了解基金定投",
            Intent("note", {"name": "张伟", "content": "想了解基金定投"}),
        ),
        ("今天要做什么", Intent("today")),
        ("/today", Intent("today")),
        ("完成 2", Intent("done", {"n": "2"})),
        ("推迟 2 3天", Intent("snooze", {"n": "2", "when": "3天"})),
        ("推迟2", Intent("snooze", {"n": "2", "when": ""})),
        ("帮我把第3条推迟到下周一", Intent("snooze", {"n": "3", "when": "下周一"})),
        ("请把2完成", Intent("done", {"n": "2"})),
        ("完成第一项", Intent("done", {"n": "1"})),
        ("第2个已经办好了", Intent("done", {"n": "2"})),
        ("推迟第二项 3天", Intent("snooze", {"n": "2", "when": "3天"})),
        ("推迟一天", Intent("unknown")),  # no item's number: read in context
        ("我的客户有哪些", Intent("unknown")),  # all of them, not a tag "我"
        ("我的VIP客户", Intent("list_vip")),
        ("下个月到期的客户", Intent("list_maturing", {"when": "下个月"})),
        ("撤销", Intent("undo")),
        ("取消", Intent("cancel")),
        ("今天天气真不错啊朋友们", Intent("unknown")),
        ("", Intent("unknown")),
        ("2", Intent("unknown")),  # a bare number means nothing without a pending question
    ],
)
def test_parse_intent(text: str, expected: Intent) -> None:
    assert parse_intent(text) == expected


@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), ("2", 2), ("第二个", 2), ("第3位", 3), ("两", 2), ("十", 10), ("第一个客户", None)],
)
def test_choices(text: str, number: int | None) -> None:
    assert choice_number(text) == number
    if number is not None:
        assert parse_intent(text, pending_choice=True) == Intent("choose", {"n": str(number)})
