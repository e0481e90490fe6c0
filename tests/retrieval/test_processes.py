"""Several processes: the embedded folder's lock, a real Chroma server, the CLI commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot import cli_index
from crm_store.settings import Settings
from crm_store.store import Store
from retrieval.config import IndexSettings, chroma_folder
from retrieval.connect import open_index
from retrieval.embeddings import E5Embeddings
from retrieval.errors import IndexUnavailable
from retrieval.lock import BUSY_MESSAGE, LOCK_NAME
from tests.chroma_server import free_port
from tests.conftest import TEST_KEY
from tests.retrieval.conftest import NOTES, entry, local_config, record_notes

ROOT = Path(__file__).resolve().parents[2]

# Opens the embedded index of BANKBOT_HOME the way any bankbot process does.
OPENER = """
import sys
from crm_store.settings import Settings
from retrieval.config import IndexSettings
from retrieval.connect import open_index
from retrieval.errors import IndexBusy
settings = Settings(_env_file=None, BANKBOT_HOME=sys.argv[1])
try:
    index = open_index(settings, config=IndexSettings(_env_file=None, CHROMA_URL=""))
except IndexBusy as exc:
    print(f"busy: {exc}")
    sys.exit(3)
print(f"opened: {index.count()} entries")
index.close()
"""
# Only the lock (no Chroma import): a quicker second look.
LOCKER = """
import sys
from pathlib import Path
from retrieval.errors import IndexBusy
from retrieval.lock import acquire
try:
    acquire(Path(sys.argv[1]) / "chroma").release()
except IndexBusy as exc:
    print(f"busy: {exc}")
    sys.exit(3)
"""


def open_in_another_process(home: Path, script: str = OPENER) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", script, str(home)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_second_process_gets_index_busy(home_settings: Settings, e5: E5Embeddings) -> None:
    first = open_index(home_settings, config=local_config(), embeddings=e5)
    again = open_index(home_settings, config=local_config(), embeddings=e5)  # same process: fine
    try:
        first.upsert([entry("N1", "c1", "客户想了解基金")])
        other = open_in_another_process(home_settings.home)
        assert other.returncode == 3, other.stdout + other.stderr
        assert other.stdout.strip() == f"busy: {BUSY_MESSAGE}"
        assert "CHROMA_URL" in BUSY_MESSAGE
        assert (chroma_folder(home_settings) / LOCK_NAME).read_text().strip() == str(os.getpid())
        again.close()
        still = open_in_another_process(home_settings.home, LOCKER)  # `first` still holds it
        assert still.returncode == 3 and still.stdout.strip() == f"busy: {BUSY_MESSAGE}"
    finally:
        again.close()
        first.close()
    after = open_in_another_process(home_settings.home)
    assert after.returncode == 0 and after.stdout.strip() == "opened: 1 entries", after.stderr


def test_server_mode_through_http_client(
    chroma_server: str, home_settings: Settings, e5: E5Embeddings
) -> None:
    config = IndexSettings(_env_file=None, CHROMA_URL=chroma_server)  # type: ignore[call-arg]
    with open_index(home_settings, config=config, embeddings=e5) as index:
        index.upsert([entry(f"N{i}", c, text) for i, (c, _, text) in enumerate(NOTES)])
        assert index.count() == len(NOTES)
        assert index.search("养老保险", customer_ids=None, k=1)[0].note_id == "N4"
        exact = index.search("手机银行", customer_ids=["c1", "c8"], k=2)
        index.exact_max_customers = 0
        filtered = index.search("手机银行", customer_ids=["c1", "c8"], k=2)
        assert [h.note_id for h in exact] == [h.note_id for h in filtered]
        assert {h.note_id for h in exact} == {"N1", "N5"}  # c1's and c8's mobile-banking notes
        assert index.search("手机银行", customer_ids=[], k=2) == []
        # Another client (another process would be the same) may open it at the same time.
        with open_index(home_settings, config=config, embeddings=e5) as second:
            assert second.count() == len(NOTES)
            second.reset()  # a rebuild elsewhere drops the collection...
            second.upsert([entry("N9", "c1", "客户想了解基金")])
        assert index.search("基金", customer_ids=None, k=5)[0].note_id == "N9"  # ...we follow
    assert not (chroma_folder(home_settings) / LOCK_NAME).exists()  # no embedded lock taken


def test_unreachable_server_is_a_clear_error(home_settings: Settings, e5: E5Embeddings) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    config = IndexSettings(_env_file=None, CHROMA_URL=url)  # type: ignore[call-arg]
    with pytest.raises(IndexUnavailable, match="cannot be reached"):
        open_index(home_settings, config=config, embeddings=e5)


def _cli() -> typer.Typer:
    """The two lines bot/cli.py gets, on a bare app."""
    app = typer.Typer()
    app.command("reindex")(cli_index.reindex_command)
    app.add_typer(cli_index.app, name="index")
    return app


def test_cli_reindex_and_check(store: Store, settings: Settings) -> None:
    record_notes(store)
    env = {
        "BANKBOT_HOME": str(settings.bankbot_home),
        "DATABASE_URL": settings.database_url or "",
        "BANKBOT_DATA_KEY": TEST_KEY,
        "CHROMA_URL": "",
        "EMBEDDINGS_BASE_URL": "",
        "EMBEDDINGS_MODEL": "",
    }
    runner, app = CliRunner(), _cli()
    built = runner.invoke(app, ["reindex", "--quiet"], env=env)
    assert built.exit_code == 0, built.output
    assert f"indexed {len(NOTES)} notes" in built.stdout
    clean = runner.invoke(app, ["index", "check"], env=env)
    assert clean.exit_code == 0 and "index matches SQL (7 notes)" in clean.stdout, clean.output
    with open_index(settings, config=local_config()) as index:
        index.delete([next(iter(index.all_ids()))])
    drift = runner.invoke(app, ["index", "check"], env=env)
    assert drift.exit_code == 1 and "missing: 1" in drift.stdout
    fixed = runner.invoke(app, ["index", "check", "--repair"], env=env)
    assert fixed.exit_code == 0 and "repaired 1 notes" in fixed.stdout
    assert runner.invoke(app, ["index", "check"], env=env).exit_code == 0
    synced = runner.invoke(app, ["index", "sync"], env=env)
    assert synced.exit_code == 0 and "applied 0 outbox rows" in synced.stdout
