"""Digests reach Telegram from processes without the web app: `bankbot reminders run`, and
the timer's sends, each on a fresh event loop, through one bot on its own loop."""

from __future__ import annotations

import asyncio
from datetime import date

from typer.testing import CliRunner

from bot.cli import app
from bot.wiring import build_formatter, reminder_router
from crm_store.settings import Settings
from crm_store.store import Store
from scheduler.service import plan_day, send_due
from tests.conftest import TEST_KEY
from tests.scheduler.helpers import add_followup, at
from tests.telegram.conftest import USER
from tests.telegram.fake_telegram import FakeTelegram

TUESDAY = date(2026, 12, 1)
WEDNESDAY = date(2026, 12, 2)


def digests_to_user(fake: FakeTelegram) -> list[str]:
    return [
        c.params["text"] for c in fake.calls("sendMessage") if str(c.params["chat_id"]) == str(USER)
    ]


def test_reminders_run_delivers_through_telegram_from_the_settings(
    world: Store, settings: Settings, fake_telegram: FakeTelegram
) -> None:
    env = {
        "BANKBOT_HOME": str(settings.home),
        "DATABASE_URL": settings.db_url,
        "BANKBOT_DATA_KEY": TEST_KEY,
        "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token.get_secret_value(),  # type: ignore[union-attr]
        "TELEGRAM_API_BASE_URL": fake_telegram.url,
        "REMINDER_CHANNEL": "",
        "WECOM_CORP_ID": "",
    }
    run = CliRunner().invoke(app, ["reminders", "run", "--date", TUESDAY.isoformat()], env=env)
    assert run.exit_code == 0, run.output
    (text,) = digests_to_user(fake_telegram)
    assert "张伟 生日" in text


def test_the_timers_sends_on_fresh_loops_share_one_connected_bot(
    world: Store, fake_telegram: FakeTelegram
) -> None:
    add_followup(world, "c5", "rm1", WEDNESDAY, "周三回访王芳")
    with reminder_router(world) as router:
        assert router.preference == ["telegram"]
        for day in (TUESDAY, WEDNESDAY):  # as the timer does: asyncio.run per send
            plan_day(world, day, now=at(day))
            stats = asyncio.run(
                send_due(world, router, build_formatter(world), lambda d=day: at(d))
            )
            assert stats.sent >= 1
    texts = digests_to_user(fake_telegram)
    assert len(texts) == 2 and "周三回访王芳" in texts[1]
    assert len(fake_telegram.calls("getMe")) == 1  # connected once, on the first send
