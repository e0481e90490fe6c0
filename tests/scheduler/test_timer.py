"""The morning timer: business time zone, catch-up after downtime, and sending to the right
person when things changed between planning and sending."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.wiring import build_formatter
from crm_store.models import Customer, Digest, PlanRun, Reminder, Staff
from crm_store.store import Store
from handlers.texts import t
from scheduler.service import plan_day, send_due
from scheduler.timer import ReminderTimer
from tests.conftest import TEST_KEY
from tests.scheduler.helpers import (
    SHANGHAI,
    Clock,
    RecordingChannel,
    StaticRouter,
    add_customer,
    add_followup,
    at,
    count,
    make_timer,
    reminders,
    store_for,
)
from tests.world import build_world

ROOT = Path(__file__).resolve().parents[2]
MONDAY = date(2026, 11, 30)  # a working day
LATE_NOTICE = t("digest_late", "zh")

TIMER_SCRIPT = """
import json, time
from datetime import datetime
from zoneinfo import ZoneInfo
from crm_store.settings import Settings
from crm_store.store import init_store
from scheduler.timer import ReminderTimer

class NoRoute:
    def route(self, staff_id):
        return None

store, _ = init_store(Settings(_env_file=None))
fixed = datetime(2026, 11, 30, 7, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # before 08:30
timer = ReminderTimer(store, NoRoute(), lambda content, channel: "", clock=lambda: fixed)
started = datetime.now(ZoneInfo("Asia/Shanghai"))
timer.start()
try:
    job = timer.scheduler.get_job("morning-digest")
    out = {
        "next": timer.next_digest_at().isoformat(),
        "started": started.isoformat(),
        "misfire_grace_time": job.misfire_grace_time,
        "coalesce": job.coalesce,
        "local_offset": time.strftime("%z"),
    }
finally:
    timer.stop()
    store.close()
print(json.dumps(out))
"""


@pytest.mark.parametrize("server_tz", ["UTC", "America/New_York"])
def test_timer_fires_at_0830_shanghai_whatever_the_server_zone(
    tmp_path: Path, server_tz: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMINDER_", "BUSINESS_"))}
    env |= {
        "TZ": server_tz,
        "PYTHONPATH": str(ROOT),
        "BANKBOT_HOME": str(tmp_path / "home"),
        "DATABASE_URL": "",
        "BANKBOT_DATA_KEY": TEST_KEY,
    }
    done = subprocess.run(
        [sys.executable, "-c", TIMER_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["local_offset"] != "+0800"  # the server zone really was something else
    started = datetime.fromisoformat(out["started"])
    expected = datetime.combine(started.date(), time(8, 30), SHANGHAI)
    if expected <= started:
        expected += timedelta(days=1)
    fired = datetime.fromisoformat(out["next"])
    assert fired.utcoffset() is not None
    assert fired == expected
    assert fired.astimezone(SHANGHAI).time() == time(8, 30)
    assert out["misfire_grace_time"] is None
    assert out["coalesce"] is True


def test_morning_job_defaults_in_process(store: Store) -> None:
    timer, _ = make_timer(store, Clock(at(MONDAY, 7, 0)))
    timer.start()
    try:
        job = timer.scheduler.get_job("morning-digest")
        assert job is not None
        assert job.misfire_grace_time is None
        assert job.coalesce is True
        assert str(job.trigger.timezone) == "Asia/Shanghai"
    finally:
        timer.stop()
    assert count(store, PlanRun) == 0  # the start-up catch-up at 07:00 did nothing


# --- Catch-up ----------------------------------------------------------------------------------


def bank_with_three_recipients(store: Store) -> None:
    """rm1: c1's birthday on 12-01 (3-day notice on 11-28); rm2 and rm3: a follow-up each."""
    build_world(store)
    add_followup(store, "c3", "rm2", MONDAY, "回访王芳")
    add_followup(store, "c2", "rm3", MONDAY, "回访张伟")


def digests(store: Store) -> list[Digest]:
    with store.db.read() as s:
        return list(s.scalars(select(Digest).order_by(Digest.recipient_staff_id)).all())


def test_catch_up_after_digest_time_sends_one_late_digest_each(store: Store) -> None:
    bank_with_three_recipients(store)
    clock = Clock(at(MONDAY, 11, 0))
    timer, channel = make_timer(store, clock)
    result = timer.catch_up()
    assert result is not None and result.business_date == MONDAY
    assert sorted(channel.recipients()) == ["rm1", "rm2", "rm3"]
    assert all(LATE_NOTICE in reply.text for _, reply in channel.sent)
    rows = digests(store)
    assert [(d.recipient_staff_id, d.status, d.late) for d in rows] == [
        ("rm1", "sent", True),
        ("rm2", "sent", True),
        ("rm3", "sent", True),
    ]
    clock.now = at(MONDAY, 11, 5)  # a second start-up the same day
    again = timer.catch_up()
    assert again is not None and again.reminders == 0 and again.digests == 0
    assert len(channel.sent) == 3
    assert count(store, Digest) == 3


def test_catch_up_before_digest_time_does_nothing(store: Store) -> None:
    bank_with_three_recipients(store)
    timer, channel = make_timer(store, Clock(at(MONDAY, 8, 0)))
    assert timer.catch_up() is None
    assert channel.sent == []
    assert (count(store, PlanRun), count(store, Reminder), count(store, Digest)) == (0, 0, 0)


def test_catch_up_shortly_after_digest_time_is_not_late(store: Store) -> None:
    bank_with_three_recipients(store)
    timer, channel = make_timer(store, Clock(at(MONDAY, 8, 40)))
    timer.catch_up()
    assert len(channel.sent) == 3
    assert not any(LATE_NOTICE in reply.text for _, reply in channel.sent)
    assert not any(d.late for d in digests(store))


def test_catch_up_after_the_morning_run_sends_nothing_more(store: Store) -> None:
    bank_with_three_recipients(store)
    clock = Clock(at(MONDAY, 8, 30))
    timer, channel = make_timer(store, clock)
    timer.morning()
    assert len(channel.sent) == 3 and not any(d.late for d in digests(store))
    clock.now = at(MONDAY, 11, 0)  # restarted later that morning
    timer.catch_up()
    assert len(channel.sent) == 3


def test_no_digest_on_a_non_working_day(store: Store) -> None:
    bank_with_three_recipients(store)
    timer, channel = make_timer(store, Clock(at(date(2026, 11, 28), 11, 0)))  # Saturday
    assert timer.catch_up() is None
    assert timer.morning() is None
    assert channel.sent == [] and count(store, PlanRun) == 0


def test_outage_of_three_days_gives_one_catch_up_digest_each(store: Store) -> None:
    """Down from Wednesday 11-25 after the morning run until Monday 11-30 at 11:00."""
    build_world(store)  # h1 (c1, rm1) matures 12-03: its 7-day notice is on 11-26
    add_followup(store, "c3", "rm2", date(2026, 11, 27), "回访王芳")
    add_followup(store, "c2", "rm3", MONDAY, "回访张伟")
    clock = Clock(at(date(2026, 11, 25), 8, 30))
    timer, channel = make_timer(store, clock)
    timer.morning()  # nothing due on Wednesday
    assert channel.sent == [] and count(store, PlanRun) == 1
    clock.now = at(MONDAY, 11, 0)
    result = timer.catch_up()
    assert result is not None and result.since == date(2026, 11, 25)
    assert sorted(channel.recipients()) == ["rm1", "rm2", "rm3"]
    (rm1_text,) = channel.texts("rm1")
    assert "张伟 生日" in rm1_text and "到期" in rm1_text and LATE_NOTICE in rm1_text
    assert "回访王芳" in channel.texts("rm2")[0]
    assert [(d.business_date, d.late) for d in digests(store)] == [(MONDAY, True)] * 3
    assert {r.business_date for r in reminders(store)} == {MONDAY}
    assert {(r.kind, r.status) for r in reminders(store)} == {
        ("birthday", "sent"),
        ("maturity", "sent"),
        ("followup", "sent"),
    }


# --- Changes between planning and sending ------------------------------------------------------


def send(store: Store, now: datetime) -> RecordingChannel:
    channel = RecordingChannel()
    asyncio.run(send_due(store, StaticRouter(channel), build_formatter(store), Clock(now)))
    return channel


def test_customer_reassigned_after_planning_goes_to_the_new_owner(store: Store) -> None:
    build_world(store)
    plan_day(store, MONDAY, now=at(MONDAY))  # c1's birthday notice, for rm1
    assert {r.recipient_staff_id for r in reminders(store)} == {"rm1"}
    with store.db.write() as s:
        s.get(Customer, "c1").owner_staff_id = "rm2"  # type: ignore[union-attr]
    channel = send(store, at(MONDAY, 8, 31))
    assert channel.recipients() == ["rm2"]
    assert "张伟 生日" in channel.texts("rm2")[0]
    by_recipient = {r.recipient_staff_id: r for r in reminders(store)}
    assert (by_recipient["rm1"].status, by_recipient["rm1"].note) == ("cancelled", "reassigned")
    assert by_recipient["rm2"].status == "sent"


def test_deactivated_recipient_gets_nothing(store: Store) -> None:
    build_world(store)
    add_followup(store, "c5", "rm1", MONDAY, "回访王芳")
    plan_day(store, MONDAY, now=at(MONDAY))
    with store.db.write() as s:
        s.get(Staff, "rm1").active = False  # type: ignore[union-attr]
    channel = send(store, at(MONDAY, 8, 31))
    assert channel.sent == []
    assert [(d.recipient_staff_id, d.status) for d in digests(store)] == [("rm1", "empty")]
    assert {r.status for r in reminders(store)} == {"cancelled"}


def test_customers_of_a_leaver_reassigned_after_planning_go_to_the_new_owner(
    store: Store,
) -> None:
    """rm1 leaves: deactivated, and c1 handed to rm2, between planning and sending."""
    build_world(store)
    add_followup(store, "c5", "rm1", MONDAY, "回访王芳")  # c5 stays with the leaver
    plan_day(store, MONDAY, now=at(MONDAY))
    with store.db.write() as s:
        s.get(Staff, "rm1").active = False  # type: ignore[union-attr]
        s.get(Customer, "c1").owner_staff_id = "rm2"  # type: ignore[union-attr]
    channel = send(store, at(MONDAY, 8, 31))
    assert channel.recipients() == ["rm2"]
    (text,) = channel.texts("rm2")
    assert "张伟 生日" in text and "回访王芳" not in text
    assert [(d.recipient_staff_id, d.status) for d in digests(store)] == [
        ("rm1", "empty"),
        ("rm2", "sent"),
    ]


def test_two_instances_running_the_morning_job_at_once_deliver_each_reminder_once(
    store: Store,
) -> None:
    bank_with_three_recipients(store)
    for n in range(120):  # birthdays today, so both planners insert the same rows at once
        add_customer(store, f"x{n:03d}", ("rm1", "rm2")[n % 2], (11, 30, "solar"))
    with store_for(store.settings.db_url, store.settings.home) as other:
        timers = [make_timer(s, Clock(at(MONDAY, 8, 30))) for s in (store, other)]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def morning(timer: ReminderTimer) -> None:
            barrier.wait()
            try:
                timer.morning()
            except BaseException as exc:  # surfaced below, with the thread's other outcome
                errors.append(exc)

        threads = [threading.Thread(target=morning, args=(timer,)) for timer, _ in timers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    sent = [(who, reply) for _, channel in timers for who, reply in channel.sent]
    assert Counter(who for who, _ in sent) == Counter({"rm1": 1, "rm2": 1, "rm3": 1})
    told = Counter(c for _, reply in sent for e in reply.events for c in e.data["customer_ids"])
    planned = reminders(store)
    assert set(told.values()) == {1} and set(told) == {r.customer_id for r in planned}
    assert len(planned) == 120 + 3 and {r.status for r in planned} == {"sent"}
