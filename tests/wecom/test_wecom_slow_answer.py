"""The acknowledgement stays fast while the LLM stub takes 10 s: 20 callbacks from 5 concurrent
clients each get their empty 200 within a second, with the inbox row already stored, while
every answer is still pending; then the stub is released and each message is answered once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.web import build_app
from bot.wecom import CALLBACK_PATH, WeComAdapter
from crm_store.models import ChannelIdentity, InboxMessage
from crm_store.store import Store
from handlers.contracts import IncomingMessage, Reply
from tests.wecom.fakes import FakeWeCom, envelope, serve, text_xml, wait_until
from tests.wecom.test_wecom_callback import wecom_store
from tests.world import build_world

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ANSWER_SECONDS = 10.0
CALLBACKS = 20
CLIENTS = 5
ACK_LIMIT_SECONDS = 1.0  # generous for a loaded CI machine; WeCom itself waits 5 s
# The server loop's default executor as on a 2-core machine (min(32, cores + 4)): on a big CI
# machine 20 pending answers would not fill the default 32 threads and hide a shared pool.
DEFAULT_EXECUTOR_THREADS = 6


class SlowDispatcher(Dispatcher):
    """The real dispatcher behind a 10 s wait (the slow LLM), which the test can cut short."""

    def __init__(self, store: Store, release: threading.Event) -> None:
        super().__init__(store, clock=lambda: NOW)
        self.release = release
        self.started = 0
        self._lock = threading.Lock()

    async def handle(self, message: IncomingMessage) -> Reply:
        """Wait for the 'LLM' (10 s, or until released), then answer for real."""
        with self._lock:
            self.started += 1
        deadline = time.monotonic() + ANSWER_SECONDS
        while not self.release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return await super().handle(message)


def small_default_executor(app: ASGIApp) -> ASGIApp:
    """`app`, with the serving loop's default executor set to a small machine's size."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            executor = ThreadPoolExecutor(DEFAULT_EXECUTOR_THREADS)
            asyncio.get_running_loop().set_default_executor(executor)
        await app(scope, receive, send)

    return wrapper


@dataclass
class Slow:
    """The running app with its slow dispatcher."""

    url: str
    store: Store
    fake: FakeWeCom
    dispatcher: SlowDispatcher
    release: threading.Event

    def stored(self, msg_id: str) -> int:
        """Inbox rows of one WeCom message."""
        with self.store.db.read() as session:
            query = select(func.count()).where(
                InboxMessage.channel == "wecom", InboxMessage.msg_key == msg_id
            )
            return int(session.scalar(query) or 0)

    def statuses(self) -> dict[str, int]:
        """Inbox rows by status."""
        with self.store.db.read() as session:
            query = select(InboxMessage.status, func.count()).group_by(InboxMessage.status)
            return {str(status): int(n) for status, n in session.execute(query)}


@pytest.fixture
def slow(store: Store, fake: FakeWeCom) -> Iterator[Slow]:
    build_world(store)
    with store.db.write() as session:
        session.add(
            ChannelIdentity(channel="wecom", external_id="wangfang", staff_id="rm1", bound_at=NOW)
        )
    bank = wecom_store(store, fake)
    adapter = WeComAdapter.from_settings(bank)
    release = threading.Event()
    dispatcher = SlowDispatcher(bank, release)
    inbox = Inbox(bank, dispatcher, {"wecom": adapter.channel})
    app = small_default_executor(build_app(bank, inbox, [adapter]))
    try:
        with serve(app) as url:
            yield Slow(url, bank, fake, dispatcher, release)
            release.set()  # the server stops without waiting out the 10 s answers
    finally:
        release.set()


@dataclass(frozen=True)
class Ack:
    """One callback as its client saw it."""

    msg_id: str
    status: int
    body: bytes
    seconds: float
    rows_at_ack: int


async def acknowledge(slow: Slow, calls: list[tuple[str, dict[str, str], bytes]]) -> list[Ack]:
    """Post every callback from CLIENTS concurrent clients, one after another per client,
    looking up each message's inbox row as soon as its 200 is back."""

    async def one_client(share: list[tuple[str, dict[str, str], bytes]]) -> list[Ack]:
        acks = []
        async with httpx.AsyncClient(base_url=slow.url, timeout=30) as client:
            for msg_id, params, body in share:
                started = time.perf_counter()
                answer = await client.post(CALLBACK_PATH, params=params, content=body)
                seconds = time.perf_counter() - started
                rows = await asyncio.to_thread(slow.stored, msg_id)
                acks.append(Ack(msg_id, answer.status_code, answer.content, seconds, rows))
        return acks

    shares = [calls[k::CLIENTS] for k in range(CLIENTS)]
    results = await asyncio.gather(*(one_client(share) for share in shares))
    return [ack for acks in results for ack in acks]


def test_acks_stay_fast_while_every_answer_takes_ten_seconds(slow: Slow) -> None:
    stamp = int(time.time())
    calls = []
    for n in range(CALLBACKS):
        msg_id = str(7434873429347240000 + n)
        params, body = envelope(text_xml("wangfang", "查一下张伟", msg_id, stamp))
        calls.append((msg_id, params, body))

    started = time.monotonic()
    acks = asyncio.run(acknowledge(slow, calls))
    acked_in = time.monotonic() - started

    assert sorted(a.msg_id for a in acks) == sorted(c[0] for c in calls)
    assert [(a.status, a.body) for a in acks] == [(200, b"")] * CALLBACKS
    slowest = max(a.seconds for a in acks)
    assert slowest < ACK_LIMIT_SECONDS, f"slowest ack {slowest:.2f} s"
    assert [a.rows_at_ack for a in acks] == [1] * CALLBACKS
    # Every answer was still pending when the last ack came back: nothing answered or sent.
    assert acked_in < ANSWER_SECONDS
    assert slow.fake.sent() == []
    assert "done" not in slow.statuses()
    assert sum(slow.statuses().values()) == CALLBACKS
    wait_until(lambda: slow.dispatcher.started > 0, timeout=5)

    slow.release.set()  # the 'LLM' answers now; each message is answered once
    wait_until(lambda: slow.statuses() == {"done": CALLBACKS}, timeout=10)
    wait_until(lambda: len(slow.fake.sent("wangfang")) == CALLBACKS, timeout=5)
    assert all("张伟" in body["text"]["content"] for body in slow.fake.sent("wangfang"))


def test_one_insert_transaction_stores_many_and_drops_repeats(store: Store) -> None:
    inbox = Inbox(store, Dispatcher(store, clock=lambda: NOW), {})

    def message(msg_id: str) -> IncomingMessage:
        return IncomingMessage("wecom", "wangfang", "wangfang", "private", msg_id, "你好", NOW)

    first = inbox.accept_many([message(key) for key in ("a", "b", "a", "c", "b")])
    assert first[2] is None and first[4] is None  # repeats within one transaction
    assert len({first[0], first[1], first[3]}) == 3 and None not in (first[0], first[1], first[3])
    assert inbox.accept_many([message("c"), message("d")])[0] is None  # stored before
    assert inbox.accept(message("a")) is None
    with store.db.read() as session:
        assert session.scalar(select(func.count()).select_from(InboxMessage)) == 4
