"""Reminder planning: which birthdays, maturities and follow-ups land on which business date.

Every test that touches the outbox runs on SQLite and PostgreSQL (the `db_url` fixture).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from lunardate import LunarDate
from sqlalchemy import select, update

from crm_store.models import Customer, Digest, FollowUp, PlanRun, Reminder
from crm_store.store import Store
from scheduler.candidates import BirthdayKey, birthday_keys_on
from scheduler.workdays import is_digest_day, is_working_day, previous_digest_day
from tests.scheduler.helpers import (
    add_customer,
    add_followup,
    add_holding,
    count,
    plan_on,
    store_for,
)
from tests.scheduler.helpers import reminders as reminder_rows
from tests.world import build_world

EVERY_DAY = {"REMINDER_ON_NON_WORKING_DAYS": "true"}


def days(first: date, last: date) -> list[date]:
    """Every date from `first` to `last`, inclusive."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def planned(store: Store, entity: str) -> set[tuple[date, int, date]]:
    """(occurs_on, lead, business_date) of one entity's reminders."""
    rows = reminder_rows(store, Reminder.entity_id == entity)
    return {(r.occurs_on, r.lead_days, r.business_date) for r in rows}


def with_leads(occurrences: list[date], leads: tuple[int, ...] = (0, 3)) -> set[tuple]:
    """Expected rows when every notify day was planned on that very day."""
    return {(on, lead, on - timedelta(days=lead)) for on in occurrences for lead in leads}


# --- 29 February -----------------------------------------------------------------------------

LEAP_DAY_BIRTHDAYS = [
    date(2025, 2, 28),
    date(2026, 2, 28),
    date(2027, 2, 28),
    date(2028, 2, 29),
    date(2029, 2, 28),
]


def test_29_february_birthday_falls_on_28_february_in_common_years(
    db_url: str, tmp_path: Path
) -> None:
    with store_for(db_url, tmp_path, **EVERY_DAY) as store:
        build_world(store)
        add_customer(store, "leap", "rm1", (2, 29, "solar"))
        for birthday in LEAP_DAY_BIRTHDAYS:  # both notify days, and 2 days after (1 March)
            for day in (birthday + timedelta(days=n) for n in (-3, 0, 2)):
                plan_on(store, day)
        assert planned(store, "leap") == with_leads(LEAP_DAY_BIRTHDAYS)
        # Never reminded twice in a leap year (on 28 February or 1 March as well).
        assert not reminder_rows(
            store,
            Reminder.entity_id == "leap",
            Reminder.occurs_on.in_(
                [date(2028, 2, 28), date(2028, 3, 1), date(2025, 3, 1), date(2029, 3, 1)]
            ),
        )


# --- Lunar birthdays -------------------------------------------------------------------------


def test_lunar_month_12_of_2026_has_29_days() -> None:
    """The premise of the 腊月三十 cases below, checked against lunardate."""
    assert LunarDate(2026, 12, 29).to_solar_date() == date(2027, 2, 5)
    with pytest.raises(ValueError):
        LunarDate(2026, 12, 30).to_solar_date()
    assert LunarDate(2023, 2, 10, True).to_solar_date() == date(2023, 3, 31)  # 闰二月 2023
    with pytest.raises(ValueError):
        LunarDate(2026, 2, 10, True).to_solar_date()  # 2026 has no leap 2nd month


@pytest.mark.parametrize(
    ("key", "on"),
    [
        (("lunar", 8, 15, False), date(2026, 9, 25)),  # 中秋 2026
        (("lunar", 8, 15, False), date(2027, 9, 15)),  # 中秋 2027
        (("lunar", 1, 1, False), date(2027, 2, 6)),  # 春节 2027
        (("lunar", 12, 30, False), date(2027, 2, 5)),  # 腊月三十 -> 腊月廿九 (lunar 2026)
        (("lunar", 12, 29, False), date(2027, 2, 5)),
        (("lunar", 2, 10, True), date(2023, 3, 31)),  # 闰二月初十 2023
        (("lunar", 2, 10, False), date(2023, 3, 1)),  # 二月初十 2023
        (("lunar", 2, 10, True), date(2026, 3, 28)),  # no leap month: the ordinary one
        (("solar", 2, 29, False), date(2027, 2, 28)),
        (("solar", 2, 29, False), date(2028, 2, 29)),
    ],
)
def test_birthday_keys_on_known_conversions(key: BirthdayKey, on: date) -> None:
    assert birthday_keys_on([on])[key] == {on}


