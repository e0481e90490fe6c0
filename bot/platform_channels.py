"""WeCom and Telegram channels for processes without the web app (`bankbot reminders`,
`bankbot scheduler`), built from the same settings `bankbot serve` uses.

Telegram's HTTP connections belong to the event loop that opened them, and the reminder timer
sends from a fresh loop on each run, so the bot lives on one loop in its own thread (as it
lives on the web app's loop under `serve`). WeCom's client is synchronous and needs none.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from crm_store.store import Store
from handlers.contracts import Channel
from handlers.guard import GuardedReply, require_guarded

if TYPE_CHECKING:
    from bot.telegram_bot import AnyApplication

T = TypeVar("T")


class PlatformLoop:
    """An event loop in a daemon thread that owns the platforms' connections."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="platform-loop", daemon=True
        )
        self._thread.start()

    async def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on this loop and wait for it from another loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run `work` on this loop and wait for it from plain code."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


class TelegramDelivery:
    """The Telegram `Channel` outside `serve`: the bot connects (getMe) on its first send."""

    def __init__(self, application: AnyApplication, lang: str, loop: PlatformLoop) -> None:
        from bot.telegram_channel import CHANNEL, TelegramChannel

        self.name = CHANNEL
        self.application = application
        self.loop = loop
        self.channel = TelegramChannel(application.bot, lang)
        self.channel.home_loop = loop.loop
        self._started = False

    async def send(self, recipient: str, reply: GuardedReply) -> None:
        """Connect once (an offline API fails this send, which is retried), then send."""
        reply = require_guarded(reply)
        if not self._started:
            await self.loop.call(self.application.initialize())
            self._started = True
        await self.channel.send(recipient, reply)

    def close(self) -> None:
        """Close the bot's connections on their own loop."""
        if self._started:
            self.loop.run(self.application.shutdown())
        self.loop.run(self.application.bot.shutdown())


@dataclass
class PlatformChannels:
    """The configured platforms' channels, and how to release their connections."""

    channels: dict[str, Channel] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Release every connection, newest first."""
        for close in reversed(self.closers):
            close()
        self.closers.clear()


def platform_channels(store: Store) -> PlatformChannels:
    """A channel for WeCom and for Telegram when their settings are present."""
    built = PlatformChannels()
    settings = store.settings
    try:
        if settings.wecom_configured:
            _add_wecom(store, built)
        if settings.telegram_configured:
            _add_telegram(store, built)
    except BaseException:
        built.close()
        raise
    return built


def _add_wecom(store: Store, built: PlatformChannels) -> None:
    from bot.wecom import wecom_api
    from bot.wecom_client import WeComChannel

    api = wecom_api(store)
    channel = WeComChannel(api)
    built.channels[channel.name] = channel
    built.closers.append(api.close)
    close_store = getattr(api.tokens.store, "close", None)
    if callable(close_store):
        built.closers.append(close_store)


def _add_telegram(store: Store, built: PlatformChannels) -> None:
    from bot.telegram_bot import build_application

    settings = store.settings
    assert settings.telegram_bot_token is not None  # telegram_configured
    loop = PlatformLoop()
    built.closers.append(loop.close)
    application = build_application(
        settings.telegram_bot_token.get_secret_value(),
        settings.telegram_api_base_url,
        settings.tz,
    )
    channel = TelegramDelivery(application, settings.bankbot_lang, loop)
    built.channels[channel.name] = channel
    built.closers.append(channel.close)
