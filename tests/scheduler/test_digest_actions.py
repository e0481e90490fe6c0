"""Acting on a delivered digest from chat ('完成 2', '推迟 2 3天'), and `bankbot reminders`."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from bot.channels import DELIVERY_LOG
from bot.cli import app
from bot.wiring import build_formatter, build_router
from crm_store.models import ConversationState, Digest, FollowUp, PlanRun, Reminder
from crm_store.settings import Settings
from crm_store.store import Store, open_store
from scheduler.timer import ReminderTimer
from tests.assistant import Assistant
from tests.conftest import TEST_KEY
from tests.scheduler.helpers import (
    Clock,
    RecordingChannel,
    add_followup,
    add_holding,
    at,
    count,
    item_line,
    make_timer,
    reminders,
    with_console,
)
from tests.world import build_world

MONDAY = date(2026, 11, 30)
TUESDAY = date(2026, 12, 1)
CD_MATURES = date(2026, 12, 31)  # notices on 12-01 (30 days), 12-24 (7) and 12-30 (1)


def deliver(store: Store, day: date) -> tuple[ReminderTimer, RecordingChannel, Clock]:
    """Run the morning job of `day` on a recording console channel."""
    clock = Clock(at(day, 8, 30))
    timer, channel = make_timer(store, clock)
    timer.morning()
    return timer, channel, clock


def rows_of(store: Store, entity: str) -> list[tuple[int, str, str]]:
    """(lead, status, note) of one entity's reminders, by lead."""
    return sorted(
        (r.lead_days, r.status, r.note) for r in reminders(store, Reminder.entity_id == entity)
    )


def test_done_on_a_followup_item_closes_the_followup(store: Store) -> None:
    build_world(store)
    task = add_followup(store, "c5", "rm1", TUESDAY, "约见面谈理财")
    add_holding(store, "hx", "c5", "large_cd", CD_MATURES)
    _, channel, _ = deliver(store, TUESDAY)
    (text,) = channel.texts("rm1")
    # Today: c1's birthday, then the follow-up; coming: the certificate of deposit.
    assert "张伟 生日" in item_line(text, 1)
    assert "约见面谈理财" in item_line(text, 2)
    assert "产品hx" in item_line(text, 3)
    said = Assistant(store, at(TUESDAY, 9, 0)).say("rm1", "完成 2")
    assert said.event("followup_done")["followup_id"] == task
    assert "约见面谈理财" in said.text
    with store.db.read() as s:
        closed = s.get(FollowUp, task)
        assert closed is not None and closed.status == "done" and closed.closed_at is not None
    # Only the follow-up was touched: the two reminders stay as sent.
    assert {r.status for r in reminders(store, Reminder.kind != "followup")} == {"sent"}


def test_done_on_a_maturity_item_stops_its_later_notices(store: Store) -> None:
    build_world(store)
    add_holding(store, "hx", "c5", "large_cd", CD_MATURES)
    _, channel, _ = deliver(store, TUESDAY)
    (text,) = channel.texts("rm1")
    assert "张伟 生日" in item_line(text, 1) and "产品hx" in item_line(text, 2)
    said = Assistant(store, at(TUESDAY, 9, 0)).say("rm1", "完成 2")
    assert said.event("reminder_acked")["customer_id"] == "c5"
    assert rows_of(store, "hx") == [(30, "acked", "")]
    assert rows_of(store, "c1") == [(0, "sent", "")]  # item 1 untouched
    timer, channel, clock = deliver(store, date(2026, 12, 24))  # the 7-day notice
    assert channel.texts("rm1") == []
    clock.now = at(date(2026, 12, 30), 8, 30)
    timer.morning()  # the 1-day notice
    assert channel.texts("rm1") == []
    assert rows_of(store, "hx") == [
        (1, "cancelled", "acknowledged"),
        (7, "cancelled", "acknowledged"),
        (30, "acked", ""),
    ]
    with store.db.read() as s:
        rm1 = s.scalars(select(Digest.status).where(Digest.recipient_staff_id == "rm1")).all()
    assert sorted(rm1) == ["empty", "empty", "sent"]


def test_done_on_a_birthday_item_stops_the_on_the_day_notice(store: Store) -> None:
    build_world(store)
    add_followup(store, "c5", "rm1", MONDAY, "回访王芳")
    _, channel, _ = deliver(store, MONDAY)
    (text,) = channel.texts("rm1")
    assert "回访王芳" in item_line(text, 1) and "张伟 生日" in item_line(text, 2)
    said = Assistant(store, at(MONDAY, 9, 0)).say("rm1", "完成 2")
    assert said.event("reminder_acked")["customer_id"] == "c1"
    assert rows_of(store, "c1") == [(3, "acked", "")]
    _, channel, _ = deliver(store, TUESDAY)  # 12-01 is the birthday itself
    assert all("张伟 生日" not in text for text in channel.texts("rm1"))
    assert rows_of(store, "c1") == [(0, "cancelled", "acknowledged"), (3, "acked", "")]


