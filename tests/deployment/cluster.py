"""A deployment on loopback: `bankbot serve` and `bankbot scheduler` as real processes against
PostgreSQL, a Chroma server, Redis and the fake WeCom and Telegram APIs.

Used by tests/deployment/test_two_processes.py and bench/bench_scaleout.py. Every process runs
`python -m bot.cli` from this checkout (PYTHONPATH), in a temp working folder so that no `.env`
is read, and every setting it needs is passed in its environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bot.telegram_bot import SECRET_HEADER, WEBHOOK_PATH
from bot.wecom import CALLBACK_PATH
from tests.chroma_server import free_port
from tests.telegram.fake_telegram import TOKEN as TELEGRAM_TOKEN
from tests.telegram.fake_telegram import payload as telegram_payload
from tests.wecom.fakes import AES_KEY, CORP_ID, SECRET, TOKEN, envelope, text_xml

ROOT = Path(__file__).resolve().parents[2]
TELEGRAM_SECRET = "deploy-secret_0123456789abcdef"
# A Redis database of its own (tests/wecom uses 15); the token key also carries a per-run agent
# id, so two runs on one machine never share a token.
REDIS_URL = "redis://127.0.0.1:6379/13"


def bankbot_command(*args: str) -> list[str]:
    """`bankbot <args>` run from this checkout with this interpreter."""
    return [sys.executable, "-m", "bot.cli", *args]


def deployment_env(
    *,
    home: Path,
    database_url: str,
    data_key: str,
    chroma_url: str,
    wecom_url: str,
    telegram_url: str,
    agent_id: int,
    **extra: str,
) -> dict[str, str]:
    """The environment of every bankbot process of the deployment (nothing from `.env`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "TELEGRAM_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "BANKBOT_CLI_SERVER": "off",
        "BANKBOT_HOME": str(home),
        "DATABASE_URL": database_url,
        "BANKBOT_DATA_KEY": data_key,
        "CHROMA_URL": chroma_url,
        "EMBEDDINGS_BASE_URL": "",
        "EMBEDDINGS_MODEL": "",
        "REDIS_URL": REDIS_URL,
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": str(agent_id),
        "WECOM_SECRET": SECRET,
        "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE_URL": wecom_url,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": telegram_url,
        "LLM_BASE_URL": "",
        "TRANSCRIBE_BASE_URL": "",
        "REMINDER_CHANNEL": "",
        "RETENTION_ENABLED": "false",
        "TEAM_REPORT_WEEKLY": "false",
    }
    return env | extra


@dataclass
class Process:
    """One started bankbot process and where its output goes."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Base URL of a serve process."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Process:
        """Start (or start again) with the same arguments, appending to its log."""
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.args, env=self.env, cwd=self.log.parent, stdout=out, stderr=out
            )
        return self

    def alive(self) -> bool:
        """Whether it is running."""
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no drain, connections dropped."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it is still there after 20 s."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, chars: int = 3000) -> str:
        """The end of its output, for failure messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ---\n{text[-chars:]}"

    def cpu_seconds(self) -> float:
        """User + system CPU time so far, from /proc (Linux)."""
        assert self.popen is not None
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def serve_process(folder: Path, env: Mapping[str, str], name: str) -> Process:
    """`bankbot serve` on a free loopback port (not started)."""
    port = free_port()
    args = bankbot_command("serve", "--host", "127.0.0.1", "--port", str(port))
    return Process(name, args, dict(env), folder / f"{name}.log", port)


def scheduler_process(folder: Path, env: Mapping[str, str]) -> Process:
    """`bankbot scheduler` (not started)."""
    return Process("scheduler", bankbot_command("scheduler"), dict(env), folder / "scheduler.log")


def wait_healthy(process: Process, timeout: float = 90.0) -> None:
    """Until /healthz answers 200 (database, index and both platforms ready)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not process.alive():
            raise AssertionError(f"{process.name} exited\n{process.tail()}")
        try:
            reply = httpx.get(process.url + "/healthz", timeout=2)
            if reply.status_code == 200:
                return
            last = reply.text
        except httpx.TransportError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise AssertionError(f"{process.name} not healthy in {timeout:g} s: {last}\n{process.tail()}")


@contextmanager
def stopped_at_exit(processes: list[Process]) -> Iterator[list[Process]]:
    """Stop every process of the list when the block ends, whatever happened."""
    try:
        yield processes
    finally:
        for process in reversed(processes):
            process.stop()


# --- what the platforms send -----------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One platform message: a WeCom text callback or a Telegram text update."""

    channel: str  # "wecom" | "telegram"
    sender: str  # WeCom UserID or Telegram user id
    text: str
    msg_id: int  # WeCom MsgId or Telegram update_id

    def post(self, base_url: str, client: httpx.Client) -> int:
        """Deliver it as the platform does; the HTTP status (0: no connection)."""
        try:
            if self.channel == "wecom":
                xml = text_xml(self.sender, self.text, str(self.msg_id), int(time.time()))
                params, body = envelope(xml)
                return client.post(
                    base_url + CALLBACK_PATH, params=params, content=body
                ).status_code
            headers = {SECRET_HEADER: TELEGRAM_SECRET}
            update = telegram_update(int(self.sender), self.text, self.msg_id)
            return client.post(base_url + WEBHOOK_PATH, json=update, headers=headers).status_code
        except httpx.TransportError:
            return 0


def telegram_update(user: int, text: str, update_id: int) -> dict[str, Any]:
    """The recorded private text update, from another user with another text and id."""
    update = telegram_payload("private-text")
    update["update_id"] = update_id
    message = update["message"]
    message["message_id"] = update_id % 1_000_000
    message["from"]["id"] = user
    message["chat"]["id"] = user
    message["text"] = text
    message["date"] = int(datetime.now(UTC).timestamp())
    return update