@pytest.mark.parametrize(
    ("key", "on"),
    [
        (("lunar", 8, 15, False), date(2026, 9, 24)),
        (("lunar", 8, 15, False), date(2026, 9, 26)),
        (("lunar", 12, 30, False), date(2027, 2, 6)),  # that is 正月初一
        (("lunar", 2, 10, True), date(2023, 3, 1)),  # the leap month exists in 2023
        (("solar", 2, 29, False), date(2028, 2, 28)),
        (("solar", 2, 29, False), date(2028, 3, 1)),
        (("solar", 2, 28, False), date(2028, 2, 29)),
    ],
)
def test_birthday_keys_on_not_on_neighbouring_days(key: BirthdayKey, on: date) -> None:
    assert key not in birthday_keys_on([on])


def test_birthday_keys_on_a_window_maps_each_day() -> None:
    window = days(date(2027, 2, 4), date(2027, 2, 7))
    found = birthday_keys_on(window)
    assert found[("lunar", 12, 30, False)] == {date(2027, 2, 5)}
    assert found[("lunar", 1, 1, False)] == {date(2027, 2, 6)}
    assert found[("solar", 2, 5, False)] == {date(2027, 2, 5)}
    assert all(on in window for dates in found.values() for on in dates)


LUNAR_OCCURRENCES = {
    "c4": [date(2026, 9, 25), date(2027, 9, 15)],  # 八月十五 (a world customer of rm1)
    "newyear": [date(2027, 2, 6)],  # 正月初一
    "eve": [date(2027, 2, 5)],  # 腊月三十; lunar 2026's 12th month has 29 days
    "leapbaby": [date(2023, 3, 31), date(2026, 3, 28)],  # born in 闰二月 2023
    "plain": [date(2023, 3, 1), date(2026, 3, 28)],  # 二月初十
}
# Every notify day (leads 3 and 0), planned on its own day; each window also covers the days
# just before it, so a birthday on a wrong nearby day (1 March, 正月初一) would show up too.
LUNAR_PLAN_DAYS = sorted(
    {
        on - timedelta(days=lead)
        for dates in LUNAR_OCCURRENCES.values()
        for on in dates
        for lead in (0, 3)
    }
)


def test_lunar_birthdays_in_a_full_plan(db_url: str, tmp_path: Path) -> None:
    with store_for(db_url, tmp_path, **EVERY_DAY) as store:
        build_world(store)  # c4 (rm1) was born on 八月十五
        add_customer(store, "newyear", "rm1", (1, 1, "lunar"))
        add_customer(store, "eve", "rm1", (12, 30, "lunar"))
        add_customer(store, "leapbaby", "rm1", (2, 10, "lunar"), leap=True)
        add_customer(store, "plain", "rm1", (2, 10, "lunar"))
        for day in LUNAR_PLAN_DAYS:
            plan_on(store, day)
        for cid, occurrences in LUNAR_OCCURRENCES.items():
            assert planned(store, cid) == with_leads(occurrences), cid


# --- Idempotence, consecutive days, gaps ------------------------------------------------------


def test_planning_twice_creates_nothing_new(store: Store) -> None:
    build_world(store)
    add_followup(store, "c3", "rm2", date(2026, 11, 30), "回访")
    first = plan_on(store, date(2026, 11, 30))
    assert first.reminders == 2 and first.digests == 2  # c1 birthday in 3 days; the follow-up
    before = (count(store, Reminder), count(store, Digest), count(store, PlanRun))
    second = plan_on(store, date(2026, 11, 30))
    assert (second.birthdays, second.maturities, second.followups, second.digests) == (0, 0, 0, 0)
    assert second.since == first.since
    assert (count(store, Reminder), count(store, Digest), count(store, PlanRun)) == before


def daily_birthdays(store: Store, first: date, last: date) -> list[str]:
    """One customer of rm1 born on each day of the range; their ids."""
    ids = []
    for day in days(first, last):
        cid = f"d{day:%m%d}"
        add_customer(store, cid, "rm1", (day.month, day.day, "solar"))
        ids.append(cid)
    return ids


