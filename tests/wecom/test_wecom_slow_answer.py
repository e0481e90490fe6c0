"""The acknowledgement stays fast while the LLM takes 10 s. Questions go through the real
service (`build_server`): the dispatcher, a retriever over real Chroma and the e5 model, and
the real ChatOpenAI client talking to the loopback stub, which holds every answer for 10 s.
20 callbacks from 5 concurrent clients each get their empty 200 before the stub has answered
anything, with the inbox row already stored; then the stub is let go (so the test
does not sit out the 10 s) and each message gets the model's answer once, within its asker's
scope, although the stub echoes its prompt and adds another customer's phone and links.
With LLM_MAX_CONCURRENCY 32, every answer waits on the LLM at once (20, more than the pool's 15
connections) on a few answer threads: it shows that a question waiting on the LLM holds no
database connection, otherwise storing a callback would wait for one."""

from __future__ import annotations

import asyncio
import re
import sqlite3
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
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.intake_journal import journal_path
from bot.serve import build_server
from bot.wecom import CALLBACK_PATH
from crm_store.db import Database, make_engine
from crm_store.models import AuditLog, ChannelIdentity, InboxMessage
from crm_store.store import Store
from handlers.contracts import IncomingMessage
from retrieval.connect import open_index
from retrieval.embeddings import E5Embeddings
from retrieval.llm import make_chat_model
from retrieval.llm_gate import LlmGate
from retrieval.search import Retriever
from retrieval.sync import drain_outbox
from tests.retrieval.conftest import local_config, record_notes
from tests.retrieval_llm.conftest import llm_settings
from tests.retrieval_llm.stub_llm import StubLLM
from tests.wecom.fakes import FakeWeCom, envelope, serve, text_xml, wait_until
from tests.wecom.test_wecom_callback import wecom_store

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
LLM_SECONDS = 10.0  # the stub holds every answer this long, unless the test lets it go
# Above the stub's 10 s, so what arrives is the slow answer itself, not the fallback.
LLM_TIMEOUT_SECONDS = 30.0
CALLBACKS = 20
CLIENTS = 5
# The test's clients wait longer than the stub holds an answer: an ack that waited for the LLM
# then comes back after the stub's first answer, and the test tells it by that order, not by
# a time limit (which a busy machine could miss).
GIVE_UP_SECONDS = 3 * LLM_SECONDS
# The server loop's default executor as on a 2-core machine (min(32, cores + 4)): on a big CI
# machine 20 pending answers would not fill the default 32 threads and hide a shared pool.
DEFAULT_EXECUTOR_THREADS = 6
LLM_SLOTS_FEW = 6  # fewer than the callbacks: the rest wait for a slot
LLM_SLOTS_DEFAULT = 32  # LLM_MAX_CONCURRENCY's default: every answer at the LLM at once

ASKERS = {"wangfang": "rm1", "chenjing": "rm3"}  # WeCom user -> staff
QUESTIONS = [
    ("wangfang", "张伟上次聊了什么？"),
    ("wangfang", "谁对基金感兴趣？"),
    ("chenjing", "张伟上次聊了什么？"),
]
SCOPE = {"rm1": {"c1", "c4", "c5", "c8"}, "rm3": {"c2", "c4"}}
# Note texts (tests/retrieval/conftest.py NOTES) of customers each asker may not see, plus
# the other customers' names; 李雷 and his phone are also in the stub's adversarial tail.
HIDDEN = {
    "rm1": ["黄金积存", "续存", "养老保险", "李雷", "韩梅梅"],
    "rm3": ["基金定投", "转账限额", "续存", "养老保险", "闪退", "李雷", "韩梅梅", "刘洋"],
}
OWN = {
    ("wangfang", "张伟上次聊了什么？"): "基金定投",
    ("chenjing", "张伟上次聊了什么？"): "黄金积存",
}
FULL_PHONE = re.compile(r"(?<![0-9a-fA-F])1[3-9]\d{9}(?![0-9a-fA-F])")
FALLBACK = "智能回答暂不可用"


