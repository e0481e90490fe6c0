"""China's official working-day calendar (with adjusted working days), for digest days."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import cache

import chinese_calendar

log = logging.getLogger(__name__)


@cache
def _warn_once(year: int) -> None:
    log.warning("no official working-day data for %s: treating Monday-Friday as working", year)


def is_working_day(day: date) -> bool:
    """Whether `day` is a working day, adjusted working days (调休) included."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # the library covers published years only
        _warn_once(day.year)
        return day.weekday() < 5


def is_digest_day(day: date, *, on_non_working_days: bool) -> bool:
    """Whether a morning digest goes out on `day`."""
    return on_non_working_days or is_working_day(day)


def previous_digest_day(day: date, *, on_non_working_days: bool, limit: int = 60) -> date:
    """The last digest day before `day` (what a normal schedule would have planned last)."""
    candidate = day - timedelta(days=1)
    for _ in range(limit):
        if is_digest_day(candidate, on_non_working_days=on_non_working_days):
            return candidate
        candidate -= timedelta(days=1)
    return day - timedelta(days=1)
