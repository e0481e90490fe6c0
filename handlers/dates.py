"""Find and resolve follow-up dates in relationship-manager notes, on top of jionlp."""

from __future__ import annotations

import contextlib
import io
import re
import threading
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

# jionlp's extractor is quadratic in runs of time-like characters ("12月5号12月5号…" costs
# seconds per 100 chars) and parse_time slows down on long strings; notes are short, so cap.
_MAX_CHARS = 1000
_MAX_EXPR_CHARS = 50
_NUM = r"[\d零〇一二两三四五六七八九十百半]"
_FOLLOWUP_KW = re.compile(r"回访|跟进|联系|再打|见面|约|复访|拜访|来访|面谈|提醒")
_CLAUSE_BREAK = re.compile(r"[，,。；;！!？?\n]")
# jionlp finds neither a bare "月底" nor "下个月"; we patch the text (see _rewrite).
_BARE_MONTH_END = re.compile(rf"(?<![本下上这个]|{_NUM})月(?=[底末])")
_BARE_NEXT_MONTH = re.compile(rf"下个?月(?![初中底末上下旬号日]|{_NUM})")
# Period ends and deadlines ("月底", "下周二前"): the end of jionlp's range is the day meant.
_TAKE_END = re.compile(r"[月年][底末]|前$")
_BARE_WEEKDAY = re.compile(r"(?:周|星期|礼拜)[一二三四五六日天]")
_MONTH_DAY = re.compile(rf"{_NUM}+月{_NUM}+[日号]")
_DAY_ONLY = re.compile(rf"{_NUM}+[日号]")
_DELTA_AFTER = re.compile(rf"{_NUM}+个?(?:天|日|周|星期|礼拜|月|年)(?=以?后)")
_WHOLE_DAY = (time(0), time(23, 59, 59))
# Words that describe the contact that just happened, not the next one.
_PRESENT = re.compile(
    r"今天|今日|今儿|现在|刚才|刚刚|刚|目前|当前|上午|下午|中午|早上|晚上|今早|今晚"
)


@dataclass(frozen=True)
class FollowUpDate:
    """A follow-up date found in a note."""

    on: date
    at: time | None
    text: str
    span: tuple[int, int]


_JIO_LOCK = threading.Lock()
_jionlp: Any = None


def _jio() -> Any:
    """jionlp, imported and readied once, by one thread.

    Its time extractor builds its tables on first use, unguarded: answers that read their first
    dates at once (two answer threads just after a start) got nothing from it, so a note's
    "下周二回访" was saved without its follow-up. And its import banner is swallowed by
    swapping the process's stdout and stderr, which two threads doing so at once left
    swapped for good. Readied, it gives the same dates from any number of threads."""
    global _jionlp
    if _jionlp is None:
        with _JIO_LOCK:
            if _jionlp is None:
                _jionlp = _ready_jionlp()
    return _jionlp


def _ready_jionlp() -> Any:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        import jionlp

        base = datetime(2026, 1, 1)
        jionlp.ner.extract_time("明天下午三点", time_base=base, with_parsing=True)
        jionlp.parse_time("下周二", time_base=base)
    return jionlp


def _wall_clock(now: datetime) -> datetime:
    """Naive business-time wall clock; an epoch timestamp would be read in the server's TZ."""
    return now.replace(tzinfo=None)


