"""The index from the command line, with and without a `serve` holding the embedded index.

A holder process (what `bankbot serve` runs: the index open, its upkeep thread answering
requests) is started for real, so the lock, the outbox and the request files cross a process
boundary as they do in a deployment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.index_upkeep import OwnedUpkeep
from crm_store.models import AuditLog
from crm_store.settings import Settings
from crm_store.store import Store
from retrieval.connect import open_index
from tests.conftest import TEST_KEY
from tests.retrieval.conftest import NOTES, local_config, record_notes
from tests.retrieval.test_index_upkeep import wait_for

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

# What `bankbot serve` does for the index, without the web app: its upkeep answers requests,
# questions too (retrieval-only, as serve without an LLM); HOLDER_QUESTIONS=0: no retriever
# answers them there, as in a scheduler.
HOLDER = """
import os, sys
from bot.index_upkeep import IndexUpkeep
from crm_store.settings import Settings
from crm_store.store import open_store
from retrieval.config import IndexSettings, chroma_folder
from retrieval.connect import open_index
from retrieval.search import Retriever
store = open_store(Settings(_env_file=None))
index = open_index(store.settings, config=IndexSettings(_env_file=None, CHROMA_URL=""))
questions = Retriever(index) if os.environ["HOLDER_QUESTIONS"] == "1" else None
folder = chroma_folder(store.settings)
upkeep = IndexUpkeep(store, index, requests=folder, every=0.1, questions=questions)
upkeep.start()
print(f"ready {os.getpid()}", flush=True)
sys.stdin.read()
upkeep.stop()
index.close()
store.close()
"""


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "BANKBOT_HOME": str(settings.bankbot_home),
        "DATABASE_URL": settings.database_url or "",
        "BANKBOT_DATA_KEY": TEST_KEY,
        "CHROMA_URL": "",
        "EMBEDDINGS_BASE_URL": "",
        "LLM_BASE_URL": "",
        "RETENTION_ENABLED": "false",
    }


def notes_file(folder: Path, note_id: str, text: str) -> Path:
    path = folder / f"{note_id}.csv"
    path.write_text(
        "interaction_id,customer_id,staff_id,occurred_at,channel,content,next_followup_on\n"
        f"{note_id},c1,rm1,2026-11-20T10:00:00,phone,{text},\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def holder(store: Store, settings: Settings) -> Iterator[int]:
    """A process holding the embedded index as serve does; its pid."""
    yield from _holding(settings, questions=True)


@pytest.fixture
def index_only_holder(store: Store, settings: Settings) -> Iterator[int]:
    """A process holding the embedded index that answers index requests but no questions."""
    yield from _holding(settings, questions=False)


def _holding(settings: Settings, *, questions: bool) -> Iterator[int]:
    env = {**os.environ, **env_for(settings), "PYTHONPATH": str(ROOT)}
    env["HOLDER_QUESTIONS"] = "1" if questions else "0"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    assert line.startswith("ready"), line
    try:
        yield int(line.split()[1])
    finally:
        proc.stdin.close()
        proc.wait(timeout=120)


def test_import_builds_a_missing_index_itself(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    record_notes(store)  # notes in SQL, never indexed: no index folder yet
    path = notes_file(tmp_path, "IMP1", "张伟想了解国债逆回购")
    result = runner.invoke(app, ["import", "interactions", str(path)], env=env_for(settings))
    assert result.exit_code == 0, result.output
    assert f"built the note index: {len(NOTES) + 1} notes" in result.stdout
    with open_index(settings, config=local_config()) as index:
        assert index.count() == len(NOTES) + 1
    again = notes_file(tmp_path, "IMP2", "张伟问了养老金账户")
    result = runner.invoke(app, ["import", "interactions", str(again)], env=env_for(settings))
    assert "note index updated: 1 queued changes applied" in result.stdout, result.output


def test_while_serve_holds_the_index_every_admin_command_still_works(
    store: Store, settings: Settings, tmp_path: Path, holder: int
) -> None:
    env = env_for(settings)
    record_notes(store)
    path = notes_file(tmp_path, "IMP1", "张伟想了解国债逆回购")
    imported = runner.invoke(app, ["import", "interactions", str(path)], env=env)
    assert imported.exit_code == 0, imported.output
    assert f"for process {holder} (bankbot serve)" in imported.stdout

    # Asked of the holder through a request file: the holder rebuilds and checks.
    rebuilt = runner.invoke(app, ["reindex", "--quiet"], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"indexed {len(NOTES) + 1} notes" in rebuilt.stdout
    checked = runner.invoke(app, ["index", "check"], env=env)
    assert (
        checked.exit_code == 0 and f"index matches SQL ({len(NOTES) + 1} notes)" in checked.stdout
    )

    synced = runner.invoke(app, ["index", "sync"], env=env)
    assert synced.exit_code == 0 and f"held by process {holder}" in synced.stdout

    looked_up = runner.invoke(app, ["ask", "--as", "rm1", "查一下张伟"], env=env)
    assert looked_up.exit_code == 0 and "张伟" in looked_up.stdout, looked_up.output

    # A question is asked of the holder, which answers it as rm1 through the dispatcher.
    asked = runner.invoke(app, ["ask", "--as", "rm1", "谁对基金感兴趣？", "--json"], env=env)
    assert asked.exit_code == 0, asked.output
    answered = json.loads(asked.stdout)
    assert "张伟" in answered["reply"]  # c1's fund note answers it
    [event] = answered["events"]  # the events come back as a local answer gives them
    assert (event["type"], event["customer_ids"], event["used_llm"]) == (
        "question_answered",
        ["c1"],
        False,
    )
    with store.db.read() as session:  # audited as the console's, as rm1's own question
        audit = session.scalars(select(AuditLog).where(AuditLog.intent == "question")).one()
    assert (audit.actor_staff_id, audit.channel) == ("rm1", "console")


def test_a_question_is_refused_in_one_line_when_the_holder_answers_none(
    store: Store, settings: Settings, index_only_holder: int
) -> None:
    record_notes(store)
    asked = runner.invoke(app, ["ask", "--as", "rm1", "谁对基金感兴趣？"], env=env_for(settings))
    assert asked.exit_code == 1
    assert asked.output.strip().splitlines() == [
        f"error: the note index is held by process {index_only_holder}, which answers no "
        "questions: ask this in WeCom or Telegram, or set CHROMA_URL to share the index"
    ]
    folder = settings.home / "chroma" / "requests"
    assert not list(folder.glob("*.request")) and not list(folder.glob("*.answer"))


def test_scheduler_keeps_the_index_current_unless_serve_holds_it(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env_for(settings).items():
        monkeypatch.setenv(name, value)
    with OwnedUpkeep(store) as owned:
        assert owned.upkeep is not None
        record_notes(store)  # an import elsewhere: SQL and the outbox only
        index = owned.upkeep.index
        wait_for(lambda: index.count() == len(NOTES), "the scheduler applied the queue")


def test_scheduler_leaves_the_index_to_serve(
    store: Store, settings: Settings, holder: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env_for(settings).items():
        monkeypatch.setenv(name, value)
    with OwnedUpkeep(store) as owned:
        assert owned.upkeep is None


def test_seed_demo_again_keeps_the_bank_and_only_finishes_the_index(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.cli

    record_notes(store)  # a bank whose notes were never indexed (a first run stopped early)
    monkeypatch.setattr(bot.cli, "DEMO_USER", "rm1")  # the test bank's demo user
    result = runner.invoke(app, ["seed-demo"], env=env_for(settings))
    assert result.exit_code == 0, result.output
    assert "the demo bank is already here" in result.stdout
    assert f"built the note index: {len(NOTES)} notes" in result.stdout
    assert not (settings.home / "demo").exists()  # nothing seeded again
    again = runner.invoke(app, ["seed-demo"], env=env_for(settings))
    assert "the note index is up to date" in again.stdout, again.output


def test_a_question_on_a_home_with_notes_but_no_index_builds_it(
    store: Store, settings: Settings
) -> None:
    record_notes(store)  # notes in SQL, no index folder
    asked = runner.invoke(app, ["ask", "--as", "rm1", "谁对基金感兴趣？"], env=env_for(settings))
    assert asked.exit_code == 0, asked.output
    assert f"built the note index: {len(NOTES)} notes" in asked.output
    assert "张伟" in asked.stdout  # c1's fund note answers it
    looked_up = runner.invoke(app, ["ask", "--as", "rm1", "查一下张伟"], env=env_for(settings))
    assert looked_up.exit_code == 0 and "built" not in looked_up.output


# What `bankbot serve` does at start-up for questions: open the retriever, waiting when busy.
SERVE_OPENS = """
from bot.serve import open_retriever
from crm_store.settings import Settings
from crm_store.store import open_store
store = open_store(Settings(_env_file=None))
retriever = open_retriever(store)
print("questions on" if retriever is not None else "questions off", flush=True)
if retriever is not None:
    retriever.close()
store.close()
"""


def test_a_scheduler_started_first_gives_the_index_to_serve_and_takes_it_back(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_for(settings)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("bot.index_upkeep.RETAKE_EVERY_SECONDS", 0.5)
    with OwnedUpkeep(store, every=0.2) as owned:
        assert owned.upkeep is not None  # the scheduler holds the embedded index
        serve = subprocess.run(
            [sys.executable, "-c", SERVE_OPENS],
            env={**os.environ, **env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert serve.stdout.strip() == "questions on", serve.stderr[-2000:]
        assert "asked for it" in serve.stderr
        # serve has exited: the scheduler keeps the index current again
        wait_for(lambda: owned.upkeep is not None, "the scheduler took the index back")
        record_notes(store)
        upkeep = owned.upkeep
        assert upkeep is not None
        wait_for(lambda: upkeep.index.count() == len(NOTES), "the scheduler applied the queue")
