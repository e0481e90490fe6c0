"""Serve's counters folder (bot/shared_metrics.py): one per running serve, the folders of
serve processes gone removed at start-up, and nothing shared once prometheus_client was loaded
(its counters would stay in memory, and the folder would show the others' alone). The sum
itself is checked against real processes in tests/deployment/test_answer_processes.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bot.metrics  # noqa: F401  (loads prometheus_client, as an in-process app does)
from bot.shared_metrics import FOLDER_VARIABLE, counters_folder, share_with_answer_processes


def test_a_start_keeps_running_serves_folders_and_removes_the_rest(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    root = tmp_path / "metrics"
    for name in (f"serve-{os.getppid()}", f"serve-{gone}", "serve-notapid"):
        (root / name).mkdir(parents=True)
        (root / name / "counter_1.db").write_bytes(b"x")
    mine = root / f"serve-{os.getpid()}"
    mine.mkdir()
    (mine / "counter_1.db").write_bytes(b"old")  # a previous process of the same pid

    assert counters_folder(tmp_path) == mine
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [f"serve-{os.getppid()}", f"serve-{os.getpid()}"]
    )
    assert list(mine.iterdir()) == []
    assert (mine.stat().st_mode & 0o777) == 0o700


def test_nothing_is_shared_once_prometheus_client_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(FOLDER_VARIABLE, raising=False)
    assert "prometheus_client" in sys.modules
    assert share_with_answer_processes(tmp_path) is None
    assert FOLDER_VARIABLE not in os.environ and not (tmp_path / "metrics").exists()