def expected_rows(
    ids: list[str], windows: list[tuple[date, date]], year: int = 2026
) -> set[tuple[str, date, int, date]]:
    """(customer, occurs_on, lead, business_date) for plans covering (since, until] each."""
    rows = set()
    for cid in ids:
        on = date(year, int(cid[1:3]), int(cid[3:5]))
        for lead in (0, 3):
            notify = on - timedelta(days=lead)
            rows |= {(cid, on, lead, until) for since, until in windows if since < notify <= until}
    return rows


def daily_rows(store: Store) -> set[tuple[str, date, int, date]]:
    rows = reminder_rows(store, Reminder.kind == "birthday", Reminder.entity_id.like("d%"))
    return {(r.entity_id, r.occurs_on, r.lead_days, r.business_date) for r in rows}


def test_plans_on_consecutive_days_each_plan_their_own_day(db_url: str, tmp_path: Path) -> None:
    with store_for(db_url, tmp_path, **EVERY_DAY) as store:
        build_world(store)
        ids = daily_birthdays(store, date(2026, 12, 2), date(2026, 12, 12))
        results = [plan_on(store, day) for day in days(date(2026, 12, 1), date(2026, 12, 10))]
        windows = [
            (day - timedelta(days=1), day) for day in days(date(2026, 12, 1), date(2026, 12, 10))
        ]
        assert [r.since for r in results] == [since for since, _ in windows]
        assert daily_rows(store) == expected_rows(ids, windows)
        assert sum(r.reminders for r in results) == count(store, Reminder)


def test_a_plan_after_a_gap_covers_the_missed_days_once(db_url: str, tmp_path: Path) -> None:
    with store_for(db_url, tmp_path, **EVERY_DAY) as store:
        build_world(store)
        ids = daily_birthdays(store, date(2026, 12, 2), date(2026, 12, 12))
        plan_on(store, date(2026, 12, 1))
        late = plan_on(store, date(2026, 12, 5))  # nothing planned on 12-02 .. 12-04
        assert late.since == date(2026, 12, 1)
        windows = [(date(2026, 11, 30), date(2026, 12, 1)), (date(2026, 12, 1), date(2026, 12, 5))]
        assert daily_rows(store) == expected_rows(ids, windows)
        assert plan_on(store, date(2026, 12, 5)).reminders == 0
        nxt = plan_on(store, date(2026, 12, 6))
        assert nxt.since == date(2026, 12, 5)
        windows.append((date(2026, 12, 5), date(2026, 12, 6)))
        assert daily_rows(store) == expected_rows(ids, windows)


def test_catchup_max_days_caps_the_window(db_url: str, tmp_path: Path) -> None:
    with store_for(db_url, tmp_path, REMINDER_CATCHUP_MAX_DAYS="2", **EVERY_DAY) as store:
        build_world(store)
        ids = daily_birthdays(store, date(2026, 12, 2), date(2026, 12, 12))
        plan_on(store, date(2026, 12, 1))
        late = plan_on(store, date(2026, 12, 6))
        assert late.since == date(2026, 12, 4)  # 12-02 .. 12-04 are beyond the cap
        windows = [(date(2026, 11, 30), date(2026, 12, 1)), (date(2026, 12, 4), date(2026, 12, 6))]
        assert daily_rows(store) == expected_rows(ids, windows)


def test_first_plan_after_a_holiday_covers_it(store: Store) -> None:
    """Default settings: 10-08 follows the National Day holiday; 09-30 was the last digest."""
    build_world(store)
    add_customer(store, "golden", "rm1", (10, 3, "solar"))
    result = plan_on(store, date(2026, 10, 8))
    assert result.since == date(2026, 9, 30)
    # The on-the-day reminder of 10-03 arrives on 10-08; the 3-day one was 09-30's to send.
    assert planned(store, "golden") == {(date(2026, 10, 3), 0, date(2026, 10, 8))}


