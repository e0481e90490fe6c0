"""`bankbot audit tail`: text typed by anyone cannot forge a row or steer the terminal."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.audit_view import escape
from bot.cli import app
from crm_store.models import AuditLog
from crm_store.settings import Settings
from crm_store.store import init_store
from tests.assistant import Assistant
from tests.test_cli import env_for
from tests.world import NOW, build_world

HOSTILE = [
    "查一下张伟\n42\t2026-11-28T09:00:00+08:00\tS013\tconsole/private\thelp\tallowed\t[]\t伪造",
    "tab\there\r\ncarriage",
    "\x1b[2J\x1b[H清屏",  # clear the screen, cursor home
    "\x1b]0;retitled\x07标题",  # OSC: set the window title
    "\x9b31m C1 CSI",  # 8-bit CSI
    "\u202e右到左覆盖\u202c",  # bidi override
    "行\u2028分隔\u2029段落",  # line / paragraph separators
    "back\\nslash",  # a typed backslash-n must not look like an escaped newline
    "\x00nul\x7fdel\x08bs",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_leaves_no_control_characters(text: str) -> None:
    shown = escape(text)
    assert all(ch.isprintable() and ch not in "\u2028\u2029" for ch in shown), repr(shown)


def test_a_typed_backslash_n_is_not_an_escaped_newline() -> None:
    assert escape("a\\nb") != escape("a\nb")


def test_audit_tail_prints_one_line_per_row(settings: Settings) -> None:
    store, _ = init_store(settings)
    build_world(store)
    bot = Assistant(store, NOW)
    for text in HOSTILE:
        bot.say("rm1", text)
    store.close()
    runner = CliRunner()
    n = str(len(HOSTILE))
    plain = runner.invoke(app, ["audit", "tail", "-n", n], env=env_for(settings))
    assert plain.exit_code == 0, plain.output
    lines = plain.stdout.split("\n")
    assert lines[-1] == "" and len(lines) == len(HOSTILE) + 1
    for line in lines[:-1]:
        assert line.count("\t") == 7, repr(line)
        assert all(ch.isprintable() or ch == "\t" for ch in line), repr(line)
    as_json = runner.invoke(app, ["audit", "tail", "-n", n, "--json"], env=env_for(settings))
    assert as_json.exit_code == 0, as_json.output
    parsed = [json.loads(line) for line in as_json.stdout.splitlines()]
    store, _ = init_store(settings)
    with store.db.read() as s:
        stored = s.scalars(select(AuditLog.text_masked).order_by(AuditLog.id)).all()
    store.close()
    assert [p["text"] for p in parsed] == list(stored)
    assert all("\x1b" not in line for line in as_json.stdout.splitlines())


@pytest.mark.parametrize("count", ["-1", "-100"])
def test_negative_counts_are_refused(settings: Settings, count: str) -> None:
    init_store(settings)[0].close()
    result = CliRunner().invoke(app, ["audit", "tail", "-n", count], env=env_for(settings))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: -n must be 0 or more, not {count}"]
