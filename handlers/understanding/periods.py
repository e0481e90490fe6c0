"""Periods ("本月", "下个礼拜", "30天内") and amounts ("500万以上") in a message.

Dates use jionlp's time parser, as notes do; the few month-level phrasings it does not read
("本月", "下个月", "月底") and "N天内" ranges (which it reads as far too short) are read here.
Amounts use jionlp's money parser on the span found by a small pattern.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from handlers.dates import _jio, _wall_clock
from handlers.intents import NO_CONTACT

_NUM = r"[\d零〇一二两三四五六七八九十百]+"


@dataclass(frozen=True)
class Period:
    """A range of business days, as typed."""

    start: date
    end: date
    words: str

    def as_filter(self) -> dict[str, str]:
        """For the `filter` of a list event."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "words": self.words}


@dataclass(frozen=True)
class Threshold:
    """An amount bound ("500万以上": at least 5,000,000)."""

    amount: Decimal
    at_least: bool
    words: str


def _month(day: date, shift: int) -> tuple[date, date]:
    index = day.year * 12 + day.month - 1 + shift
    year, month = divmod(index, 12)
    return date(year, month + 1, 1), date(year, month + 1, monthrange(year, month + 1)[1])


_CN = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_CN |= {"八": 8, "九": 9}


def number(token: str) -> int | None:
    """12, 十二, 两, 三十 -> int (small counts only: days, weeks, months)."""
    if token.isdigit():
        return int(token)
    total, digit = 0, None
    for ch in token:
        if ch in _CN:
            digit = _CN[ch]
        elif ch == "十":
            total += (digit if digit is not None else 1) * 10
            digit = None
        elif ch == "百":
            total += (digit if digit is not None else 1) * 100
            digit = None
        else:
            return None
    return total + (digit or 0)


_WITHIN = re.compile(
    rf"(?:未来|最近|近|接下来)?({_NUM})\s*(天|日|周|星期|礼拜|个月|月)(?:之内|以内|内)"
    rf"|(?:未来|接下来|近)({_NUM})\s*(天|日|周|星期|礼拜|个月)"
    r"|(?:next|within)\s*(\d+)\s*(days?|weeks?|months?)"
)
_MONTH_WORDS: tuple[tuple[re.Pattern[str], int, bool], ...] = (
    # (pattern, month shift, from today on)
    (re.compile(r"下下个?月"), 2, False),
    (re.compile(r"下个?月|next month"), 1, False),
    (re.compile(r"上个?月|last month"), -1, False),
    (re.compile(r"[本这当]个?月底|月底|月末|end of (?:the )?month"), 0, True),
    (re.compile(r"[本这当]个?月|this month"), 0, False),
)
_EN_WEEK = ((re.compile(r"next week"), 7), (re.compile(r"this week"), 0))
_UNIT_DAYS = {"天": 1, "日": 1, "周": 7, "星期": 7, "礼拜": 7, "day": 1, "week": 7}


def _within(text: str, today: date) -> Period | None:
    m = _WITHIN.search(text)
    if m is None:
        return None
    count_text, unit = next((g, m.group(i + 2)) for i, g in enumerate(m.groups()) if g)
    count = number(count_text)
    if count is None or count > 3660:
        return None
    unit = unit.rstrip("s")
    if unit in ("个月", "月", "month"):
        end = _add_months(today, count)
    else:
        end = today + timedelta(days=count * _UNIT_DAYS.get(unit, 1))
    return Period(today, end, m.group(0))


@dataclass(frozen=True)
class Silence:
    """How long without a note ("一个月没联系": since a month ago); `days` 0 for "很久没联系",
    which is past each segment's contact cadence (RETENTION_CADENCE)."""

    days: int
    words: str

    @property
    def past_cadence(self) -> bool:
        return self.days == 0