def test_a_holiday_longer_than_the_catchup_cap_is_no_outage(store: Store) -> None:
    """National Day 2026 (10-01 .. 10-07) follows the 09-30 digest: 10-01 must not be lost."""
    build_world(store)
    add_customer(store, "oct1", "rm1", (10, 1, "solar"))
    add_customer(store, "oct4", "rm1", (10, 4, "solar"))
    plan_on(store, date(2026, 9, 30))
    result = plan_on(store, date(2026, 10, 8))
    assert result.since == date(2026, 9, 30)
    assert planned(store, "oct1") == {(date(2026, 10, 1), 0, date(2026, 10, 8))}
    assert planned(store, "oct4") == {
        (date(2026, 10, 4), 3, date(2026, 10, 8)),
        (date(2026, 10, 4), 0, date(2026, 10, 8)),
    }


def test_spring_festival_holiday_is_covered_by_the_first_working_day(store: Store) -> None:
    """Spring Festival 2026: 02-14 (an adjusted working Saturday), then off until 02-24."""
    build_world(store)
    add_customer(store, "feb15", "rm1", (2, 15, "solar"))
    plan_on(store, date(2026, 2, 14))
    assert plan_on(store, date(2026, 2, 24)).since == date(2026, 2, 14)
    assert planned(store, "feb15") == {(date(2026, 2, 15), 0, date(2026, 2, 24))}


# --- Maturities and follow-ups ----------------------------------------------------------------

MATURING = {  # holding -> (product type, maturity): notices fall on weekdays and weekends
    "m-cd": ("large_cd", date(2026, 12, 31)),
    "m-td": ("time_deposit", date(2026, 12, 28)),  # 30 days before is a Saturday
    "m-wm": ("wealth_management", date(2026, 12, 30)),
    "m-loan": ("loan", date(2026, 12, 29)),  # 30 days before is a Sunday
    "m-fund": ("fund", date(2026, 12, 31)),
    "m-ins": ("insurance", date(2026, 12, 28)),
}
REMINDED = ("m-cd", "m-td", "m-wm", "m-loan")


def digest_day_on_or_after(day: date, every_day: bool) -> date:
    """The digest that carries a notice due on `day` (a weekend notice waits for Monday)."""
    while not is_digest_day(day, on_non_working_days=every_day):
        day += timedelta(days=1)
    return day


@pytest.mark.parametrize("every_day", [True, False], ids=["every-day", "working-days"])
def test_maturity_leads_give_one_row_each_on_the_right_day(
    db_url: str, tmp_path: Path, every_day: bool
) -> None:
    extra = EVERY_DAY if every_day else {}
    with store_for(db_url, tmp_path, **extra) as store:
        build_world(store)
        for hid, (kind, maturity) in MATURING.items():
            add_holding(store, hid, "c5", kind, maturity)
        # The digest days around each notice (a weekend notice waits for Monday); the plans
        # between them would find nothing for these holdings.
        notify = {m - timedelta(days=lead) for _, m in MATURING.values() for lead in (30, 7, 1)}
        near = {d + timedelta(days=n) for d in notify for n in (-1, 0, 1, 2)}
        plan_days = sorted(d for d in near if is_digest_day(d, on_non_working_days=every_day))
        for day in plan_days:
            plan_on(store, day)
        for hid in REMINDED:
            maturity = MATURING[hid][1]
            expected = {
                (maturity, lead, digest_day_on_or_after(maturity - timedelta(lead), every_day))
                for lead in (30, 7, 1)
            }
            assert planned(store, hid) == expected, hid
            assert len(reminder_rows(store, Reminder.entity_id == hid)) == 3
        assert not reminder_rows(store, Reminder.entity_id.in_(["m-fund", "m-ins"]))
        if not every_day:  # weekend notices go out on Monday
            assert (date(2026, 12, 28), 30, date(2026, 11, 30)) in planned(store, "m-td")
            assert (date(2026, 12, 28), 1, date(2026, 12, 28)) in planned(store, "m-td")
            assert (date(2026, 12, 29), 30, date(2026, 11, 30)) in planned(store, "m-loan")


