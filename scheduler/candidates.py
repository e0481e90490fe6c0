"""Which stored birthdays fall on which solar dates: computed here, matched in SQL.

Every (calendar, month, day, leap) a customer can have is mapped through the same function
the customer card uses, so 29 February, lunar day 30 and leap months agree everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache

from crm_store.birthdays import birthday_in_year

BirthdayKey = tuple[str, int, int, bool]  # calendar, month, day, leap month

_SOLAR_KEYS = [("solar", m, d, False) for m in range(1, 13) for d in range(1, 32)]
_LUNAR_KEYS = [
    ("lunar", m, d, leap) for m in range(1, 13) for d in range(1, 31) for leap in (False, True)
]


@cache
def _dates_in(key: BirthdayKey, year: int) -> date | None:
    calendar, month, day, leap = key
    try:
        return birthday_in_year(month, day, calendar, leap, year)
    except ValueError:  # 31 April and the like: no such solar date
        return None


def birthday_keys_on(days: Iterable[date]) -> dict[BirthdayKey, set[date]]:
    """For a set of solar dates, the birthday keys celebrated on each of them."""
    wanted = set(days)
    years = {d.year for d in wanted} | {d.year - 1 for d in wanted}  # a lunar year straddles two
    found: dict[BirthdayKey, set[date]] = {}
    for key in (*_SOLAR_KEYS, *_LUNAR_KEYS):
        for year in years:
            on = _dates_in(key, year)
            if on in wanted:
                found.setdefault(key, set()).add(on)
    return found
