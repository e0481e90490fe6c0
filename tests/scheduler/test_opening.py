"""Opening digests after planning: a crash between the two loses no morning, an older plan
left unopened rides along in the latest digest, and planning again opens what a reminder
added since needs. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

from sqlalchemy import select

from bot.wiring import build_formatter
from crm_store.models import Digest, PlanRun
from crm_store.store import Store
from scheduler.delivery import MemberRateLimit, Sender
from scheduler.planning import plan
from tests.scheduler.helpers import (
    Clock,
    RecordingChannel,
    StaticRouter,
    add_followup,
    at,
    count,
    plan_on,
    reminders,
)
from tests.world import build_world

MONDAY = date(2026, 11, 30)
TUESDAY = date(2026, 12, 1)


def plan_only(store: Store, day: date) -> None:
    """Plan `day` and stop, as a bankbot killed before opening the digests would."""
    with store.db.write() as s:
        plan(s, business_date=day, settings=store.settings, now=at(day, 8, 30))


def send_now(store: Store, day: date) -> RecordingChannel:
    """One sender run at 08:31 on `day`; what it delivered."""
    channel = RecordingChannel()
    clock = Clock(at(day, 8, 31))
    formatter = build_formatter(store)
    sender = Sender(store, StaticRouter(channel), formatter, clock, "t", MemberRateLimit())
    asyncio.run(sender.run())
    return channel


def digest_days(store: Store) -> list[tuple[str, date, str]]:
    with store.db.read() as s:
        rows = s.execute(select(Digest.recipient_staff_id, Digest.business_date, Digest.status))
        return sorted(rows.tuples().all())


def test_a_crash_between_planning_and_opening_still_sends_that_morning(store: Store) -> None:
    build_world(store)
    add_followup(store, "c3", "rm2", MONDAY, "回访")
    plan_only(store, MONDAY)
    assert count(store, Digest) == 0
    assert count(store, PlanRun, PlanRun.digests_opened_at.is_(None)) == 1

    channel = send_now(store, MONDAY)

    assert sorted(channel.recipients()) == ["rm1", "rm2"]  # c1's birthday; rm2's follow-up
    assert {r.status for r in reminders(store)} == {"sent"}
    assert count(store, PlanRun, PlanRun.digests_opened_at.is_(None)) == 0
    assert send_now(store, MONDAY).sent == []  # the next sender run finds nothing to open


def test_an_older_unopened_plan_rides_along_in_the_latest_digest(store: Store) -> None:
    build_world(store)
    add_followup(store, "c3", "rm2", MONDAY, "周一回访")
    add_followup(store, "c8", "rm2", TUESDAY, "周二回访")
    plan_only(store, MONDAY)  # never opened: down until Tuesday's plan
    plan_only(store, TUESDAY)

    channel = send_now(store, TUESDAY)

    assert Counter(channel.recipients()) == Counter({"rm1": 1, "rm2": 1})  # one digest each
    assert digest_days(store) == [("rm1", TUESDAY, "sent"), ("rm2", TUESDAY, "sent")]
    assert {r.status for r in reminders(store)} == {"sent"}


def test_planning_again_opens_a_digest_for_a_reminder_added_since(store: Store) -> None:
    build_world(store)
    add_followup(store, "c3", "rm2", MONDAY, "回访")
    assert plan_on(store, MONDAY).digests == 2
    assert sorted(send_now(store, MONDAY).recipients()) == ["rm1", "rm2"]
    add_followup(store, "c2", "rm3", MONDAY, "午后补记的回访")  # rm3 had nothing this morning

    again = plan_on(store, MONDAY)

    assert (again.followups, again.digests) == (1, 1)
    assert send_now(store, MONDAY).recipients() == ["rm3"]
    assert [d for d in digest_days(store) if d[0] == "rm3"] == [("rm3", MONDAY, "sent")]
