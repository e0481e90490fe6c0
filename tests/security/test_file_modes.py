"""The data folder is private whatever the umask: home 0700, files 0600, no plain demo CSVs."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.channels import ConsoleDeliveryChannel
from bot.cli import app
from handlers.contracts import Reply
from handlers.guard import fixed_reply

runner = CliRunner()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most careless umask there is: everything would be world-writable."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"BANKBOT_HOME": str(tmp_path / "home"), "DATABASE_URL": "", "BANKBOT_DATA_KEY": ""}


def test_init_and_use_leave_only_private_files(
    open_umask: None, env: dict[str, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    assert mode(home) == 0o700
    assert mode(home / "bankbot.db") == 0o600 and mode(home / "data.key") == 0o600
    from sqlalchemy import select

    from crm_store.models import AuditLog
    from crm_store.settings import Settings
    from crm_store.store import open_store

    store = open_store(Settings(_env_file=None, **env))  # type: ignore[call-arg]
    try:
        with store.db.write() as s:  # a write with the connection held open: WAL files exist
            s.execute(select(AuditLog.id)).all()
            for name in ("bankbot.db", "bankbot.db-wal", "bankbot.db-shm"):
                assert mode(home / name) == 0o600, name
    finally:
        store.close()


def test_init_tightens_what_an_older_version_left_readable(
    env: dict[str, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    os.chmod(home, 0o755)
    os.chmod(home / "bankbot.db", 0o644)
    (home / "deliveries.jsonl").write_text("{}\n")
    os.chmod(home / "deliveries.jsonl", 0o644)
    (home / "chroma" / "x").mkdir(parents=True)
    (home / "chroma" / "x" / "data.bin").write_bytes(b"notes")
    os.chmod(home / "chroma", 0o755)
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    assert mode(home) == 0o700 and mode(home / "bankbot.db") == 0o600
    assert mode(home / "deliveries.jsonl") == 0o600
    assert mode(home / "chroma") == 0o700 and mode(home / "chroma" / "x") == 0o700
    assert mode(home / "chroma" / "x" / "data.bin") == 0o600


def test_the_delivery_log_is_private(open_umask: None, tmp_path: Path) -> None:
    log = tmp_path / "deliveries.jsonl"
    channel = ConsoleDeliveryChannel(log)
    asyncio.run(channel.send("S001", fixed_reply(Reply("早上好"))))
    assert mode(log) == 0o600


def test_the_embedded_index_folder_is_private(
    open_umask: None, env: dict[str, str], tmp_path: Path
) -> None:
    from langchain_core.embeddings import FakeEmbeddings

    from crm_store.settings import Settings
    from retrieval.connect import open_index

    settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
    index = open_index(settings, embeddings=FakeEmbeddings(size=8))
    index.close()
    assert mode(tmp_path / "home" / "chroma") == 0o700


def test_seed_demo_leaves_no_plain_csv_behind(
    open_umask: None, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.cli_index

    monkeypatch.setattr(bot.cli_index, "update_index", lambda store: "index skipped")
    home = tmp_path / "home"
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    (home / "demo").mkdir()
    (home / "demo" / "customers.csv").write_text("left by an older version\n")
    seeded = runner.invoke(app, ["seed-demo", "--today", "2026-11-28"], env=env)
    assert seeded.exit_code == 0, seeded.output
    assert "imported" in seeded.stdout
    left = [p for p in home.rglob("*") if p.suffix in (".csv", ".xlsx")]
    assert left == []
    assert not any(p.name.startswith(".demo-") for p in home.iterdir())
