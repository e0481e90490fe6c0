"""Tests for follow-up date extraction (handlers/dates.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handlers.dates import FollowUpDate, find_followup_date, parse_date_expression

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]


def at(y: int, m: int, d: int, hour: int = 10, minute: int = 0) -> datetime:
    """A business-time `now`."""
    return datetime(y, m, d, hour, minute, tzinfo=SHANGHAI)


SAT = at(2026, 11, 28)  # Saturday; this week runs Mon 11-23 .. Sun 11-29
THU_DEC = at(2026, 12, 10)  # Thursday, after 12-05
WED_YEAR_END = at(2026, 12, 30)  # Wednesday; next week runs Mon 2027-01-04 .. Sun 01-10
LEAP = at(2028, 2, 27)  # 2028 is a leap year: Feb has 29 days

# (now, expression, expected day, expected time of day)
STANDALONE = [
    (SAT, "下周二", date(2026, 12, 1), None),  # next week's Tuesday
    (SAT, "3天后", date(2026, 12, 1), None),  # 28 + 3 = 31 -> Dec 1
    (SAT, "三天后", date(2026, 12, 1), None),
    (SAT, "月底", date(2026, 11, 30), None),  # November has 30 days
    (SAT, "本月底", date(2026, 11, 30), None),
    (SAT, "下月底", date(2026, 12, 31), None),
    (SAT, "12月5号", date(2026, 12, 5), None),
    (SAT, "明天下午3点", date(2026, 11, 29), time(15, 0)),
    (SAT, "周五", date(2026, 12, 4), None),  # this week's Fri (11-27) is past -> next Fri
    (SAT, "星期五", date(2026, 12, 4), None),
    (SAT, "礼拜五", date(2026, 12, 4), None),
    (SAT, "周五下午3点", date(2026, 12, 4), time(15, 0)),
    (SAT, "周六", date(2026, 12, 5), None),  # today -> next Saturday
    (SAT, "周日", date(2026, 11, 29), None),  # tomorrow, still this week
    (SAT, "两周后", date(2026, 12, 12), None),  # 28 + 14 = 42 -> Dec 12
    (SAT, "2周后", date(2026, 12, 12), None),
    (SAT, "后天", date(2026, 11, 30), None),
    (SAT, "下周", date(2026, 11, 30), None),  # start of next week: Monday
    (SAT, "下个月", date(2026, 12, 1), None),  # start of next month
    (SAT, "月底前", date(2026, 11, 30), None),  # a deadline means its last day
    (SAT, "年底", date(2026, 12, 31), None),
    (SAT, "一个月后", date(2026, 12, 28), None),
    (THU_DEC, "12月5号", date(2027, 12, 5), None),  # already past this year
    (THU_DEC, "12月5号下午2点", date(2027, 12, 5), time(14, 0)),
    (THU_DEC, "12月15号", date(2026, 12, 15), None),
    (THU_DEC, "5号", date(2027, 1, 5), None),  # day-only and past -> next month
    (WED_YEAR_END, "下周二", date(2027, 1, 5), None),
    (WED_YEAR_END, "月底", date(2026, 12, 31), None),
    (WED_YEAR_END, "周一", date(2027, 1, 4), None),  # this week's Mon (12-28) is past
    (WED_YEAR_END, "下个月", date(2027, 1, 1), None),
    (WED_YEAR_END, "两周后", date(2027, 1, 13), None),  # 30 + 14 = 44 -> Jan 13
    (LEAP, "3天后", date(2028, 3, 1), None),  # 27 -> 28 -> 29 -> Mar 1
    (LEAP, "月底", date(2028, 2, 29), None),
    (at(2027, 1, 31), "一个月后", date(2027, 2, 28), None),  # clamped to February's end
]


@pytest.mark.parametrize(("now", "expr", "day", "clock"), STANDALONE)
def test_find_standalone_expression(
    now: datetime, expr: str, day: date, clock: time | None
) -> None:
    found = find_followup_date(expr, now)
    assert found == FollowUpDate(on=day, at=clock, text=expr, span=(0, len(expr)))


@pytest.mark.parametrize(("now", "expr", "day", "clock"), STANDALONE)
def test_parse_expression_agrees_with_find(
    now: datetime, expr: str, day: date, clock: time | None
) -> None:
    assert parse_date_expression(expr, now) == day


NOTES = [
    ("刚和张伟通话，他想了解大额存单，下周二回访", date(2026, 12, 1), None, "下周二", (16, 19)),
    ("今天和他通话了，下周见面", date(2026, 11, 30), None, "下周", (8, 10)),
    ("今天和他通话，约了他下周", date(2026, 11, 30), None, "下周", (10, 12)),
    ("刚才聊了，月底跟进", date(2026, 11, 30), None, "月底", (5, 7)),
    ("客户说下个月再联系", date(2026, 12, 1), None, "下个月", (3, 6)),
    ("过两天再联系", date(2026, 11, 30), None, "两天", (1, 3)),
    ("昨天说好了，周五再联系", date(2026, 12, 4), None, "周五", (6, 8)),
    ("今天下午3点回访", date(2026, 11, 28), time(15, 0), "今天下午3点", (0, 6)),
    ("明天下午3点见面，带上理财资料", date(2026, 11, 29), time(15, 0), "明天下午3点", (0, 6)),
]


@pytest.mark.parametrize(("note", "day", "clock", "text", "span"), NOTES)
def test_find_in_note(
    note: str, day: date, clock: time | None, text: str, span: tuple[int, int]
) -> None:
    found = find_followup_date(note, SAT)
    assert found == FollowUpDate(on=day, at=clock, text=text, span=span)
    assert note[span[0] : span[1]] == text


@pytest.mark.parametrize(
    "note",
    [
        "客户很满意",
        "昨天和他通话了",
        "今天和他通话了",  # today is when the note was written, not a follow-up
        "他存了三年定期，聊了两个小时",  # durations, not dates
        "上月底已经回访过",
    ],
)
def test_note_without_followup(note: str) -> None:
    assert find_followup_date(note, SAT) is None


@pytest.mark.parametrize(
    ("expr", "day"),
    [
        ("3天", date(2026, 12, 1)),
        ("3天后", date(2026, 12, 1)),
        ("2周", date(2026, 12, 12)),
        ("一周", date(2026, 12, 5)),
        ("明天", date(2026, 11, 29)),
        ("下周一", date(2026, 11, 30)),
        ("12月5号", date(2026, 12, 5)),
        (" 3天吧 ", date(2026, 12, 1)),
        ("昨天", None),
        ("随便", None),
    ],
)
def test_parse_snooze_expression(expr: str, day: date | None) -> None:
    assert parse_date_expression(expr, SAT) == day


@pytest.mark.parametrize(
    "junk",
    ["", "   ", "\x00\n\t", "😀" * 1000, "a" * 100_000, "下周二回访。" * 2000, "9999年后"],
)
def test_never_raises(junk: str) -> None:
    found = find_followup_date(junk, SAT)
    assert found is None or found.on >= SAT.date()
    day = parse_date_expression(junk, SAT)
    assert day is None or day >= SAT.date()


_SCRIPT = """
import json
from datetime import datetime
from zoneinfo import ZoneInfo
from handlers.dates import find_followup_date, parse_date_expression
now = datetime(2026, 11, 28, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
out = {e: str(parse_date_expression(e, now)) for e in ["明天", "下周二", "周五", "3天"]}
hit = find_followup_date("刚通话，明天下午3点见面", now)
out["note"] = [str(hit.on), str(hit.at)] if hit else None
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Shanghai"])
def test_results_do_not_depend_on_server_timezone(tz: str) -> None:
    # 07:30 in Shanghai is still 11-27 in UTC and New York: a TZ leak would shift every answer.
    env = {**os.environ, "TZ": tz, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    # A single JSON line also proves jionlp's import banner stays off stdout.
    assert json.loads(proc.stdout) == {
        "明天": "2026-11-29",
        "下周二": "2026-12-01",
        "周五": "2026-12-04",
        "3天": "2026-12-01",
        "note": ["2026-11-29", "15:00:00"],
    }
