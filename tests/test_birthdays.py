"""Next birthdays: solar, lunar (known conversions) and 29 February."""

from __future__ import annotations

from datetime import date

import pytest

from crm_store.birthdays import lunar_to_solar, next_birthday


@pytest.mark.parametrize(
    ("month", "day", "calendar", "today", "expected"),
    [
        (12, 1, "solar", date(2026, 11, 28), date(2026, 12, 1)),
        (11, 28, "solar", date(2026, 11, 28), date(2026, 11, 28)),  # today counts
        (1, 5, "solar", date(2026, 11, 28), date(2027, 1, 5)),
        (2, 29, "solar", date(2026, 11, 28), date(2027, 2, 28)),  # common year
        (2, 29, "solar", date(2027, 3, 1), date(2028, 2, 29)),  # leap year
        (8, 15, "lunar", date(2026, 9, 1), date(2026, 9, 25)),  # 中秋 2026
        (8, 15, "lunar", date(2026, 11, 28), date(2027, 9, 15)),  # 中秋 2027
        (1, 1, "lunar", date(2026, 11, 28), date(2027, 2, 6)),  # 春节 2027
        (12, 30, "lunar", date(2026, 11, 28), date(2027, 2, 5)),  # 除夕 2027 (腊月小, 29th)
    ],
)
def test_next_birthday(month: int, day: int, calendar: str, today: date, expected: date) -> None:
    assert next_birthday(month, day, calendar, False, today) == expected


def test_unknown_birthday() -> None:
    assert next_birthday(None, None, "solar", False, date(2026, 11, 28)) is None


def test_leap_month_birthday_falls_back_to_the_ordinary_month() -> None:
    # 2023 had a leap 2nd month (闰二月); 2024 did not.
    assert lunar_to_solar(2023, 2, 10, leap=True) == date(2023, 3, 31)
    assert lunar_to_solar(2024, 2, 10, leap=True) == lunar_to_solar(2024, 2, 10)
