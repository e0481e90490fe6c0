"""Monday's team report reaches a team lead on Telegram, inside the digest, once."""

from __future__ import annotations

from datetime import date

from typer.testing import CliRunner

from bot.cli import app
from crm_store.models import ChannelIdentity
from crm_store.settings import Settings
from crm_store.store import Store
from tests.conftest import TEST_KEY
from tests.telegram.conftest import NOW
from tests.telegram.fake_telegram import FakeTelegram

MONDAY = date(2026, 11, 30)
LEAD = 2002


def test_monday_report_goes_to_the_team_lead_once(
    world: Store, settings: Settings, fake_telegram: FakeTelegram
) -> None:
    with world.db.write() as s:
        s.add(ChannelIdentity(channel="telegram", external_id=str(LEAD), staff_id="lead1",
                              bound_at=NOW))  # fmt: skip
    env = {
        "BANKBOT_HOME": str(settings.home),
        "DATABASE_URL": settings.db_url,
        "BANKBOT_DATA_KEY": TEST_KEY,
        "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token.get_secret_value(),  # type: ignore[union-attr]
        "TELEGRAM_API_BASE_URL": fake_telegram.url,
        "REMINDER_CHANNEL": "",
        "WECOM_CORP_ID": "",
        "TEAM_REPORT_WEEKLY": "true",
        "RETENTION_ENABLED": "true",
    }
    for _ in range(2):  # run twice: sent once
        run = CliRunner().invoke(app, ["reminders", "run", "--date", MONDAY.isoformat()], env=env)
        assert run.exit_code == 0, run.output
    to_lead = [
        c.params["text"]
        for c in fake_telegram.calls("sendMessage")
        if str(c.params["chat_id"]) == str(LEAD)
    ]
    assert len(to_lead) == 1
    report = to_lead[0][to_lead[0].index("📊") :]
    assert "T1周报（11月23日—11月29日）" in report and "李娜" in report
    assert "陈静" not in report  # another team's RM
    assert "张伟" not in report and "王芳" not in report  # no customer names outside drill-downs
