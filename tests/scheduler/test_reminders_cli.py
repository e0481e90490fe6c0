"""`bankbot reminders` as an operator runs it: no channel means nothing marked sent, future
dates and non-working days need --force, and the dry run, the run and `status` agree."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from bot.channels import DELIVERY_LOG
from bot.cli import app
from crm_store.models import Digest, PlanRun, Reminder
from crm_store.settings import Settings
from crm_store.store import Store, open_store
from tests.conftest import TEST_KEY
from tests.scheduler.helpers import SHANGHAI, add_followup, add_holding, count, reminders
from tests.world import build_world

TUESDAY = date(2026, 12, 1)
SATURDAY = date(2026, 12, 5)
runner = CliRunner()


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """A deployment's environment: no platform and no REMINDER_CHANNEL unless given."""
    return {
        "BANKBOT_HOME": str(settings.bankbot_home),
        "DATABASE_URL": settings.database_url or "",
        "BANKBOT_DATA_KEY": TEST_KEY,
        "REMINDER_CHANNEL": "",
        "WECOM_CORP_ID": "",
        "TELEGRAM_BOT_TOKEN": "",
        **extra,
    }


def world(settings: Settings) -> Store:
    store = open_store(settings)
    build_world(store)
    return store


def bankbot(settings: Settings, *args: str, **extra: str) -> str:
    result = runner.invoke(app, list(args), env=env_for(settings, **extra))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_with_no_channel_nothing_is_marked_sent(settings: Settings) -> None:
    store = world(settings)
    try:
        out = bankbot(settings, "reminders", "run", "--date", TUESDAY.isoformat())
        assert "no delivery channel" in out and "sent 0 digests" in out
        with store.db.read() as s:
            digests = {d.recipient_staff_id: d for d in s.scalars(select(Digest))}
        rm1 = digests["rm1"]
        assert (rm1.status, rm1.last_error, rm1.sent_at) == ("undeliverable", "no channel", None)
        assert {d.status for d in digests.values()} <= {"undeliverable", "empty"}
        waiting = sum(d.status == "undeliverable" for d in digests.values())
        assert f"undeliverable {waiting} (no channel)" in out
        assert "sent" not in {r.status for r in reminders(store)}
        assert not (settings.home / DELIVERY_LOG).exists()
        status = bankbot(settings, "reminders", "status")
        assert f"undeliverable {waiting}" in status and "rm1 for 2026-12-01" in status
    finally:
        store.close()


def test_the_console_log_is_a_channel_only_when_chosen(settings: Settings) -> None:
    world(settings).close()
    out = bankbot(
        settings, "reminders", "run", "--date", TUESDAY.isoformat(), REMINDER_CHANNEL="console"
    )
    assert re.search(r"sent [1-9]\d* digests", out) and "no delivery channel" not in out
    log = (settings.home / DELIVERY_LOG).read_text(encoding="utf-8")
    assert '"recipient": "rm1"' in log and "张伟 生日" in log


def future_weekday() -> date:
    day = datetime.now(SHANGHAI).date() + timedelta(days=14)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def test_a_future_date_is_a_preview_unless_forced_and_never_sent_early(
    settings: Settings,
) -> None:
    store = world(settings)
    day = future_weekday()
    add_followup(store, "c5", "rm1", day, "到期前约见")
    opts = {"REMINDER_CHANNEL": "console", "REMINDER_ON_NON_WORKING_DAYS": "true"}
    try:
        out = bankbot(settings, "reminders", "plan", "--date", day.isoformat(), **opts)
        assert f"{day} is in the future: a preview, nothing recorded" in out
        assert "(dry run)" in out and "nothing recorded" in out
        assert [count(store, t) for t in (Reminder, Digest, PlanRun)] == [0, 0, 0]

        out = bankbot(settings, "reminders", "plan", "--date", day.isoformat(), "--force", **opts)
        assert f"new digests, sent from {day} 08:30" in out
        out = bankbot(settings, "reminders", "send", **opts)
        assert "sent 0 digests" in out
        assert f"digests are not due yet (the first at {day} 08:30): sent no earlier" in out
        with store.db.read() as s:
            digests = {d.recipient_staff_id: d for d in s.scalars(select(Digest))}
        assert {d.status for d in digests.values()} == {"pending"}
        morning = datetime.combine(day, time(8, 30), SHANGHAI)
        assert {d.next_attempt_at for d in digests.values()} == {morning}
        assert not (settings.home / DELIVERY_LOG).exists()
    finally:
        store.close()


def test_a_non_working_day_sends_nothing_unless_forced(settings: Settings) -> None:
    store = world(settings)
    add_followup(store, "c5", "rm1", SATURDAY, "周末回访")
    try:
        out = bankbot(
            settings, "reminders", "run", "--date", SATURDAY.isoformat(), REMINDER_CHANNEL="console"
        )
        assert out.startswith(
            "2026-12-05 is not a working day: nothing is sent; its reminders go out with the "
            "next working day's digest"
        )
        assert [count(store, t) for t in (Reminder, Digest, PlanRun)] == [0, 0, 0]
        forced = bankbot(
            settings,
            "reminders",
            "run",
            "--date",
            SATURDAY.isoformat(),
            "--force",
            REMINDER_CHANNEL="console",
        )
        assert re.search(r"sent [1-9]\d* digests", forced)
    finally:
        store.close()


NUMBERS = re.compile(r"(\d+) digests with (\d+) items \((\d+) reminders, (\d+) overdue")


def test_the_dry_run_the_run_and_status_agree(settings: Settings) -> None:
    store = world(settings)
    add_followup(store, "c5", "rm1", TUESDAY, "约见面谈理财")
    add_followup(store, "c3", "rm2", TUESDAY - timedelta(days=9), "逾期的回访")
    add_followup(store, "c8", "rm2", TUESDAY - timedelta(days=5), "另一个逾期回访")
    add_holding(store, "hx", "c5", "large_cd", date(2026, 12, 31))
    store.close()
    day = ["reminders", "run", "--date", TUESDAY.isoformat()]
    dry = bankbot(settings, *day, "--dry-run", REMINDER_CHANNEL="console")
    run = bankbot(settings, *day, REMINDER_CHANNEL="console")
    status = bankbot(settings, "reminders", "status")
    planned, sent = NUMBERS.search(dry), NUMBERS.search(run)
    assert planned and sent and planned.groups() == sent.groups()
    digests, items, carried, overdue = (int(n) for n in sent.groups())
    assert digests >= 2 and overdue == 2 and items == carried + overdue
    new = re.search(r"(\d+) new reminders would be planned", dry)
    assert new and f"planned {new[1]} new reminders" in run
    empty, previewed_empty = re.search(r"empty (\d+),", run), re.search(r"empty (\d+);", dry)
    assert empty and previewed_empty and empty[1] == previewed_empty[1]
    assert int(empty[1]) == 0 or "empty digests, nothing sent:" in status
    assert f"business date): sent {digests}" in status
    assert f"the sent digests had {items} numbered lines" in status
