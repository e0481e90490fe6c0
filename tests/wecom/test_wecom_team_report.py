"""Monday's team report reaches a team lead on WeCom, inside the digest, once."""

from __future__ import annotations

from datetime import date

from typer.testing import CliRunner

from bot.cli import app
from crm_store.settings import Settings
from crm_store.store import open_store
from tests.wecom.fakes import FakeWeCom
from tests.wecom.test_wecom_reminders import bind, deployment_env, texts_to
from tests.world import build_world

MONDAY = date(2026, 11, 30)


def test_monday_report_goes_to_the_team_lead_once(settings: Settings, fake: FakeWeCom) -> None:
    store = open_store(settings)
    try:
        build_world(store)
        bind(store, {"lead1": "SunLi", "head2": "WuGang"})
        env = deployment_env(settings, fake, TEAM_REPORT_WEEKLY="true", RETENTION_ENABLED="true")
        for _ in range(2):  # run twice: sent once
            run = CliRunner().invoke(
                app, ["reminders", "run", "--date", MONDAY.isoformat()], env=env
            )
            assert run.exit_code == 0, run.output
        (lead,) = texts_to(fake, "SunLi")
        assert "T1周报（11月23日—11月29日）" in lead and "陈静" not in lead
        assert "<b>" not in lead and "<pre>" not in lead  # WeCom text is plain, bars and all
        assert "▇" in lead or "▁" in lead
        (head,) = texts_to(fake, "WuGang")
        assert "分行周报" in head and "T1 " in head and "T2 " in head
        assert "李娜" not in head  # a branch head's Monday report is per team
    finally:
        store.close()
