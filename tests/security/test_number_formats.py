"""Personal numbers typed in unusual formats are masked everywhere: in free text, in the reply
guard (LLM output), and on every path a note takes (reply, audit, notes table, follow-up,
index, LLM prompt) on SQLite and PostgreSQL; dates, amounts and rates are left alone."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from crm_store.masking import mask_text
from crm_store.number_spans import FORMAT_CHARS
from crm_store.permissions import load_actor
from crm_store.store import Store
from handlers.contracts import Reply
from handlers.guard import guard_reply
from retrieval.index import NoteIndex
from tests.retrieval_llm.stub_llm import StubLLM
from tests.security.surfaces import assistant, digits_view, surfaces
from tests.world import TODAY, build_world

# (as typed, its digits, the masked form)
NUMBERS = [
    ("13912345670", "13912345670", "139****5670"),
    ("１３９１２３４５６７１", "13912345671", "139****5671"),
    ("139.1234.5675", "13912345675", "139****5675"),
    ("(139)12345674", "13912345674", "139****5674"),
    ("（139）1234 5673", "13912345673", "139****5673"),
    ("139_1234_5677", "13912345677", "139****5677"),
    ("139 1234 5672", "13912345672", "139****5672"),
    ("139-1234-5679", "13912345679", "139****5679"),
    ("139\u200b1234\u200b5676", "13912345676", "139****5676"),
    ("1\u200c3\u200d9\ufeff12345678", "13912345678", "139****5678"),
    ("+86 139 1234 5666", "13912345666", "139****5666"),
    ("一九九一二三四二零八八", "19912342088", "199****2088"),
    ("幺三九一二三四五六六六", "13912345666", "139****5666"),
    ("一三九１２３４五六六五", "13912345665", "139****5665"),
    ("310101-19900101-1234", "310101199001011234", "310***********1234"),
    ("310101 19900101 123X", "31010119900101123X", "310***********123X"),
    ("３１０１０１１９９００１０１１２３Ｘ", "31010119900101123X", "310***********123X"),
    ("三一零一零一一九九零零一零一一二三四", "310101199001011234", "310***********1234"),
    ("6222 0212 3456 7890 123", "6222021234567890123", "6222***********0123"),
    ("6222-0212-3456-7890", "6222021234567890", "6222********7890"),
    ("６２２２０２１２３４５６７８９０", "6222021234567890", "6222********7890"),
]
# Not personal numbers: they stay exactly as typed.
KEPT = [
    "100万",
    "2026-12-08",
    "2026.12.08 到期",
    "3.5%",
    "利率2.15%，金额500000元",
    "订单号20261128",
    "尾号5678",
    "一百万，三年期",
    "12月8日下午3点",
    "2026-12-08 13:30",
    "第一二三期",
]


@pytest.mark.parametrize(("typed", "number", "masked"), NUMBERS)
def test_free_text_masks_every_format(typed: str, number: str, masked: str) -> None:
    text = mask_text(f"客户说{typed}，请回电")
    assert text == f"客户说{masked}，请回电"
    assert number not in digits_view(text)
    assert mask_text(text) == text


@pytest.mark.parametrize("text", KEPT)
def test_dates_amounts_and_rates_are_kept(text: str) -> None:
    assert mask_text(text) == text


def test_a_date_next_to_a_number_stays_a_date() -> None:
    assert mask_text("2026-12-08 139 1234 5678") == "2026-12-08 139****5678"


@pytest.mark.parametrize(("typed", "number", "masked"), NUMBERS)
def test_the_guard_masks_every_format_in_model_output(
    store: Store, typed: str, number: str, masked: str
) -> None:
    build_world(store)
    with store.db.read() as s:
        rm1 = load_actor(s, "rm1")
        text = guard_reply(s, rm1, TODAY, Reply(f"张伟的号码是{typed}。")).text
    assert number not in digits_view(text)
    assert masked in text


def test_every_path_of_a_note_masks_every_format(
    store: Store, index: NoteIndex, stub: StubLLM
) -> None:
    build_world(store)
    bot = assistant(store, index, stub)
    replies = []
    for i, (typed, _, _) in enumerate(NUMBERS):
        replies.append(bot.say("rm1", f"/note 张伟 第{i}次来电，新号码{typed}，下周二回访").text)
    replies.append(bot.say("rm1", "张伟上次聊了什么？").text)  # the notes go to the LLM
    assert stub.requests
    found = surfaces(store, index, stub, replies)
    assert found["chroma"].count("新号码") == len(NUMBERS)
    for where, text in found.items():
        view = digits_view(text)
        leaked = [typed for typed, number, _ in NUMBERS if number in view or typed in text]
        assert leaked == [], where


def test_every_format_character_is_dropped_from_the_searched_copy() -> None:
    every = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}
    assert {c for c in every if not FORMAT_CHARS.match(c)} == set()
    for ch in sorted(every)[:: max(1, len(every) // 20)]:  # a spread of them inside a number
        assert mask_text(f"139{ch}1234{ch}5678") == "139****5678"