def test_followups_due_on_the_day_are_planned_done_ones_are_not(store: Store) -> None:
    build_world(store)
    due = date(2026, 12, 1)
    open_id = add_followup(store, "c5", "rm1", due, "打电话")
    snoozed_id = add_followup(store, "c3", "rm2", due, "推迟过的", status="snoozed")
    done_id = add_followup(store, "c4", "rm1", due, "已完成", status="done")
    later_id = add_followup(store, "c5", "rm1", due + timedelta(days=1), "明天的")
    result = plan_on(store, due)
    assert result.followups == 2
    rows = reminder_rows(store, Reminder.kind == "followup")
    assert {(r.entity_id, r.recipient_staff_id, r.occurs_on, r.business_date) for r in rows} == {
        (str(open_id), "rm1", due, due),
        (str(snoozed_id), "rm2", due, due),
    }
    assert str(done_id) not in {r.entity_id for r in rows}
    assert str(later_id) not in {r.entity_id for r in rows}


def owners_of_followups(store: Store) -> dict[int, str | None]:
    with store.db.read() as s:
        return dict(s.execute(select(FollowUp.id, FollowUp.owner_staff_id)).tuples().all())


def test_followups_carry_their_customers_owner_whatever_changes_it(store: Store) -> None:
    # The planner reads the owner from the follow-up; triggers keep it equal to the customer's,
    # even for changes made by plain SQL (an import, a DBA's fix), not only by our code.
    build_world(store)
    day = date(2026, 12, 1)
    overdue = add_followup(store, "c5", "rm1", day - timedelta(days=9), "早该打的电话")
    other = add_followup(store, "c6", "rm9", day + timedelta(days=5), "以后的")
    assert owners_of_followups(store) == {overdue: "rm1", other: "rm9"}
    with store.db.write() as s:
        s.execute(update(Customer).where(Customer.id == "c5").values(owner_staff_id="rm3"))
    assert owners_of_followups(store) == {overdue: "rm3", other: "rm9"}
    plan_on(store, day)
    with store.db.read() as s:
        opened = set(s.scalars(select(Digest.recipient_staff_id)))
    assert "rm3" in opened and "rm9" not in opened  # rm3's only item: the overdue follow-up
    with store.db.write() as s:  # a follow-up moved to another customer takes its owner
        s.execute(update(FollowUp).where(FollowUp.id == other).values(customer_id="c8"))
    assert owners_of_followups(store) == {overdue: "rm3", other: "rm2"}


# --- Working days ----------------------------------------------------------------------------


def test_official_calendar_data_used_below() -> None:
    """What chinese_calendar says about the 2026 days used in these tests."""
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 1)) == (True, "National Day")
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 10)) == (False, "National Day")
    assert chinese_calendar.get_holiday_detail(date(2026, 9, 20)) == (False, "National Day")
    assert date(2026, 9, 20).weekday() == 6 and date(2026, 10, 10).weekday() == 5


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 10, 1), False),  # National Day
        (date(2026, 10, 7), False),  # still the holiday, a Wednesday
        (date(2026, 9, 20), True),  # adjusted working Sunday (调休)
        (date(2026, 10, 10), True),  # adjusted working Saturday (调休)
        (date(2026, 11, 28), False),  # a normal Saturday
        (date(2026, 11, 29), False),  # a normal Sunday
        (date(2026, 11, 30), True),  # a normal Monday
    ],
)
def test_is_working_day_2026(day: date, working: bool) -> None:
    assert is_working_day(day) is working
    assert is_digest_day(day, on_non_working_days=False) is working
    assert is_digest_day(day, on_non_working_days=True)


def test_year_without_official_data_falls_back_to_monday_to_friday() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2040, 1, 2))
    week = days(date(2040, 1, 2), date(2040, 1, 8))  # Monday .. Sunday
    assert [is_working_day(d) for d in week] == [True] * 5 + [False] * 2
    assert previous_digest_day(date(2040, 1, 9), on_non_working_days=False) == date(2040, 1, 6)


def test_previous_digest_day_skips_weekends_and_holidays() -> None:
    assert previous_digest_day(date(2026, 11, 30), on_non_working_days=False) == date(2026, 11, 27)
    assert previous_digest_day(date(2026, 10, 8), on_non_working_days=False) == date(2026, 9, 30)
    assert previous_digest_day(date(2026, 10, 11), on_non_working_days=False) == date(2026, 10, 10)
    assert previous_digest_day(date(2026, 11, 30), on_non_working_days=True) == date(2026, 11, 29)
