"""Fixtures: a fake Bot API on loopback, settings pointing at it, bankbot served by uvicorn."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.telegram_bot import SECRET_HEADER, WEBHOOK_PATH, TelegramAdapter
from bot.web import build_app
from crm_store.models import ChannelIdentity, InboxMessage
from crm_store.settings import Settings
from crm_store.store import Store
from tests.conftest import make_settings
from tests.telegram.fake_telegram import TOKEN, FakeTelegram, serving
from tests.world import NOW, build_world

SECRET = "wh-secret_0123456789abcdef"
USER = 1001  # the Telegram user id in the recorded payloads, bound to rm1


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """The fake Bot API server, started."""
    fake = FakeTelegram()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, fake_telegram: FakeTelegram) -> Settings:
    """Test settings with Telegram pointed at the fake server."""
    return make_settings(
        tmp_path,
        db_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_BASE_URL=fake_telegram.url,
    )


@pytest.fixture
def world(store: Store) -> Store:
    """The test bank, with Telegram user 1001 bound to rm1 (李娜)."""
    build_world(store)
    with store.db.write() as session:
        session.add(
            ChannelIdentity(channel="telegram", external_id=str(USER), staff_id="rm1", bound_at=NOW)
        )
    return store


def inbox_rows(store: Store) -> int:
    """How many messages the inbox holds."""
    with store.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(InboxMessage)) or 0)


def wait_processed(store: Store, count: int, timeout: float = 30.0) -> None:
    """Wait until `count` inbox rows are finished (done or failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.db.read() as session:
            finished = session.scalar(
                select(func.count())
                .select_from(InboxMessage)
                .where(InboxMessage.status.in_(["done", "failed"]))
            )
        if (finished or 0) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} inbox messages were processed")


@dataclass
class Served:
    """bankbot running under uvicorn, with its store and the fake Telegram it talks to."""

    url: str
    store: Store
    fake: FakeTelegram
    adapter: TelegramAdapter

    def post(self, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        """Deliver one webhook update the way Telegram does."""
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return httpx.post(self.url + WEBHOOK_PATH, json=update, headers=headers, timeout=10)

    def texts_to(self, chat_id: int) -> list[str]:
        """Texts of every sendMessage to one chat, in order."""
        calls = self.fake.calls("sendMessage")
        return [c.params["text"] for c in calls if int(c.params["chat_id"]) == chat_id]


@pytest.fixture
def served(world: Store, fake_telegram: FakeTelegram) -> Iterator[Served]:
    """The real web app, inbox and dispatcher on the test store, served on loopback."""
    adapter = TelegramAdapter.from_settings(world)
    inbox = Inbox(world, Dispatcher(world, clock=lambda: NOW), {adapter.name: adapter.channel})
    app = build_app(world, inbox, [adapter])
    with serving(app) as url:
        yield Served(url, world, fake_telegram, adapter)
