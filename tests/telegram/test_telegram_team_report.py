"""Monday's team report reaches a team lead on Telegram, inside the digest, once."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.telegram_html import report_html
from crm_store.models import ChannelIdentity, Staff
from crm_store.settings import Settings
from crm_store.store import Store
from handlers.contracts import Event, Reply
from tests.conftest import TEST_KEY
from tests.telegram.conftest import NOW, USER, Served
from tests.telegram.fake_telegram import FakeTelegram
from tests.telegram.test_telegram_replies import send
from tests.telegram.test_telegram_webhook import private_text

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


def test_monday_report_is_html_with_every_value_escaped(
    world: Store, settings: Settings, fake_telegram: FakeTelegram
) -> None:
    with world.db.write() as s:
        s.add(ChannelIdentity(channel="telegram", external_id=str(LEAD), staff_id="lead1",
                              bound_at=NOW))  # fmt: skip
        s.get(Staff, "rm2").name = "周<i>杰</i>&"  # type: ignore[union-attr]
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
    run = CliRunner().invoke(app, ["reminders", "run", "--date", MONDAY.isoformat()], env=env)
    assert run.exit_code == 0, run.output
    (sent,) = [
        c for c in fake_telegram.calls("sendMessage") if str(c.params["chat_id"]) == str(LEAD)
    ]
    assert sent.params["parse_mode"] == "HTML"
    text = sent.params["text"]
    assert "<b>📊 T1周报（11月23日—11月29日）</b>" in text and "<pre>" in text
    assert "周&lt;i&gt;杰&lt;/i&gt;&amp;" in text and "<i>" not in text
    # Without its tags and escapes the message is the plain report, character for character.
    plain = html.unescape(re.sub(r"</?(b|pre)>", "", text))
    assert "周<i>杰</i>&" in plain and "合计：记录0条（较上周±0）" in plain


REPORT = "📊 T1周报（11月23日—11月29日）\n合计：记录3条\n钱<进> ▇▇▇▇▇ 风险120万\n　逾期1\n提示"


def test_report_html_bolds_the_title_and_keeps_bars_in_pre() -> None:
    assert report_html(REPORT) == (
        "<b>📊 T1周报（11月23日—11月29日）</b>\n合计：记录3条\n"
        "<pre>钱&lt;进&gt; ▇▇▇▇▇ 风险120万</pre>\n　逾期1\n提示"
    )
    assert report_html("no title here <b>") is None


@pytest.mark.parametrize(
    ("recipient", "events", "mode"),
    [
        ("2002", (Event("team_report_shown"),), "HTML"),
        ("2002", (Event("audit_summary_shown"),), "HTML"),
        ("2002", (Event("agenda_shown"),), None),  # the same text, not a report: plain
        ("-100", (Event("team_report_shown"),), None),  # a group gets the group refusal
    ],
)
def test_only_a_report_to_a_person_goes_out_as_html(
    fake_telegram: FakeTelegram, recipient: str, events: tuple[Event, ...], mode: str | None
) -> None:
    (call,) = send(fake_telegram, recipient, Reply(REPORT, events))
    assert call.params.get("parse_mode") == mode
    if mode is None:
        assert "<b>" not in call.params["text"]


def test_a_report_too_long_for_one_message_goes_out_plain(fake_telegram: FakeTelegram) -> None:
    long = REPORT + "\n" + "\n".join(f"客户经理{n} ▇▇▁▁▁ 风险1万" for n in range(400))
    calls = send(fake_telegram, "2002", Reply(long, (Event("team_report_shown"),)))
    assert len(calls) > 1 and all("parse_mode" not in c.params for c in calls)
    assert "".join(c.params["text"] for c in calls) == long


def test_team_report_asked_in_chat_comes_as_html(served: Served) -> None:
    assert served.post(private_text("/team", 915031090)).status_code == 200
    [call] = served.fake.wait_for("sendMessage")
    assert int(call.params["chat_id"]) == USER and call.params["parse_mode"] == "HTML"
    assert call.params["text"].startswith("<b>📊 李娜周报")
    assert "<pre>李娜 " in call.params["text"] and "周杰" not in call.params["text"]