def _add_months(day: date, months: int) -> date:
    """Shift by whole months, clamping to the month's last day (Jan 31 + 1 -> Feb 28/29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def _apply_delta(delta: Any, now: datetime) -> date | None:
    """Date reached after a jionlp time_delta dict such as {'day': 3.0} or {'month': 0.5}."""
    if not isinstance(delta, dict):
        return None
    try:  # blurred deltas may hold lists; huge ones overflow the calendar
        months = 12 * float(delta.get("year", 0)) + float(delta.get("month", 0))
        whole = int(months)
        span = timedelta(
            days=float(delta.get("day", 0)) + 30 * (months - whole),
            hours=float(delta.get("hour", 0)),
            minutes=float(delta.get("minute", 0)),
            seconds=float(delta.get("second", 0)),
        )
        anchor = datetime.combine(_add_months(now.date(), whole), now.time())
        return (anchor + span).date()
    except (TypeError, ValueError, OverflowError):
        return None


def _parse(expr: str, now: datetime) -> dict[str, Any] | None:
    """jionlp.parse_time, or None: it raises ValueError *and* TypeError on odd input."""
    try:
        result = _jio().parse_time(expr, time_base=_wall_clock(now))
    except Exception:
        return None
    return result if isinstance(result, dict) else None


def _stamp(value: Any) -> datetime | None:
    """Parse one end of a jionlp range; open ends come back as the string 'inf'."""
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _roll_forward(expr: str, day: date, today: date) -> date | None:
    """Move yearless/weekless expressions that jionlp put in the past to their next occurrence."""
    if _BARE_WEEKDAY.match(expr) and day <= today:
        # jionlp reads a bare "周五" as this week's Friday; people mean the next one.
        return day + timedelta(days=7)
    if day >= today:
        return day
    if _MONTH_DAY.match(expr) and "年" not in expr:
        rolled = _add_months(day, 12)
    elif _DAY_ONLY.match(expr):
        rolled = _add_months(day, 1)
    else:
        return day
    # A clamped result (e.g. "31号" -> Feb 28) is not the day that was asked for.
    return rolled if rolled.day == day.day else None


def _from_range(
    expr: str, start: datetime | None, end: datetime | None, today: date
) -> date | None:
    """Pick one day from a jionlp range (either end may be open)."""
    if end is not None and (start is None or _TAKE_END.search(expr)):
        return end.date()
    if start is None:
        return None
    if start.date() >= today:
        return start.date()
    # A period that already started ("本周"): the earliest useful reminder is tomorrow,
    # but not beyond the period itself.
    latest = end.date() if end is not None else today + timedelta(days=1)
    return min(today + timedelta(days=1), latest)


def _resolve(expr: str, detail: dict[str, Any], now: datetime) -> tuple[date, time | None] | None:
    """Turn one jionlp parse into (day, time-of-day), or None if unusable or in the past."""
    today, kind, value = now.date(), detail.get("type"), detail.get("time")
    if kind == "time_delta":
        day = _apply_delta(value, now)
        return (day, None) if day is not None and day >= today else None
    stem = _DELTA_AFTER.search(expr)
    if stem and (kind == "time_span" or detail.get("definition") == "blur"):
        # "两周后" comes back as a whole blurred week; use the exact delta instead.
        delta = _parse(stem.group(), now)
        if delta and delta.get("type") == "time_delta":
            return _resolve(stem.group(), delta, now)
    if kind not in ("time_point", "time_span") or not isinstance(value, list) or len(value) != 2:
        return None
    start, end = _stamp(value[0]), _stamp(value[1])
    day = _from_range(expr, start, end, today)
    day = _roll_forward(expr, day, today) if day is not None else None
    at = None
    # Whole days come back as 00:00:00-23:59:59; a shorter same-day range carries a time of day.
    if start and end and start.date() == end.date() and (start.time(), end.time()) != _WHOLE_DAY:
        at = start.time()
    return (day, at) if day is not None and day >= today else None


def _rewrite(text: str) -> tuple[str, list[int]]:
    """Patch phrasings jionlp misses; return the new text and the indexes of inserted chars."""
    inserts = [(m.start(), "本") for m in _BARE_MONTH_END.finditer(text)]
    inserts = sorted(inserts + [(m.end(), "初") for m in _BARE_NEXT_MONTH.finditer(text)])
    for shift, (pos, char) in enumerate(inserts):
        text = text[: pos + shift] + char + text[pos + shift :]
    return text, [pos + shift for shift, (pos, _) in enumerate(inserts)]


def _candidates(text: str, now: datetime, bare_deltas: bool) -> list[FollowUpDate]:
    """Every time expression in `text` that resolves to today or later."""
    patched, added = _rewrite(text[:_MAX_CHARS])
    found: list[FollowUpDate] = []
    for item in _jio().ner.extract_time(patched, time_base=_wall_clock(now), with_parsing=True):
        start, end = (o - sum(p < o for p in added) for o in item["offset"])
        expr, detail = text[start:end], item["detail"]
        # Outside snoozing, a bare duration ("三年定期", "聊了两个小时") is not a date.
        relative = text[start - 1 : start] == "过" or text[end : end + 1] == "后"
        if detail.get("type") == "time_delta" and not (bare_deltas or relative):
            continue
        resolved = _resolve(expr, detail, now)
        if resolved is not None:
            found.append(FollowUpDate(resolved[0], resolved[1], expr, (start, end)))
    return found


def _keyword_gap(text: str, end: int) -> int | None:
    """Distance to the next follow-up keyword in the same clause, if any."""
    match = _FOLLOWUP_KW.search(text, end)
    if match is None or _CLAUSE_BREAK.search(text, end, match.start()):
        return None
    return match.start() - end


def _pick(text: str, found: list[FollowUpDate]) -> FollowUpDate | None:
    """Prefer the date right before a follow-up keyword, else the last non-'today' one."""
    tied = [(gap, f) for f in found if (gap := _keyword_gap(text, f.span[1])) is not None]
    if tied:
        return min(tied, key=lambda pair: (pair[0], -pair[1].span[0]))[1]
    plain = [f for f in found if not _PRESENT.fullmatch(f.text)]
    return plain[-1] if plain else None


def find_followup_date(text: str, now: datetime) -> FollowUpDate | None:
    """Find the follow-up date expression in a note and resolve it relative to `now`."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return _pick(text, _candidates(text, now, bare_deltas=False))
    except Exception:  # a malformed note must never take the bot down
        return None


