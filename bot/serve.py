"""`bankbot serve`: wire the configured platforms, the inbox and the reminder timer into one
ASGI app, and run it under uvicorn."""

from __future__ import annotations

import logging

import uvicorn
from starlette.applications import Starlette

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.web import PlatformAdapter, build_app
from bot.wiring import build_formatter, build_router, delivery_channels
from crm_store.store import Store
from handlers.contracts import Channel
from scheduler.timer import ReminderTimer

log = logging.getLogger(__name__)


def platform_adapters(store: Store, *, telegram_polling: bool = False) -> list[PlatformAdapter]:
    """An adapter for each platform whose settings are present."""
    adapters: list[PlatformAdapter] = []
    settings = store.settings
    if settings.wecom_configured:
        from bot.wecom import WeComAdapter

        adapters.append(WeComAdapter.from_settings(store))
    if settings.telegram_configured:
        from bot.telegram_bot import TelegramAdapter

        adapters.append(TelegramAdapter.from_settings(store, polling=telegram_polling))
    return adapters


def build_server(
    store: Store, *, telegram_polling: bool = False, with_timer: bool = True
) -> Starlette:
    """The whole service: platforms, inbox, dispatcher and (by default) the reminder timer."""
    adapters = platform_adapters(store, telegram_polling=telegram_polling)
    channels: dict[str, Channel] = {**delivery_channels(store)}
    channels.update({a.name: a.channel for a in adapters})
    inbox = Inbox(store, Dispatcher(store), channels)
    timer = None
    if with_timer:
        timer = ReminderTimer(store, build_router(store, channels), build_formatter(store))
    if not adapters:
        log.warning("no WeCom or Telegram settings: serving health and metrics only")
    return build_app(store, inbox, adapters, timer)


def serve(store: Store, *, host: str, port: int, telegram_polling: bool = False) -> None:
    """Run the service until interrupted."""
    app = build_server(store, telegram_polling=telegram_polling)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)
