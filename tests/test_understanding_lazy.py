"""Reading a message loads jionlp and pypinyin only when they could find something, and
reads it exactly as they would (tests/test_cli_startup.py: a look-up loads neither)."""

from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from handlers.understanding import lexicon as lx
from handlers.understanding.normalise import _tra2sim, simplified
from handlers.understanding.periods import TIME_CHARS, may_hold_time

BASES = (datetime(2026, 11, 28, 10, 0), datetime(2027, 2, 10, 23, 30))
EVAL = Path(__file__).parent.parent / "bench" / "eval_understanding.jsonl"


def _jio() -> Any:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import jionlp

    return jionlp


def test_time_characters_are_jionlps() -> None:
    from jionlp.rule.rule_pattern import TIME_CHAR_STRING

    assert TIME_CHARS.pattern == TIME_CHAR_STRING


def _time_class_characters() -> list[str]:
    cls = re.compile(TIME_CHARS.pattern.rsplit("|", 1)[1][:-2])  # the [...] class
    return [chr(i) for i in range(0x20, 0x10000) if cls.fullmatch(chr(i))]


def test_what_is_skipped_holds_no_time_for_jionlp() -> None:
    jio = _jio()
    skipped = ["查一下", "一下", " 一下 ", "的一下的", "查一下张伟的", "电话多少", "查下"]
    for ch in _time_class_characters():
        skipped += [ch, f" {ch} ", f"的{ch}的"]
    for text in skipped:
        assert not may_hold_time(text), text
        for base in BASES:
            assert jio.ner.extract_time(text, time_base=base, with_parsing=True) == [], text


@pytest.mark.parametrize("text", ["一下午", "一下下周", "十一", "下个月", "月底", "国庆", "冬至"])
def test_what_may_hold_a_time_goes_to_jionlp(text: str) -> None:
    assert may_hold_time(text)


def test_traditional_table_is_jionlps() -> None:
    jio = _jio()
    jio.tra2sim("張", mode="char")  # jionlp builds its table on first use
    assert _tra2sim() == jio.tra2sim.__self__.tra2sim_char
    assert simplified("張偉的電話") == "张伟的电话"
    for text in ("查一下張偉", "龍若曦資產多少", "abc 123"):
        assert simplified(text) == jio.tra2sim(text, mode="char")


def _by_sound_exactly(text: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    """`words_by_sound` without the check that spares loading pypinyin."""
    heard = lx._sounds(text)
    return [
        key
        for key, words in table.items()
        if any(
            len(w) >= 2 and "\u4e00" <= w[0] <= "\u9fff" and lx._sounds(w) in heard for w in words
        )
    ]


def _texts() -> list[str]:
    turns = [t for line in EVAL.read_text().splitlines() for t in json.loads(line)["turns"]]
    typed = [
        "张伟电化多少",
        "姿产多少",
        "查一下张伟",
        "生日是哪天",
        "风显等级",
        "dian话",
        "快乐到期",
    ]
    return turns + typed


def test_homophones_are_found_as_pypinyin_finds_them() -> None:
    found = 0
    for text in _texts():
        for table in (lx.FIELDS, lx.PRODUCTS):
            expected = _by_sound_exactly(text, table)
            assert lx.words_by_sound(text, table) == expected, text
            found += bool(expected)
    assert found >= 3  # 电化, 姿产, 风显 at least