_EN_DAYS = (
    (re.compile(r"(?i)^(?:in\s+)?(\d{1,3})\s*days?$"), r"\1天"),
    (re.compile(r"(?i)^(?:in\s+)?(\d{1,2})\s*weeks?$"), r"\1周后"),
    (re.compile(r"(?i)^tomorrow$"), "明天"),
    (re.compile(r"(?i)^day after tomorrow$"), "后天"),
    (re.compile(r"(?i)^next week$"), "下周一"),
    (re.compile(r"(?i)^next month$"), "下个月初"),
)
_EN_WEEKDAYS = dict(
    zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "一二三四五六日", strict=True)
)


def _from_english(expr: str) -> str:
    """'tomorrow', '3 days', 'next friday' in the words jionlp reads."""
    for pattern, chinese in _EN_DAYS:
        if pattern.match(expr):
            return pattern.sub(chinese, expr)
    m = re.match(r"(?i)^(next\s+)?(mon|tue|wed|thu|fri|sat|sun)[a-z]*$", expr)
    if m:
        return ("下周" if m.group(1) else "周") + _EN_WEEKDAYS[m.group(2).lower()]
    return expr


def parse_date_expression(expr: str, now: datetime) -> date | None:
    """Resolve a short standalone expression ('3天', '下周二', '12月5号'); used by snooze."""
    if not isinstance(expr, str) or not expr.strip():
        return None
    cleaned = _from_english(expr.strip())
    try:
        detail = _parse(_rewrite(cleaned)[0], now) if len(cleaned) <= _MAX_EXPR_CHARS else None
        resolved = _resolve(cleaned, detail, now) if detail else None
        if resolved is not None:
            return resolved[0]
        # parse_time wants the bare expression; for "3天吧" let the extractor find it.
        picked = _pick(cleaned, _candidates(cleaned, now, bare_deltas=True))
        return picked.on if picked else None
    except Exception:
        return None