def test_snooze_on_a_reminder_item_opens_a_followup(store: Store) -> None:
    build_world(store)
    add_holding(store, "hx", "c5", "large_cd", CD_MATURES)
    deliver(store, TUESDAY)
    said = Assistant(store, at(TUESDAY, 9, 0)).say("rm1", "推迟 2 3天")
    due = TUESDAY + timedelta(days=3)
    assert said.event("followup_snoozed") == {
        "customer_id": "c5",
        "until": due.isoformat(),
        "item": 2,
    }
    with store.db.read() as s:
        (task,) = s.scalars(select(FollowUp)).all()
    assert (task.customer_id, task.staff_id, task.due_on, task.status) == ("c5", "rm1", due, "open")
    assert task.summary == f"产品到期 {CD_MATURES.isoformat()}"
    assert rows_of(store, "hx") == [(30, "acked", "")]
    _, channel, _ = deliver(store, due)  # Friday 12-04: the new follow-up is in the digest
    (text,) = channel.texts("rm1")
    assert f"产品到期 {CD_MATURES.isoformat()}" in text


def test_items_of_another_staff_members_digest_are_not_theirs(store: Store) -> None:
    build_world(store)
    add_holding(store, "hx", "c5", "large_cd", CD_MATURES)
    deliver(store, TUESDAY)
    said = Assistant(store, at(TUESDAY, 9, 0)).say("rm2", "完成 2")  # rm2 got no digest
    assert "今天要做什么" in said.text
    assert rows_of(store, "hx") == [(30, "sent", "")]


def test_done_after_a_digest_on_the_console_delivery_log(store: Store) -> None:
    """The deployment's own wiring: the console delivery log under BANKBOT_HOME, chosen
    with REMINDER_CHANNEL=console."""
    store = with_console(store)
    build_world(store)
    add_holding(store, "hx", "c5", "large_cd", CD_MATURES)
    timer = ReminderTimer(
        store, build_router(store), build_formatter(store), clock=Clock(at(TUESDAY, 8, 30))
    )
    timer.morning()
    log = store.settings.home / DELIVERY_LOG
    (record,) = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert record["recipient"] == "rm1" and "产品hx" in item_line(record["text"], 2)
    Assistant(store, at(TUESDAY, 9, 0)).say("rm1", "完成 2")
    assert rows_of(store, "hx") == [(30, "acked", "")]


# --- bankbot reminders ---------------------------------------------------------------------------

runner = CliRunner()


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "BANKBOT_HOME": str(settings.bankbot_home),
        "DATABASE_URL": settings.database_url or "",
        "BANKBOT_DATA_KEY": TEST_KEY,
        "REMINDER_CHANNEL": "console",
    }


def world_store(settings: Settings) -> Store:
    store = open_store(settings)
    build_world(store)
    return store


def test_reminders_run_dry_run_prints_and_records_nothing(settings: Settings) -> None:
    store = world_store(settings)
    try:
        args = ["reminders", "run", "--date", TUESDAY.isoformat(), "--dry-run"]
        result = runner.invoke(app, args, env=env_for(settings))
        assert result.exit_code == 0, result.output
        assert "--- to rm1" in result.stdout
        assert "张伟 生日" in result.stdout and "1. " in result.stdout
        assert "nothing recorded" in result.stdout
        tables = (Reminder, Digest, PlanRun, ConversationState)
        assert [count(store, table) for table in tables] == [0, 0, 0, 0]
        assert not (settings.home / DELIVERY_LOG).exists()
    finally:
        store.close()


def test_reminders_run_then_status_shows_the_sent_digest(settings: Settings) -> None:
    world_store(settings).close()
    env = env_for(settings)
    run = runner.invoke(app, ["reminders", "run", "--date", TUESDAY.isoformat()], env=env)
    assert run.exit_code == 0, run.output
    sent = re.search(r"sent (\d+) digests with (\d+) items \((\d+) reminders", run.stdout)
    assert sent and int(sent[1]) >= 1, run.stdout
    status = runner.invoke(app, ["reminders", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert f"business date): sent {sent[1]}" in status.stdout
    assert f"of one customer): sent {sent[3]}" in status.stdout
    assert f"the sent digests had {sent[2]} numbered lines" in status.stdout
    again = runner.invoke(app, ["reminders", "run", "--date", TUESDAY.isoformat()], env=env)
    assert "sent 0 digests" in again.stdout  # planning and sending again adds nothing
    lines = (settings.home / DELIVERY_LOG).read_text(encoding="utf-8").splitlines()
    recipients = [json.loads(line)["recipient"] for line in lines]
    assert len(recipients) == int(sent[1]) and "rm1" in recipients


def test_reminders_plan_with_a_bad_date_is_one_line(settings: Settings) -> None:
    world_store(settings).close()
    result = runner.invoke(app, ["reminders", "plan", "--date", "bad"], env=env_for(settings))
    assert result.exit_code != 0
    assert "--date must be YYYY-MM-DD" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
