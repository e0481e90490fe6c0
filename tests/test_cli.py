"""The `bankbot` command line: init twice, ask --json, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from crm_store.settings import Settings
from crm_store.store import open_store
from tests.conftest import TEST_KEY
from tests.world import build_world

runner = CliRunner()


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    base = {
        "BANKBOT_HOME": str(settings.bankbot_home),
        "DATABASE_URL": settings.database_url or "",
        "BANKBOT_DATA_KEY": TEST_KEY,
    }
    return {**base, **extra}


def test_init_on_embedded_default_generates_a_private_key(tmp_path: Path) -> None:
    env = {"BANKBOT_HOME": str(tmp_path / "home"), "DATABASE_URL": "", "BANKBOT_DATA_KEY": ""}
    first = runner.invoke(app, ["init"], env=env)
    assert first.exit_code == 0, first.output
    assert "generated a data key" in first.output
    key_file = tmp_path / "home" / "data.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    second = runner.invoke(app, ["init"], env=env)
    assert second.exit_code == 0 and "generated" not in second.output
    assert key_file.read_text()  # the key was kept, not replaced


def test_ask_json_on_both_engines(settings: Settings) -> None:
    store = open_store(settings)
    build_world(store)
    store.close()
    args = ["ask", "--as", "rm1", "--now", "2026-11-28T10:00:00", "--json"]
    result = runner.invoke(
        app, [*args, "记录：刚和张伟通话，他想了解大额存单，下周二回访"], env=env_for(settings)
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    note = next(e for e in payload["events"] if e["type"] == "note_recorded")
    assert note["customer_id"] == "c1" and note["next_followup_on"] == "2026-12-01"
    assert "下周二" in payload["reply"] or "12月1日" in payload["reply"]
    tail = runner.invoke(app, ["audit", "tail", "-n", "1"], env=env_for(settings))
    assert tail.exit_code == 0 and "note\tallowed\t[c1]" in tail.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "--as", "nobody", "你好"], "unknown staff id"),
        (["ask", "--as", "rm1", "--now", "tomorrow", "你好"], "--now must be ISO 8601"),
        (["import", "planets", "x.csv"], "unknown kind"),
    ],
)
def test_bad_input_gets_one_line(settings: Settings, args: list[str], message: str) -> None:
    store = open_store(settings)
    build_world(store)
    store.close()
    result = runner.invoke(app, args, env=env_for(settings))
    assert result.exit_code != 0
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_uninitialised_home_says_run_init(tmp_path: Path) -> None:
    env = {"BANKBOT_HOME": str(tmp_path / "empty"), "DATABASE_URL": "", "BANKBOT_DATA_KEY": ""}
    result = runner.invoke(app, ["ask", "--as", "S001", "你好"], env=env)
    assert result.exit_code == 1
    assert "bankbot init" in result.stderr and "Traceback" not in result.output


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    env = {"BANKBOT_HOME": str(tmp_path), "BUSINESS_TZ": "Mars/Olympus", "DATABASE_URL": ""}
    result = runner.invoke(app, ["init"], env=env)
    assert result.exit_code == 1 and "BUSINESS_TZ" in result.stderr


def test_wrong_data_key_is_refused(settings: Settings) -> None:
    wrong = "A" * 43 + "="
    result = runner.invoke(
        app, ["ask", "--as", "rm1", "你好"], env=env_for(settings, BANKBOT_DATA_KEY="not-base64!")
    )
    assert result.exit_code == 1 and "BANKBOT_DATA_KEY" in result.stderr
    assert wrong  # a well-formed but wrong key is caught when decrypting (see test_store)


def test_staff_management_takes_effect_on_the_next_message(settings: Settings) -> None:
    store = open_store(settings)
    build_world(store)
    store.close()
    env = env_for(settings)
    ask = ["ask", "--as", "rm2", "--now", "2026-11-28T10:00:00", "--json", "/c 张伟"]
    assert json.loads(runner.invoke(app, ask, env=env).stdout)["events"][0]["type"] == "not_found"
    granted = runner.invoke(app, ["staff", "grant", "rm2", "c1", "--until", "2026-12-31"], env=env)
    assert granted.exit_code == 0, granted.output
    shown = json.loads(runner.invoke(app, ask, env=env).stdout)["events"][0]
    assert shown == {"type": "customer_shown", "customer_id": "c1", "field": None}
    assert runner.invoke(app, ["staff", "deactivate", "rm2"], env=env).exit_code == 0
    refused = json.loads(runner.invoke(app, ask, env=env).stdout)["events"][0]
    assert refused == {"type": "refused", "reason": "deactivated"}
    listing = runner.invoke(app, ["staff", "list"], env=env).stdout
    assert "rm2\t周杰\trm\tB2\tT1\tleft" in listing
    bad = runner.invoke(app, ["staff", "set-role", "rm1", "king"], env=env)
    assert bad.exit_code == 1 and "unknown role" in bad.stderr


def test_a_number_answering_which_namesake_loads_the_index(settings: Settings) -> None:
    """`ask 2` after "which 王芳?" is a question for the notes: it must open the index (a bare
    number otherwise never does)."""
    from bot.cli_index import needs_index
    from bot.console import console_message
    from bot.identity import resolve_actor
    from handlers.clarify import remember_choice
    from handlers.context import Context
    from tests.world import NOW

    store = open_store(settings)
    build_world(store)
    assert not needs_index(store, "rm1", "2", NOW)
    message = console_message("rm1", "王芳上次聊了什么？", NOW)
    with store.db.write() as session:
        actor = resolve_actor(session, channel=message.channel, sender_id="rm1")
        assert actor is not None
        ctx = Context(session, actor, message, NOW, "zh", None, store.settings)
        remember_choice(ctx, ["c4", "c5"], {"action": "question", "text": message.text})
    assert needs_index(store, "rm1", "2", NOW)
    assert not needs_index(store, "rm1", "3", NOW)  # not one of the two: "pick 1 to 2"
    store.close()