_SILENT = re.compile(
    rf"(?P<n>{_NUM}|半)\s*(?P<unit>天|日|周|星期|礼拜|个月|月|年)(?:以上|多|了)?\s*"
    rf"(?:都|还|一直)?{NO_CONTACT}"
)
_SILENT_EN = re.compile(
    r"(?i)(?:not|n't|no|without)\s+(?:been\s+)?(?:contact(?:ed)?|call(?:ed)?|notes?|spoken to|"
    r"talked to|followed up)\s+(?:\w+\s+)?(?:in|for|within)\s+(?:the\s+last\s+)?"
    r"(?P<n>a|an|one|\d+)\s+(?P<unit>day|week|month|year)s?"
)
_SILENT_UNIT_DAYS = _UNIT_DAYS | {"个月": 30, "月": 30, "年": 365, "month": 30, "year": 365}
# "很久没联系的客户", "好久没跟进了", "没联系很久的", "not contacted for a long time".
_SILENT_LONG = re.compile(
    rf"(?:很久|好久|许久|太久|长时间|很长时间|一直)(?:都|了|也)?{NO_CONTACT}"
    rf"|{NO_CONTACT}(?:\S{{0,2}})?(?:很久|好久|太久|很长时间)"
    r"|(?i:(?:not|n't|no)\s+(?:been\s+)?(?:contact(?:ed)?|call(?:ed)?|spoken to|talked to)"
    r"\s+(?:\w+\s+)?(?:in|for)\s+(?:a\s+)?(?:long|ages|a while))"
)


def find_silence(text: str) -> Silence | None:
    """ "最近一个月没联系的VIP", "半个月没跟进", "90天未沟通", "not contacted in a month":
    the days without a note."""
    m = _SILENT.search(text) or _SILENT_EN.search(text)
    if m is None:
        long = _SILENT_LONG.search(text)
        return Silence(0, long.group(0)) if long else None
    unit_days = _SILENT_UNIT_DAYS[m.group("unit").lower()]
    n = m.group("n").lower()
    count = {"半": 0.5, "a": 1, "an": 1, "one": 1}.get(n) or number(n)
    if not count or count * unit_days > 3660:
        return None
    return Silence(int(count * unit_days), m.group(0))


def _add_months(day: date, months: int) -> date:
    start, last = _month(day, months)
    return start.replace(day=min(day.day, last.day))


def _month_period(text: str, today: date) -> Period | None:
    for pattern, shift, from_today in _MONTH_WORDS:
        m = pattern.search(text.lower())
        if m:
            start, end = _month(today, shift)
            return Period(today if from_today else start, end, m.group(0))
    for pattern, offset in _EN_WEEK:
        m = pattern.search(text.lower())
        if m:
            monday = today - timedelta(days=today.weekday()) + timedelta(days=offset)
            return Period(monday, monday + timedelta(days=6), m.group(0))
    return None


# jionlp 1.5.31's TIME_CHAR_STRING (jionlp/rule/rule_pattern.py): its time extractor parses
# only maximal runs of these characters. Copied because importing jionlp costs a process
# 0.3-0.5 s (numpy among others); tests/test_understanding_lazy.py keeps it equal.
TIME_CHARS = re.compile(
    r"(现在|开始|黎明|过去|未来|愚人|感恩|圣诞|情人|儿童|劳动|父亲|母亲|礼拜|霜降|立春|立冬|小寒|大寒|"
    r"立夏|立秋|冬至|"
    r"[102年月日3589647时午至天上个分今下\:\-点晚前一小后周起内以底三晨钟来半两凌当十份季Qq"
    r"去早多第五中初廿\.度二从六期旬到间四节号："
    r"代\~\—～春明昨星末秋之同·世纪本七九秒每次八夏/夜零正冬腊余工作元国清傍交易首 ()（）、"
    r"万宵全暑头端庆旦－际消费者权益大里农阴历双财"
    r"近运深, ”夕〇几汛假壹无数白百刻许左右的这本])+"
)
# Runs jionlp finds no time in, whatever the base ("查一下张伟"): checked against jionlp.
_NO_TIME_RUNS = frozenset({"一下"})


