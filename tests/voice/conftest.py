"""Fixtures for voice messages: the transcription stub, and WeCom and Telegram served with
voice notes wired in as `bankbot serve` wires them, against their loopback fakes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot import metrics
from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.serve import voice_notes
from bot.telegram_bot import SECRET_HEADER, WEBHOOK_PATH, TelegramAdapter
from bot.web import PlatformAdapter, build_app
from bot.wecom import WeComAdapter
from crm_store.models import AuditLog, ChannelIdentity, InboxMessage
from crm_store.store import Store
from tests.conftest import make_settings
from tests.telegram.fake_telegram import TOKEN as TG_TOKEN
from tests.telegram.fake_telegram import FakeTelegram, serving
from tests.voice.stub_asr import StubASR
from tests.wecom.fakes import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeCom, envelope
from tests.world import NOW, build_world

TG_SECRET = "wh-secret_0123456789abcdef"
TG_USER = 1001  # bound to rm1 (李娜)
WECOM_USER = "wangfang"  # bound to rm1 (李娜)


@pytest.fixture
def asr() -> Iterator[StubASR]:
    """The transcription stub, serving until the test ends."""
    stub = StubASR().start()
    yield stub
    stub.stop()


@pytest.fixture
def wecom_fake() -> Iterator[FakeWeCom]:
    """The fake WeCom API."""
    fake = FakeWeCom().start()
    yield fake
    fake.stop()


@pytest.fixture
def telegram_fake() -> Iterator[FakeTelegram]:
    """The fake Bot API."""
    fake = FakeTelegram()
    fake.start()
    yield fake
    fake.stop()


def assert_no_audio_under(home: Path, audio: bytes) -> None:
    """No piece of `audio`, and no WAV, in any file under `home` (database included)."""
    pieces = [audio[64:128], audio[-64:]]
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(piece in data for piece in pieces), path
            assert b"WAVEfmt " not in data, path


def voice_outcome(channel: str, outcome: str) -> float:
    """How many voice messages this process counted with `outcome` on `channel`."""
    labels = {"channel": channel, "outcome": outcome}
    return metrics.REGISTRY.get_sample_value("bankbot_voice_messages_total", labels) or 0.0


@dataclass
class Bank:
    """bankbot served on loopback, its store, and the fakes it talks to."""

    url: str
    store: Store
    asr: StubASR

    def audit(self, intent: str | None = None) -> list[AuditLog]:
        """Audit rows, oldest first, optionally of one intent."""
        with self.store.db.read() as session:
            query = select(AuditLog).order_by(AuditLog.id)
            if intent:
                query = query.where(AuditLog.intent == intent)
            rows = list(session.scalars(query))
            session.expunge_all()
            return rows

    def unfinished(self) -> int:
        """Inbox rows not answered yet."""
        with self.store.db.read() as session:
            query = select(func.count()).where(InboxMessage.status.in_(("pending", "processing")))
            return int(session.scalar(query) or 0)


@dataclass
class WeComBank(Bank):
    """WeCom variant: callbacks in, replies to the fake's message/send."""

    fake: FakeWeCom

    def post(self, inner_xml: str) -> httpx.Response:
        """One callback, encrypted and signed like WeCom's."""
        params, body = envelope(inner_xml)
        return httpx.post(f"{self.url}/wecom/callback", params=params, content=body)

    def replies(self) -> list[str]:
        """Texts sent to the bound user, in order."""
        return [b["text"]["content"] for b in self.fake.sent(WECOM_USER)]


@dataclass
class TelegramBank(Bank):
    """Telegram variant: webhook updates in, replies to the fake's sendMessage."""

    fake: FakeTelegram

    def post(self, update: dict[str, Any]) -> httpx.Response:
        """Deliver one webhook update the way Telegram does."""
        headers = {SECRET_HEADER: TG_SECRET}
        return httpx.post(self.url + WEBHOOK_PATH, json=update, headers=headers, timeout=10)

    def replies(self, chat_id: int = TG_USER) -> list[str]:
        """Texts sent to one chat, in order."""
        calls = self.fake.calls("sendMessage")
        return [c.params["text"] for c in calls if int(c.params["chat_id"]) == chat_id]


def _bind(store: Store, channel: str, external_id: str) -> None:
    with store.db.write() as session:
        session.add(
            ChannelIdentity(channel=channel, external_id=external_id, staff_id="rm1", bound_at=NOW)
        )


def _serve(bank: Store, adapter: PlatformAdapter) -> Any:
    """The web app as `bankbot serve` builds it: adapter, inbox, dispatcher with voice."""
    dispatcher = Dispatcher(bank, clock=lambda: NOW, voice=voice_notes([adapter]))
    inbox = Inbox(bank, dispatcher, {adapter.name: adapter.channel})
    return serving(build_app(bank, inbox, [adapter]))


def voice_env(asr: StubASR, offline: bool, **extra: str) -> dict[str, str]:
    """TRANSCRIBE_* pointing at the stub (nothing when offline)."""
    if offline:
        return {"TRANSCRIBE_BASE_URL": "", **extra}
    return {"TRANSCRIBE_BASE_URL": asr.url, "TRANSCRIBE_MODEL": "sensevoice-small", **extra}


@pytest.fixture
def wecom_bank(
    store: Store,
    wecom_fake: FakeWeCom,
    asr: StubASR,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[WeComBank]:
    """WeCom with voice notes; `@pytest.mark.voice_env(...)` adds settings (offline=True)."""
    marker = request.node.get_closest_marker("voice_env")
    options = dict(marker.kwargs) if marker else {}
    for name, value in voice_env(asr, bool(options.pop("offline", False)), **options).items():
        monkeypatch.setenv(name, value)
    build_world(store)
    _bind(store, "wecom", WECOM_USER)
    settings = make_settings(
        store.settings.home,
        store.settings.db_url,
        WECOM_CORP_ID=CORP_ID,
        WECOM_AGENT_ID=str(AGENT_ID),
        WECOM_SECRET=SECRET,
        WECOM_TOKEN=TOKEN,
        WECOM_AES_KEY=AES_KEY,
        WECOM_API_BASE_URL=wecom_fake.base_url,
    )
    bank = Store(settings, store.db, store.cipher)
    with _serve(bank, WeComAdapter.from_settings(bank)) as url:
        yield WeComBank(url, bank, asr, wecom_fake)


@pytest.fixture
def telegram_bank(
    store: Store,
    telegram_fake: FakeTelegram,
    asr: StubASR,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[TelegramBank]:
    """Telegram with voice notes; `@pytest.mark.voice_env(...)` adds settings."""
    marker = request.node.get_closest_marker("voice_env")
    options = dict(marker.kwargs) if marker else {}
    for name, value in voice_env(asr, bool(options.pop("offline", False)), **options).items():
        monkeypatch.setenv(name, value)
    build_world(store)
    _bind(store, "telegram", str(TG_USER))
    settings = make_settings(
        store.settings.home,
        store.settings.db_url,
        TELEGRAM_BOT_TOKEN=TG_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
        TELEGRAM_API_BASE_URL=telegram_fake.url,
    )
    bank = Store(settings, store.db, store.cipher)
    with _serve(bank, TelegramAdapter.from_settings(bank)) as url:
        yield TelegramBank(url, bank, asr, telegram_fake)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker that sets TRANSCRIBE_* and VOICE_* for one test."""
    config.addinivalue_line("markers", "voice_env(offline=False, **settings): voice settings")
