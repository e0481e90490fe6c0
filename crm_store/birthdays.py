"""Next birthday of a customer, solar or lunar, as a solar date in the business calendar."""

from __future__ import annotations

import calendar
from datetime import date

from lunardate import LunarDate


def _solar_in_year(month: int, day: int, year: int) -> date:
    # 29 February falls on 28 February in common years.
    if month == 2 and day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def lunar_to_solar(lunar_year: int, month: int, day: int, leap: bool = False) -> date | None:
    """The solar date of a lunar month-day in `lunar_year`; a missing day 30 or leap month
    falls back to the last day / the ordinary month, as families usually celebrate it."""
    for is_leap in (True, False) if leap else (False,):
        for d in (day, day - 1) if day == 30 else (day,):
            try:
                return LunarDate(lunar_year, month, d, is_leap).to_solar_date()
            except ValueError:
                continue
    return None


def birthday_in_year(
    month: int, day: int, calendar_kind: str, leap: bool, year: int
) -> date | None:
    """The solar date of the birthday celebrated in lunar or solar year `year`."""
    if calendar_kind == "lunar":
        return lunar_to_solar(year, month, day, leap)
    return _solar_in_year(month, day, year)


def next_birthday(
    month: int | None, day: int | None, calendar_kind: str, leap: bool, today: date
) -> date | None:
    """The first birthday on or after `today`, or None when no birthday is known."""
    if month is None or day is None:
        return None
    # A lunar year straddles two solar years, so look at the neighbours too.
    years = (today.year - 1, today.year, today.year + 1)
    dates = [birthday_in_year(month, day, calendar_kind, leap, y) for y in years]
    upcoming = sorted(d for d in dates if d is not None and d >= today)
    return upcoming[0] if upcoming else None
