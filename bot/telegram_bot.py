"""Telegram: webhook (or long polling) in, inbox, and replies through `TelegramChannel`.

PTB runs inside our ASGI app (`updater(None)`), as in its `customwebhookbot/starlettebot.py`
example, with one difference: the route does not feed `application.update_queue` but writes
the message to the inbox and only then answers 200, so an accepted update survives a crash and
a redelivery is a duplicate key. The secret header is compared in constant time first.
Which updates are taken (and why edits are not) is in `bot/telegram_updates.py`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, tzinfo
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import LinkPreviewOptions, Update
from telegram.ext import AIORateLimiter, Application, Defaults, ExtBot

from bot import metrics
from bot.inbox import Inbox
from bot.telegram_channel import CHANNEL, TelegramChannel
from bot.telegram_screen import GroupOffers, audit_unanswered, chatter, screen_update
from bot.telegram_updates import incoming_from_update
from bot.telegram_voice import TelegramVoiceSource
from crm_store.store import Store

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"
# Edits and channel posts are asked for only to be audited (bot/telegram_screen.py).
ALLOWED_UPDATES = (
    "message",
    "callback_query",
    "edited_message",
    "channel_post",
    "edited_channel_post",
)
RATE_LIMIT_RETRIES = 3
POLL_TIMEOUT = 25
# A real update is a few KB (a message is at most 4,096 characters); anything far larger is
# refused before it is parsed. Text over BANKBOT_MAX_MESSAGE_CHARS is cut away at the door.
MAX_UPDATE_BYTES = 1024 * 1024
MAX_BACKOFF = 30.0

AnyApplication = Application  # PTB generics left open: we use no contexts or handlers


class TelegramNotConfigured(RuntimeError):
    """TELEGRAM_BOT_TOKEN (and, for webhooks, TELEGRAM_WEBHOOK_SECRET) is missing."""


def build_application(token: str, base_url: str | None, tz: tzinfo) -> AnyApplication:
    """A PTB application without an updater: our web app or polling loop feeds it."""
    defaults = Defaults(tzinfo=tz, link_preview_options=LinkPreviewOptions(is_disabled=True))
    builder = (
        Application.builder()
        .token(token)
        .updater(None)
        .defaults(defaults)
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
    )
    if base_url:
        builder = builder.base_url(base_url.rstrip("/") + "/bot")  # PTB appends the token
    return builder.build()


class TelegramAdapter:
    """The Telegram `PlatformAdapter`: webhook route or polling loop, and the reply channel."""

    name = CHANNEL

    def __init__(
        self, application: AnyApplication, *, secret: str | None, lang: str, polling: bool = False
    ) -> None:
        self.application = application
        self.secret = secret
        self.polling = polling
        self.channel = TelegramChannel(application.bot, lang)
        self.voice_source: TelegramVoiceSource | None = None  # set by `from_settings`
        self._inbox: Inbox | None = None
        self._ready = False
        self._offset: int | None = None
        self._webhook_cleared = False
        self._offers = GroupOffers()
        self._poller: asyncio.Task[None] | None = None
        self._connector: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, store: Store, *, polling: bool = False) -> TelegramAdapter:
        """The adapter for this deployment; webhooks need a secret, polling does not."""
        settings = store.settings
        if settings.telegram_bot_token is None:
            raise TelegramNotConfigured("TELEGRAM_BOT_TOKEN is not set")
        secret = settings.telegram_webhook_secret
        if secret is None and not polling:
            raise TelegramNotConfigured("TELEGRAM_WEBHOOK_SECRET is required for the webhook")
        application = build_application(
            settings.telegram_bot_token.get_secret_value(),
            settings.telegram_api_base_url,
            settings.tz,
        )
        plain = secret.get_secret_value() if secret else None
        adapter = cls(application, secret=plain, lang=settings.bankbot_lang, polling=polling)
        adapter.voice_source = TelegramVoiceSource(
            settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base_url
        )
        return adapter

    @property
    def bot(self) -> ExtBot[None]:
        """The PTB bot (rate-limited, with our defaults)."""
        return self.application.bot

    def routes(self, inbox: Inbox) -> list[BaseRoute]:
        """The webhook route; in polling mode none (Telegram allows one or the other)."""
        self._inbox = inbox
        if self.polling:
            return []

        async def webhook(request: Request) -> Response:
            return await self.handle_webhook(request, inbox)

        return [Route(WEBHOOK_PATH, webhook, methods=["POST"])]

    async def start(self) -> None:
        """Fetch the bot's identity; offline is logged, not fatal. Polling starts here."""
        self.channel.home_loop = asyncio.get_running_loop()
        if self.polling and self._inbox is not None:
            self._poller = asyncio.create_task(self.run_polling_loop(self._inbox))
            return
        try:
            await self._connect()
        except Exception as exc:
            log.warning("Telegram is not reachable at start-up, retrying: %s", exc)
            self._connector = asyncio.create_task(self._connect_until_ready())

    async def _connect(self) -> None:
        await self.application.initialize()  # getMe: checks the token, learns the bot's name
        self._ready = True

    async def _connect_until_ready(self) -> None:
        backoff = 1.0
        while not self._ready:
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            try:
                await self._connect()
            except Exception as exc:
                log.warning("Telegram is still not reachable: %s", exc)

    async def stop(self) -> None:
        """Stop polling, finish callback answers, close connections."""
        for task in (self._poller, self._connector):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        await self.application.shutdown()
        await self.bot.shutdown()  # also when getMe failed and the application never started
        self.channel.home_loop = None
        self._ready = False

    def ready(self) -> bool:
        """Whether getMe succeeded (and, when polling, the loop is running)."""
        if self._poller is not None and self._poller.done():
            return False
        return self._ready

    def _secret_ok(self, given: str | None) -> bool:
        if not self.secret or given is None:
            return False
        return hmac.compare_digest(given.encode(), self.secret.encode())

    async def handle_webhook(self, request: Request, inbox: Inbox) -> Response:
        """Verify the secret, store the update in the inbox, then acknowledge."""
        started = time.perf_counter()
        if not self._secret_ok(request.headers.get(SECRET_HEADER)):
            metrics.CALLBACKS.labels(channel=CHANNEL, outcome="refused").inc()
            return Response(status_code=403)
        body = await _body_within(request, MAX_UPDATE_BYTES)
        if body is None:
            log.warning("Telegram update over %d bytes refused", MAX_UPDATE_BYTES)
            metrics.CALLBACKS.labels(channel=CHANNEL, outcome="invalid").inc()
            return Response(status_code=413)
        try:
            update = Update.de_json(json.loads(body), self.bot)
        except Exception:
            log.warning("unreadable Telegram update")
            metrics.CALLBACKS.labels(channel=CHANNEL, outcome="invalid").inc()
            return Response(status_code=400)
        try:
            outcome = await self.accept_update(update, inbox)
        except Exception:
            log.exception("Telegram update %s could not be stored", update.update_id)
            return Response(status_code=503)  # Telegram delivers it again later
        metrics.CALLBACKS.labels(channel=CHANNEL, outcome=outcome).inc()
        metrics.ACK_SECONDS.labels(channel=CHANNEL).observe(time.perf_counter() - started)
        return Response(status_code=200)

    async def accept_update(self, update: Update, inbox: Inbox) -> str:
        """Hand one update to the inbox: 'accepted', 'duplicate', 'ignored' or 'refused'."""
        seen = screen_update(update)
        if seen is not None:
            await asyncio.to_thread(audit_unanswered, inbox.store, seen)
            return seen.decision
        username = self.bot.username if self._ready else None
        message = incoming_from_update(update, username, datetime.now(UTC))
        if message is None:
            return "ignored"
        if not message.raw.get("addressed", True) and not self._offers.allow(message.chat_id):
            kind = update.effective_chat.type if update.effective_chat else "group"
            await asyncio.to_thread(audit_unanswered, inbox.store, chatter(message, kind))
            return "ignored"
        if not await inbox.intake(message):
            return "duplicate"
        if update.callback_query is not None:
            self._spawn(self._answer_callback(update.callback_query.id))
        return "accepted"

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_callback(self, query_id: str) -> None:
        # Stops the button's spinner; the answer itself arrives as a normal message.
        try:
            await self.bot.answer_callback_query(query_id)
        except Exception as exc:
            log.warning("answerCallbackQuery failed: %s", exc)

    async def poll_once(self, inbox: Inbox, timeout: int = 0) -> int:
        """Fetch one batch with getUpdates and store it; how many updates came."""
        updates = await self.bot.get_updates(
            offset=self._offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES
        )
        for update in updates:
            outcome = await self.accept_update(update, inbox)
            metrics.CALLBACKS.labels(channel=CHANNEL, outcome=outcome).inc()
            # Telegram forgets an update only once a later offset is asked for: advance it
            # after the inbox row is durable, so a crash here means a redelivery, not a loss.
            self._offset = update.update_id + 1
        return len(updates)

    async def run_polling_loop(self, inbox: Inbox) -> None:
        """Long-poll until cancelled (`bankbot serve --telegram-polling`, no public URL)."""
        backoff = 1.0
        while True:
            try:
                if not self._ready:
                    await self._connect()
                if not self._webhook_cleared:
                    await self.bot.delete_webhook()  # getUpdates is refused while one is set
                    self._webhook_cleared = True
                await self.poll_once(inbox, timeout=POLL_TIMEOUT)
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Telegram polling failed, retrying in %.0f s: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)


async def _body_within(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it is over `limit` bytes (declared or sent)."""
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)
