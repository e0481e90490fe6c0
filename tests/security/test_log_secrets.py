"""No secret in any log line: `bankbot serve` runs against the fakes, its whole output is read."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.logs import scrub
from bot.telegram_bot import SECRET_HEADER, WEBHOOK_PATH
from crm_store.models import ChannelIdentity
from crm_store.settings import Settings
from crm_store.store import init_store
from tests.retrieval_llm.stub_llm import StubLLM
from tests.telegram.fake_telegram import TOKEN as BOT_TOKEN
from tests.telegram.fake_telegram import FakeTelegram
from tests.telegram.fake_telegram import payload as telegram_payload
from tests.wecom.fakes import AES_KEY, AGENT_ID, CORP_ID, FakeWeCom, envelope, text_xml
from tests.wecom.fakes import SECRET as WECOM_SECRET
from tests.wecom.fakes import TOKEN as WECOM_TOKEN
from tests.world import NOW, build_world

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "wh-secret_for-the-log-test"
LLM_KEY = "sk-log-test-0123456789abcdef"


def test_scrub_hides_registered_secrets_and_token_shapes() -> None:
    from bot.logs import register_secrets

    register_secrets(["a-registered-secret"])
    line = (
        f"POST http://h/bot{BOT_TOKEN}/getMe; gettoken?corpid=ww1&corpsecret=abc&x=1 "
        "message/send?access_token=accesstoken000001 a-registered-secret"
    )
    shown = scrub(line)
    for secret in (BOT_TOKEN, "abc&", "accesstoken000001", "a-registered-secret"):
        assert secret not in shown, shown


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def fakes() -> Iterator[tuple[FakeWeCom, FakeTelegram, StubLLM]]:
    wecom, telegram, llm = FakeWeCom().start(), FakeTelegram(), StubLLM().start()
    telegram.start()
    yield wecom, telegram, llm
    llm.stop()
    telegram.stop()
    wecom.stop()


def _environment(home: Path, fakes: tuple[FakeWeCom, FakeTelegram, StubLLM]) -> dict[str, str]:
    wecom, telegram, llm = fakes
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BANKBOT_", "WECOM_"))},
        "BANKBOT_HOME": str(home),
        "DATABASE_URL": "",
        "BANKBOT_DATA_KEY": "",  # the embedded default: the generated key file
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": str(AGENT_ID),
        "WECOM_SECRET": WECOM_SECRET,
        "WECOM_TOKEN": WECOM_TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE_URL": wecom.base_url,
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TELEGRAM_API_BASE_URL": telegram.url,
        "LLM_BASE_URL": llm.url,
        "LLM_MODEL": "stub-model",
        "LLM_API_KEY": LLM_KEY,
        "REDIS_URL": "",
    }


def _seed(home: Path) -> str:
    """The test bank, WeCom user wx_rm1 and Telegram user 1001 bound to rm1; the key text."""
    settings = Settings(_env_file=None, BANKBOT_HOME=str(home))  # type: ignore[call-arg]
    store, _ = init_store(settings)
    build_world(store)
    with store.db.write() as s:
        s.add(ChannelIdentity(channel="wecom", external_id="wx_rm1", staff_id="rm1", bound_at=NOW))
        s.add(ChannelIdentity(channel="telegram", external_id="1001", staff_id="rm1", bound_at=NOW))
    store.close()
    return (home / "data.key").read_text().strip()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail("bankbot serve did not answer /healthz in 180 s")


def _wait(check: object, what: str) -> None:
    deadline = time.monotonic() + 60
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.1)


def test_serve_logs_no_secret(
    tmp_path: Path, fakes: tuple[FakeWeCom, FakeTelegram, StubLLM]
) -> None:
    wecom, telegram, _ = fakes
    home = tmp_path / "home"
    data_key = _seed(home)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    args = [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=_environment(home, fakes), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_healthy(url, proc, log)
        params, body = envelope(
            text_xml("wx_rm1", "查一下张伟", "7300000000000001", int(time.time()))
        )
        assert httpx.post(f"{url}/wecom/callback", params=params, content=body).status_code == 200
        _wait(lambda: wecom.sent(), "a WeCom message/send")
        update = telegram_payload("private-text")
        headers = {SECRET_HEADER: WEBHOOK_SECRET}
        assert httpx.post(url + WEBHOOK_PATH, json=update, headers=headers).status_code == 200
        _wait(lambda: telegram.calls("sendMessage"), "a Telegram sendMessage")
        wrong = {SECRET_HEADER: "not-the-secret"}
        assert httpx.post(url + WEBHOOK_PATH, json=update, headers=wrong).status_code == 403
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    assert '"logger": "httpx"' not in text  # request lines carry the token in the URL
    assert "message/send" not in text or "access_token=***" in text
    issued = [f"accesstoken{n:06d}" for n in range(1, 10)]
    secrets = [BOT_TOKEN, WEBHOOK_SECRET, WECOM_SECRET, WECOM_TOKEN, AES_KEY, LLM_KEY, data_key]
    for secret in [*secrets, data_key.rstrip("="), *issued]:
        assert secret not in text, f"{secret[:6]}… found in the serve log"
    assert text.strip(), "serve wrote no log at all"
