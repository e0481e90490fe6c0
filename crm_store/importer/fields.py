"""Per-column parsers: a non-empty cell in, a typed value out, or ValueError with a short reason.

Empty cells never reach a parser; the column spec decides whether empty is allowed.
Reasons never repeat a phone or ID number (the lines end up in terminals and logs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_store.importer.readers import Cell

Parser = Callable[[Cell], Any]

CENT = Decimal("0.01")
MAX_MONEY = Decimal("1e16")  # Numeric(18, 2)
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_MONTH_DAY = re.compile(r"(?:--)?(\d{1,2})-(\d{1,2})")
_MONEY = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_PHONE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")
_PHONE_SEPARATORS = re.compile(r"[\s-]")
_SPACE = re.compile(r"\s")
_ID_NUMBER = re.compile(r"\d{17}[\dX]")
_CURRENCY = re.compile(r"[A-Z]{3}")
_WECOM_USERID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_TELEGRAM_ID = re.compile(r"\d{1,20}")
_TRUE = frozenset({"true", "1", "yes", "是"})
_FALSE = frozenset({"false", "0", "no", "否"})


def shown(value: Cell, limit: int = 30) -> str:
    """A cell quoted for an error line, cut short when long."""
    text = str(value)
    return f'"{text}"' if len(text) <= limit else f'"{text[:limit]}…"'


def _not_text() -> ValueError:
    return ValueError("expected text, got a date cell")


def _text_of(value: Cell) -> str:
    if not isinstance(value, str):
        raise _not_text()
    return value


def text(max_length: int) -> Parser:
    """Free text up to `max_length` characters."""

    def parse(value: Cell) -> str:
        if not isinstance(value, str):
            raise _not_text()
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        return value

    return parse


def identifier(max_length: int) -> Parser:
    """An id: one token without spaces, up to `max_length` characters."""

    def parse(value: Cell) -> str:
        if not isinstance(value, str):
            raise _not_text()
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        if _SPACE.search(value):
            raise ValueError(f"{shown(value)} contains spaces")
        return value

    return parse


def choice(options: Iterable[str]) -> Parser:
    """One of a fixed set of values, matched case-insensitively, stored in canonical form."""
    canonical = {option.lower(): option for option in options}
    listed = ", ".join(canonical.values())

    def parse(value: Cell) -> str:
        found = canonical.get(_text_of(value).lower())
        if found is None:
            raise ValueError(f"{shown(value)} is not one of {listed}")
        return found

    return parse


def boolean(value: Cell) -> bool:
    """true/false, 1/0, yes/no, 是/否."""
    lowered = _text_of(value).lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{shown(value)} is not true/false/1/0/yes/no/是/否")


def money(value: Cell) -> Decimal:
    """A decimal amount >= 0 with at most 2 decimal places; `1,000,000.00` is accepted."""
    text_value = _text_of(value)
    if text_value.startswith("-") and _MONEY.fullmatch(text_value[1:]):
        raise ValueError("must be >= 0")
    if not _MONEY.fullmatch(text_value):
        raise ValueError(f"{shown(value)} is not an amount")
    try:
        amount = Decimal(text_value.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the pattern already rules this out
        raise ValueError(f"{shown(value)} is not an amount") from exc
    cents = amount.quantize(CENT)
    if cents != amount:
        raise ValueError("more than 2 decimal places")
    if cents >= MAX_MONEY:
        raise ValueError("too large")
    return cents


def currency(value: Cell) -> str:
    """A three-letter currency code such as CNY or USD."""
    code = _text_of(value).upper()
    if not _CURRENCY.fullmatch(code):
        raise ValueError(f"{shown(value)} is not a 3-letter currency code")
    return code


def day(value: Cell) -> date:
    """A calendar date written YYYY-MM-DD (or a spreadsheet date cell)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    match = _DATE.fullmatch(value)
    if match is None:
        raise ValueError(f"{shown(value)} is not a date (YYYY-MM-DD)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise ValueError(f"{shown(value)} is not a real date") from exc


def date_parts(value: Cell) -> tuple[int | None, int, int]:
    """Year, month, day as written (`MM-DD` or `--MM-DD`: no year, as an export writes a
    birthday); whether they form a real date depends on the calendar."""
    if isinstance(value, date):
        return value.year, value.month, value.day
    match = _DATE.fullmatch(value)
    if match is not None:
        return int(match[1]), int(match[2]), int(match[3])
    month_day = _MONTH_DAY.fullmatch(value)
    if month_day is None:
        raise ValueError(f"{shown(value)} is not a date (YYYY-MM-DD or MM-DD)")
    return None, int(month_day[1]), int(month_day[2])


def timestamp(zone: tzinfo) -> Parser:
    """ISO 8601 date-time; a value without offset is in `zone`. Returned in UTC."""

    def parse(value: Cell) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError as exc:
                raise ValueError(f"{shown(value)} is not an ISO 8601 date-time") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)

    return parse


def _not_masked(value: Cell) -> None:
    """A masked number (from an export without --reveal) must never replace a stored one."""
    if isinstance(value, str) and "*" in value:
        raise ValueError("a masked number; export with --reveal to import numbers again")


def phone(value: Cell) -> str:
    """A mainland mobile number, optionally +86; returned as its 11 digits."""
    _not_masked(value)
    match = _PHONE.fullmatch(_PHONE_SEPARATORS.sub("", _text_of(value)))
    if match is None:
        raise ValueError("not a mainland mobile number (11 digits starting 13-19)")
    return match[1]


def id_number(value: Cell) -> str:
    """An 18-character resident ID number (17 digits and a digit or X)."""
    _not_masked(value)
    normalised = _text_of(value).upper()
    if not _ID_NUMBER.fullmatch(normalised):
        raise ValueError("not an 18-character ID number (17 digits and a digit or X)")
    return normalised


def tags(value: Cell) -> str:
    """Tags separated by `;` (full-width `；` too), trimmed, empty ones dropped."""
    parts = _text_of(value).replace("；", ";").split(";")
    return ";".join(filter(None, map(str.strip, parts)))


def wecom_userid(value: Cell) -> str:
    """A WeCom UserID: 1-64 letters, digits, `_`, `-`, `.` or `@`."""
    if not _WECOM_USERID.fullmatch(_text_of(value)):
        raise ValueError(f"{shown(value)} is not a WeCom UserID")
    return str(value)


def telegram_user_id(value: Cell) -> str:
    """A Telegram numeric user id."""
    if not _TELEGRAM_ID.fullmatch(_text_of(value)):
        raise ValueError(f"{shown(value)} is not a Telegram user id (digits)")
    return str(value)
