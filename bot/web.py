"""`bankbot serve`: one ASGI app for WeCom callbacks, Telegram webhooks, health and metrics.

Platform adapters plug in through `PlatformAdapter`: they verify and parse their payloads, hand
an `IncomingMessage` to the inbox (durable before the acknowledgement), and implement
`Channel` for replies and reminder digests. No business logic lives here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot import metrics
from bot.inbox import Inbox
from crm_store.store import Store
from handlers.contracts import Channel
from scheduler.status import undeliverable_on
from scheduler.timer import ReminderTimer

log = logging.getLogger(__name__)


class PlatformAdapter(Protocol):
    """A messaging platform: its HTTP routes, its outgoing channel, its readiness."""

    name: str

    @property
    def channel(self) -> Channel:
        """How replies and digests reach this platform's users."""
        ...

    def routes(self, inbox: Inbox) -> list[BaseRoute]:
        """The routes that receive this platform's traffic and feed the inbox."""
        ...

    async def start(self) -> None:
        """Connect (e.g. fetch a token); must not fail the whole app when offline."""
        ...

    async def stop(self) -> None:
        """Release connections."""
        ...

    def ready(self) -> bool:
        """Whether the platform can be reached right now."""
        ...


def _database_ok(store: Store) -> bool:
    try:
        with store.db.read() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:
        log.warning("health check: database unreachable")
        return False


DRAIN_EVERY_SECONDS = 60.0


async def _drain_forever(inbox: Inbox) -> None:
    """Retry replies that could not be sent (rate limits, timeouts) once a minute."""
    while True:
        await asyncio.sleep(DRAIN_EVERY_SECONDS)
        try:
            await inbox.drain()
        except Exception:
            log.exception("inbox drain failed; trying again in a minute")


def _undeliverable_today(store: Store) -> int | None:
    """Today's digests that no channel reaches (None when the database cannot say)."""
    try:
        with store.db.read() as session:
            return undeliverable_on(session, datetime.now(store.settings.tz).date())
    except Exception:
        return None


def _index_state(count: Callable[[], int] | None) -> str:
    if count is None:
        return "not configured"
    try:
        return f"ready ({count()} notes)"
    except Exception:
        log.warning("health check: retrieval index unreachable")
        return "unreachable"


def build_app(
    store: Store,
    inbox: Inbox,
    adapters: Sequence[PlatformAdapter],
    timer: ReminderTimer | None = None,
    index_count: Callable[[], int] | None = None,
    cache_state: Callable[[], str] | None = None,
    answers_alive: Callable[[], int] | None = None,
) -> Starlette:
    """The web app; its lifespan starts adapters, drains the inbox and starts the timer."""

    async def healthz(_: Request) -> JSONResponse:
        database = await asyncio.to_thread(_database_ok, store)
        index = await asyncio.to_thread(_index_state, index_count)
        undeliverable = await asyncio.to_thread(_undeliverable_today, store)
        channels = {a.name: a.ready() for a in adapters}
        body = {
            "database": database,
            "index": index,
            # Until "ready", scoped searches go to Chroma: slower, never wrong.
            "vector_cache": cache_state() if cache_state is not None else "off",
            "channels": channels,
            "timer": timer is not None,
            # Staff with a digest today but no channel: bound today, it still goes out.
            "digests_undeliverable": undeliverable,
        }
        healthy = database and all(channels.values()) and index != "unreachable"
        if answers_alive is not None:  # ANSWER_PROCESSES: acknowledged messages need one
            alive = answers_alive()
            body["answer_processes"] = alive
            if index_count is None:  # not "not configured": the answer processes hold it
                body["index"] = body["vector_cache"] = "in the answer processes"
            healthy = healthy and alive > 0
        return JSONResponse(body, status_code=200 if healthy else 503)

    metrics.watch(store)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        for adapter in adapters:
            await adapter.start()
        moved = await inbox.recover_journal()
        if moved:
            log.info("acknowledged messages moved from the intake journal: %s", moved)
        if inbox.answer_here:  # else the answer processes take what is left and retry
            drained = await inbox.drain()
            if drained:
                log.info("processed %s messages left from before the restart", drained)
        if timer is not None:
            timer.start()
        retry = asyncio.create_task(_drain_forever(inbox)) if inbox.answer_here else None
        try:
            yield
        finally:
            if retry is not None:
                retry.cancel()
            if timer is not None:
                timer.stop()
            for adapter in adapters:
                await adapter.stop()
            await asyncio.to_thread(inbox.close)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    for adapter in adapters:
        routes.extend(adapter.routes(inbox))
    return Starlette(routes=routes, lifespan=lifespan)