def may_hold_time(text: str) -> bool:
    """False when jionlp's time extractor certainly finds nothing in `text`: every run of its
    time characters, without the spaces and 的 it never starts or ends a time with, is a
    single character or a known empty run. Lets a look-up skip importing jionlp."""
    for run in TIME_CHARS.finditer(text):
        core = run.group().strip(" 的")
        if len(core) > 1 and core not in _NO_TIME_RUNS:
            return True
    return False


def _jionlp_period(text: str, now: datetime) -> Period | None:
    if not may_hold_time(text):
        return None
    try:
        found = _jio().ner.extract_time(text, time_base=_wall_clock(now), with_parsing=True)
    except Exception:
        return None
    for item in found:
        detail = item.get("detail", {})
        value = detail.get("time")
        if detail.get("type") not in ("time_point", "time_span") or not isinstance(value, list):
            continue
        try:
            start = datetime.fromisoformat(str(value[0])).date()
            end = datetime.fromisoformat(str(value[1])).date()
        except ValueError:
            continue
        if (end - start).days > 400:
            continue
        return Period(start, end, item["text"])
    return None


_MONTH_OF_YEAR = re.compile(
    r"(?<![\d年])(1[0-2]|[1-9]|十[一二]?|[一二三四五六七八九])月份?(?![\d零一二两三四五六七八九十]|[号日初中底末])"
)


def _named_month(text: str, today: date) -> Period | None:
    """ "1月份到期" -> that month, this year or, once past, next year."""
    m = _MONTH_OF_YEAR.search(text)
    month = number(m.group(1)) if m else None
    if m is None or month is None or not 1 <= month <= 12:
        return None
    year = today.year + (1 if month < today.month else 0)
    return Period(date(year, month, 1), date(year, month, monthrange(year, month)[1]), m.group(0))


def find_period(text: str, now: datetime) -> Period | None:
    """The period a message asks about, or None."""
    today = now.date()
    return (
        _within(text, today)
        or _month_period(text, today)
        or _jionlp_period(text, now)
        or _named_month(text, today)
    )


_MONEY = re.compile(
    r"(?:超过|大于|高于|不低于|至少|多于|不到|低于|少于|小于|不超过)?"
    rf"\s*(?:\d+(?:\.\d+)?|{_NUM})\s*(?:千万|百万|万|亿|w|k|千)\s*(?:元|块)?"
    r"\s*(?:以上|以下|起|以内)?",
    re.IGNORECASE,
)
_EN_MONEY = re.compile(
    r"(above|over|more than|at least|below|under|less than)\s*([\d.,]+)\s*(k|m|million)?", re.I
)


def find_threshold(text: str) -> Threshold | None:
    """An amount bound in the message ("AUM五百万以上的"), or None."""
    from handlers.understanding.lexicon import AMOUNT_OP_DOWN

    m = _MONEY.search(text)
    if m and m.group(0).strip():
        words = m.group(0).strip()
        amount = _money(words)
        if amount is not None:
            return Threshold(amount, AMOUNT_OP_DOWN.search(words) is None, words)
    en = _EN_MONEY.search(text)
    if en:
        scale = {"k": 1_000, "m": 1_000_000, "million": 1_000_000}.get(
            (en.group(3) or "").lower(), 1
        )
        try:
            value = Decimal(en.group(2).replace(",", "")) * scale
        except ArithmeticError:
            return None
        return Threshold(
            value, en.group(1).lower() not in ("below", "under", "less than"), en.group(0)
        )
    return None


_BOUND_WORDS = re.compile(
    r"^(?:超过|大于|高于|不低于|至少|多于|不到|低于|少于|小于|不超过)|(?:以上|以下|起|以内)$"
)


def _money(words: str) -> Decimal | None:
    core = re.sub(
        r"^(?:超过|大于|高于|不低于|至少|多于|不到|低于|少于|小于|不超过)|(?:以上|以下|起|以内)$",
        "",
        words,
    )
    try:
        parsed = _jio().parse_money(core.strip())
        return Decimal(str(parsed["num"]))
    except Exception:
        return None