def small_default_executor(app: ASGIApp) -> ASGIApp:
    """`app`, with the serving loop's default executor set to a small machine's size."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            executor = ThreadPoolExecutor(DEFAULT_EXECUTOR_THREADS)
            asyncio.get_running_loop().set_default_executor(executor)
        await app(scope, receive, send)

    return wrapper


@dataclass(frozen=True)
class Call:
    """One callback: which message, whose, asking what, and its encrypted request."""

    msg_id: str
    user: str
    question: str
    marker: str  # "第7问：", which starts the text and tells its reply from the others
    params: dict[str, str]
    body: bytes


def callbacks() -> list[Call]:
    """CALLBACKS questions; each text is unique ("第7问：…"), so its reply can be told apart."""
    stamp, calls = int(time.time()), []
    for n in range(1, CALLBACKS + 1):
        user, question = QUESTIONS[n % len(QUESTIONS)]
        msg_id, marker = str(7434873429347240000 + n), f"第{n}问："
        params, body = envelope(text_xml(user, marker + question, msg_id, stamp))
        calls.append(Call(msg_id, user, question, marker, params, body))
    return calls


@dataclass
class Slow:
    """The running service, the stub LLM it waits on, and the test's own view of the
    database (its own connections: the service's pool may be busy)."""

    url: str
    fake: FakeWeCom
    stub: StubLLM
    db: Database

    def stored(self, call: Call) -> int:
        """Inbox rows of one WeCom message, by its MsgId once opened, else still sealed and
        keyed by its signature: in the inbox on PostgreSQL, in the intake journal on SQLite
        while the move has not brought it to the inbox (bot/intake_journal.py)."""
        sealed_key = f"sealed:{call.params['msg_signature']}"
        with self.db.read() as session:
            query = select(func.count()).where(
                InboxMessage.channel == "wecom", InboxMessage.msg_key.in_((call.msg_id, sealed_key))
            )
            rows = int(session.scalar(query) or 0)
        return rows or journal_rows(self.db, sealed_key)

    def statuses(self) -> dict[str, int]:
        """Inbox rows by status."""
        with self.db.read() as session:
            query = select(InboxMessage.status, func.count()).group_by(InboxMessage.status)
            return {str(status): int(n) for status, n in session.execute(query)}

    def audits(self) -> list[AuditLog]:
        """The audit rows of the questions."""
        with self.db.read() as session:
            return list(session.scalars(select(AuditLog).where(AuditLog.intent == "question")))


@pytest.fixture(scope="module")
def e5() -> E5Embeddings:
    """The bundled embeddings model, loaded once for the module's tests."""
    return E5Embeddings()


@pytest.fixture(params=[LLM_SLOTS_FEW, LLM_SLOTS_DEFAULT], ids=["6-llm-slots", "32-llm-slots"])
def llm_slots(request: pytest.FixtureRequest) -> int:
    """LLM_MAX_CONCURRENCY: fewer than the callbacks, and the default."""
    return int(request.param)


@pytest.fixture
def slow(store: Store, fake: FakeWeCom, e5: E5Embeddings, llm_slots: int) -> Iterator[Slow]:
    record_notes(store)
    with store.db.write() as session:
        for user, staff_id in ASKERS.items():
            session.add(
                ChannelIdentity(channel="wecom", external_id=user, staff_id=staff_id, bound_at=NOW)
            )
    bank = wecom_store(store, fake)
    observer = Database(make_engine(store.settings.db_url))
    stub = StubLLM().start()
    stub.delay = LLM_SECONDS
    index = open_index(bank.settings, config=local_config(), embeddings=e5)
    try:
        drain_outbox(bank, index)
        settings = llm_settings(
            LLM_BASE_URL=stub.url,
            LLM_MODEL="stub-adversarial",
            LLM_API_KEY="test-key",
            LLM_TIMEOUT_SECONDS=LLM_TIMEOUT_SECONDS,
            LLM_MAX_RETRIES=0,
        )
        model = make_chat_model(settings)
        gate = LlmGate(llm_slots)
        retriever = Retriever(index, model, timeout=LLM_TIMEOUT_SECONDS, gate=gate)
        app = build_server(bank, with_timer=False, retriever=retriever)
        with serve(small_default_executor(app)) as url:
            try:
                yield Slow(url, fake, stub, observer)
            finally:
                stub.release.set()  # the server stops without waiting out the 10 s answers
                gate.close()
    finally:
        stub.stop()
        index.close()
        observer.dispose()


@dataclass(frozen=True)
class Ack:
    """One callback as its client saw it."""

    msg_id: str
    status: int
    body: bytes
    llm_answers_at_ack: int  # how many answers the stub LLM had given when the 200 came
    rows_at_ack: int


async def acknowledge(slow: Slow, calls: list[Call]) -> list[Ack]:
    """Post every callback from CLIENTS concurrent clients, one after another per client,
    looking up each message's inbox row as soon as its 200 is back."""

    async def one_client(share: list[Call]) -> list[Ack]:
        acks = []
        async with httpx.AsyncClient(base_url=slow.url, timeout=GIVE_UP_SECONDS) as client:
            for call in share:
                try:
                    answer = await client.post(CALLBACK_PATH, params=call.params, content=call.body)
                    status, body = answer.status_code, answer.content
                except httpx.TimeoutException:
                    status, body = 0, b""
                llm_answers = slow.stub.answers
                rows = await asyncio.to_thread(slow.stored, call)
                acks.append(Ack(call.msg_id, status, body, llm_answers, rows))
        return acks

    shares = [calls[k::CLIENTS] for k in range(CLIENTS)]
    results = await asyncio.gather(*(one_client(share) for share in shares))
    return [ack for acks in results for ack in acks]


def test_acks_stay_fast_while_the_llm_takes_ten_seconds(slow: Slow, llm_slots: int) -> None:
    calls = callbacks()
    # Every LLM slot (or CALLBACKS - CLIENTS of them) is taken before the rest of the
    # callbacks arrive.
    first = min(llm_slots, CALLBACKS - CLIENTS)
    acks = asyncio.run(acknowledge(slow, calls[:first]))
    wait_until(lambda: len(slow.stub.requests) >= first, timeout=LLM_SECONDS / 2)
    acks += asyncio.run(acknowledge(slow, calls[first:]))

    assert sorted(a.msg_id for a in acks) == sorted(c.msg_id for c in calls)
    assert [(a.status, a.body) for a in acks] == [(200, b"")] * CALLBACKS
    # Every ack came back while the LLM still held every answer: none waited for one.
    assert [a.llm_answers_at_ack for a in acks] == [0] * CALLBACKS
    assert [a.rows_at_ack for a in acks] == [1] * CALLBACKS
    assert slow.stub.answers == 0 and slow.fake.sent() == []
    # Every acknowledged message reaches the inbox (on SQLite moved from the intake journal
    # once the intake is quiet), and none is answered while the LLM holds them.
    wait_until(lambda: sum(slow.statuses().values()) == CALLBACKS, timeout=5)
    assert "done" not in slow.statuses()

    slow.stub.release.set()  # the LLM answers now; each message is answered once
    wait_until(lambda: slow.statuses() == {"done": CALLBACKS}, timeout=30)
    assert {body["touser"] for body in slow.fake.sent()} == set(ASKERS)
    for call in calls:
        reply = reply_to(slow, call)
        assert FALLBACK not in reply  # the model's answer, not the fallback after a timeout
        if (call.user, call.question) in OWN:
            assert OWN[(call.user, call.question)] in reply
    for user, staff_id in ASKERS.items():
        assert_in_scope(staff_id, "\n".join(b["text"]["content"] for b in slow.fake.sent(user)))
    assert len(slow.stub.requests) == CALLBACKS
    for request in slow.stub.requests:
        prompt = "\n".join(str(m.get("content")) for m in request["messages"])
        (call,) = [c for c in calls if c.marker in prompt]
        assert_in_scope(ASKERS[call.user], prompt)
    audits = slow.audits()
    assert len(audits) == CALLBACKS
    for row in audits:
        assert row.decision == "allowed" and "model=stub-adversarial" in row.detail
        assert set(row.customer_ids.split(",")) <= SCOPE[str(row.actor_staff_id)]


def journal_rows(db: Database, msg_key: str) -> int:
    """The intake journal's rows of one key (none on PostgreSQL: no journal)."""
    path = journal_path(str(db.engine.url))
    if path is None:
        return 0
    with sqlite3.connect(path) as conn:
        query = "SELECT count(*) FROM intake_journal WHERE channel = 'wecom' AND msg_key = ?"
        return int(conn.execute(query, (msg_key,)).fetchone()[0])


def reply_to(slow: Slow, call: Call) -> str:
    """The one reply (or the one part of a split reply) echoing this call's question."""
    replies = [b["text"]["content"] for b in slow.fake.sent(call.user)]
    (reply,) = [r for r in replies if call.marker in r]
    return reply


def assert_in_scope(staff_id: str, text: str) -> None:
    """Nothing of a customer `staff_id` may not see, no whole phone number, no foreign link."""
    assert not FULL_PHONE.search(text) and "evil" not in text and "![" not in text
    for hidden in HIDDEN[staff_id]:
        assert hidden not in text, (staff_id, hidden)


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


def _hold_write_lock(store: Store, seconds: float, holding: threading.Event) -> None:
    """Another process's writer, as SQLite sees it: the file's write lock on a connection of
    its own. PostgreSQL: a transaction holding a share lock on the inbox's rows, which an
    insert never waits for."""
    url = make_url(store.settings.db_url)
    if url.get_backend_name() == "sqlite":
        other = sqlite3.connect(str(url.database), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        holding.set()
        time.sleep(seconds)
        other.execute("ROLLBACK")
        other.close()
        return
    engine = make_engine(store.settings.db_url)
    with engine.connect() as conn:
        conn.execute(select(InboxMessage.id).with_for_update(read=True))
        holding.set()
        time.sleep(seconds)
        conn.rollback()
    engine.dispose()


def test_callbacks_are_stored_on_the_loop_or_in_the_thread_when_another_writer_holds_the_lock(
    store: Store,
) -> None:
    """The inbox stores a batch on the event loop when SQLite's lock is free or freed within
    LOOP_LOCK_WAIT, else in its thread (which waits for the lock); either way every message
    gets one row, its time read back as written, and a repeat is a duplicate."""
    inbox = Inbox(store, Dispatcher(store, clock=lambda: NOW), {}, answer_here=False)

    def message(msg_id: str) -> IncomingMessage:
        return IncomingMessage("wecom", "wangfang", "wangfang", "private", msg_id, "你好", NOW)

    async def take(keys: list[str]) -> list[bool]:
        return list(await asyncio.gather(*(inbox.intake(message(key)) for key in keys)))

    assert asyncio.run(take(["a", "b", "a"])) == [True, True, False]
    holding = threading.Event()
    other = threading.Thread(target=_hold_write_lock, args=(store, 0.3, holding))
    other.start()
    holding.wait(5)
    started = time.monotonic()
    assert asyncio.run(take(["c", "b", "d"])) == [True, False, True]
    other.join(5)
    if store.db.is_sqlite:
        assert time.monotonic() - started > 0.2  # it waited for the lock
    with store.db.read() as session:
        rows = session.execute(select(InboxMessage.msg_key, InboxMessage.received_at)).all()
    assert sorted(key for key, _ in rows) == ["a", "b", "c", "d"]
    assert {at for _, at in rows} == {NOW}
    inbox.close()
