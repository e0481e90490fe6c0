"""WeCom callback acknowledgement latency under load while every answer takes seconds, and
end-to-end messages per second with an instant LLM.

    python -m bench.bench_serve [--callbacks 500] [--clients 50] [--answer-seconds 5]
                                [--url URL] [--keep] [--llm-concurrency 64] [--llm-timeout S]
                                [--reply-timeout S] [--no-gc-freeze] [--cold] [--stand-in]
                                [--answer-processes N] [--answer-nice N] [--paced]

Set-up. A fresh store (a SQLite file in a temp BANKBOT_HOME by default, migrated with
`init_store`; with a PostgreSQL `--url` such as
postgresql+psycopg://postgres@127.0.0.1:5432/bench_serve that database is created and dropped
here) gets the test world and its interaction notes (tests/retrieval/conftest.py
`record_notes`), indexed into the embedded Chroma under that BANKBOT_HOME with the bundled e5
model, and four bound WeCom users whose staff each see customers with notes. In the parent
process run the fake WeCom API (tests/wecom/fakes.py) and the OpenAI-compatible stub LLM
(tests/retrieval_llm/stub_llm.py, model `stub-normal`; here it also appends the question's
"第N问" mark to its answer, so each reply is matched to its callback), both on loopback.

The server, in a child process (so that the load generator and the server do not share one
interpreter lock), is the service as `bankbot serve` wires it, minus the reminder timer:
`build_app` with the real `WeComAdapter`, the inbox and the real `Dispatcher` with a real
`Retriever`: the note index opened as production opens it (`open_index`: the folder's lock,
embedded Chroma, e5 embeddings, vector cache warmed by `bot.serve.warm_up`) and a `ChatOpenAI`
from `make_chat_model` pointed at the stub (timeout `--llm-timeout`, above the stub's delay, no
retries), behind an LLM gate of `--llm-concurrency` (LLM_MAX_CONCURRENCY). The e5 model is
loaded before the clock starts. uvicorn serves it on 127.0.0.1 (a free port); gc.freeze() once
the app is built and SQLite writers queued on the store's own lock, as in `bankbot serve`
(`--no-gc-freeze` shows the cost of the collector scanning start-up objects).

Every callback is a question for the notes ("第7问：张伟上次聊了什么？", "谁对基金感兴趣？",
"哪些客户抱怨过手机银行？", each marked with its number), round-robin over the four users. Its
answer is the real question path: the actor and scope from SQL, the query embedding, the
scoped search in the index, the SQL re-check of every hit, the prompt, the LLM round trip to
the stub, the reply guard, the audit row, and the reply sent to the fake WeCom API. Each reply
is counted as the model's answer, the fallback notice (the LLM failed or timed out), or
other. Before the clock starts, each server answers one question per sender and text (12) and
the figures are reset: the first answers of a process pay one-off costs (imports, SQL
statement caches, the LLM client) that otherwise land on the first acknowledgements; `--cold`
skips this to show them.

1. Baseline: `--callbacks` requests from the same `--clients` clients (`RawClient`: one
   keep-alive connection each, prepared bytes, requests one after another) to a bare route
   of the same app that returns 200, to a route that commits one row (an inbox row marked
   done) in a worker thread, and to `GET /healthz` (a database round trip and the index
   count, each in a worker thread). The floor of an acknowledgement is the bare route's p99
   under this load plus the p99 of one durable one-row commit on the same database, timed
   alone (200 in a row from the load process); acks are given as a ratio of it (target 2x).
2. Slow answers (the stub holds every LLM request `--answer-seconds`): `--callbacks` text
   callbacks (distinct MsgId each, encrypted and signed before the clock starts), same
   clients: the acknowledgement latency (time to the HTTP 200; the inbox row is committed
   before it) against the p99 target, and the server's own view: handler time, decrypt, the
   intake (waiting for and in the insert transaction), each insert transaction and its size,
   event-loop lag and GC pauses. Then every callback's inbox row is counted, once there (on
   SQLite the rows are committed to the intake journal before the 200 and moved, WeCom's
   opened, at a quiet intake: how long after the last ack is printed), /healthz is timed
   while the answers are pending, and the replies are awaited (up to `--reply-timeout`): how
   many, how fast (at most LLM concurrency / answer seconds per second), model or fallback,
   and each reply's latency from its callback sent to its reply at the fake WeCom API.
3. Instant answers (a fresh server on the same store, stub delay 0): the same acknowledgement
   figures, and end-to-end messages/s from the first callback sent to the last reply received
   by the fake WeCom API. Last, the slow phase's reply p99 against its target: 1.5 x (answer
   seconds + the instant phase's reply p99).

`--paced`: each client is one RM's phone (its own WeCom user, bound to the four staff in turn)
and sends its next callback once the reply to its last one reached the fake WeCom API, as an
RM asks the next question after reading the answer; the clients start one after another
over the first second. At most `--clients` questions are then out at once, so with 50
clients and 64 LLM slots no question queues for the LLM: the reply target asks whether
replies take the LLM's time and little more. Without it every client
sends its next callback as soon as the last was acknowledged, a burst in which 334 questions
for the LLM arrive within a second, and through 64 slots of `--answer-seconds` the last of
them cannot start before 5 rounds have passed. Paced, reply latency counts every reply (a
user's n-th reply answers their n-th callback), and acknowledgements overlap the answering
(in a burst they come first: answers wait for a quiet intake). So the bare route is also
timed meanwhile, from one more client every 10 ms: what the machine's sharing (the answers,
the fakes, the load) costs a lone request, beside the acks' server-side waits.

`--stand-in`: the former stand-in instead of real answers (no retriever; the dispatcher
sleeps `--answer-seconds` before handling), to see what real answering costs the acks.
Prints figures only (no assertions on timings).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import gc
import logging
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode

import httpx
import psycopg
import uvicorn
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.answer_loops import answer_thread_count
from bot.dispatch import Dispatcher
from bot.identity import resolve_actor
from bot.inbox import LEASE, Inbox, Row
from bot.intake_journal import IntakeJournal
from bot.intake_mark import IntakeMark
from bot.quiet_gc import QuietCollector
from bot.serve import open_journal, warm_up
from bot.web import build_app
from bot.wecom import CALLBACK_PATH, WeComAdapter
from bot.wiring import delivery_channels
from crm_store.crypto import new_key_text
from crm_store.db import WriterBusy
from crm_store.models import ChannelIdentity, InboxMessage
from crm_store.permissions import visible_customer_ids
from crm_store.settings import Settings
from crm_store.store import Store, init_store, open_store
from handlers.contracts import Channel, IncomingMessage
from handlers.guard import GuardedReply
from retrieval.connect import open_index
from retrieval.llm import LlmSettings, make_chat_model
from retrieval.llm_gate import LlmGate
from retrieval.search import Retriever
from retrieval.sync import drain_outbox
from tests.retrieval.conftest import local_config, record_notes
from tests.retrieval_llm.stub_llm import STUB_ANSWER, StubLLM
from tests.wecom.fakes import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeCom,
    envelope,
    text_xml,
)

P = ParamSpec("P")
T = TypeVar("T")

PING_PATH = "/bench/ping"
COMMIT_PATH = "/bench/commit"
FLOOR_CHANNEL = "benchfloor"  # inbox rows the commit route and the lone commits write, done
TARGET_ACK_FLOOR_RATIO = 2.0
TARGET_REPLY_RATIO = 1.5  # reply p99 <= 1.5 x (answer seconds + instant reply p99)
MARK = re.compile(r"第(\d+)问")
STATS_PATH = "/bench/stats"
TARGET_P99_MS = 50.0
# WeCom UserID -> staff id (tests/world.py); callbacks go round-robin over these senders.
SENDERS = (("wangfang", "rm1"), ("zhoujie", "rm2"), ("chenjing", "rm3"), ("sunli", "lead1"))
# `--paced`: one WeCom user per client (one RM's phone each), bound to the same staff in turn.
SENDER_IDS = tuple(userid for userid, _ in SENDERS)
PACED_USERS = tuple((f"bench{n:02d}", SENDERS[n % len(SENDERS)][1]) for n in range(64))
PING_EVERY_MS = 10  # paced: the bare route timed meanwhile, this often
PACED_START_SECONDS = 1.0  # paced: the clients' first callbacks spread over this
# Texts the rules read as questions for the notes (handlers/intents.py): round-robin too, and
# 3 questions over 4 senders make every pair.
QUESTIONS = ("张伟上次聊了什么？", "谁对基金感兴趣？", "哪些客户抱怨过手机银行？")
LLM_MODEL = "stub-normal"  # answers STUB_ANSWER, after the stub's `delay`
# How a reply is told apart: a phrase of the stub's answer that the reply guard leaves alone
# (it may redact the customer's name), and the fallback notice of retrieval/answer.py.
MODEL_MARK = "易方达蓝筹"
FALLBACK_MARK = "智能回答暂不可用"
MSG_ID_BASE = 7_500_000_000_000_000_000
WARM_ID_BASE = 7_400_000_000_000_000_000
STALE_AFTER_SECONDS = 240


# --- the server (child process) -------------------------------------------------------------


@dataclass(frozen=True)
class ServerSpec:
    """What the child process needs to build the app."""

    home: str
    url: str
    key: str
    fake_url: str
    llm_url: str
    llm_timeout: float
    llm_concurrency: int = 64
    gc_freeze: bool = True
    stand_in_seconds: float | None = None  # the stand-in's wait instead of real answers
    answer_processes: int = 0  # ANSWER_PROCESSES: answers in processes of their own
    answer_nice: int = 10  # ANSWER_PROCESS_NICE: their CPU priority below the server's
    journal: bool = True  # SQLite: acknowledge from the intake journal, as `bankbot serve`
    seal: bool = True  # store WeCom's callbacks still sealed, as `bankbot serve`


class Probes:
    """Server-side timings (seconds) by name, collected in the child and fetched over HTTP."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self._lag: asyncio.Task[None] | None = None

    def add(self, name: str, seconds: float) -> None:
        """Record one sample."""
        self.samples[name].append(seconds)

    def timed(self, name: str, call: Callable[P, T]) -> Callable[P, T]:
        """`call`, recording how long each call takes."""

        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return wrapper

    def watch_gc(self) -> None:
        """Record every garbage-collection pause, by generation."""
        started: list[float] = []

        def callback(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[:] = [time.perf_counter()]
            elif started:
                self.add(f"gc pause gen {info['generation']}", time.perf_counter() - started[0])

        gc.callbacks.append(callback)

    def watch_loop(self) -> None:
        """Start measuring event-loop lag (how late a 5 ms sleep wakes up), once."""
        if self._lag is None:
            self._lag = asyncio.get_running_loop().create_task(self._measure_lag())

    async def _measure_lag(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            self.add("loop lag", time.perf_counter() - started - 0.005)


class SlowDispatcher(Dispatcher):
    """The real dispatcher without a retriever, behind a fixed wait (`--stand-in`)."""

    def __init__(self, store: Store, answer_seconds: float) -> None:
        super().__init__(store)
        self.answer_seconds = answer_seconds

    async def handle(self, message: IncomingMessage) -> GuardedReply:
        """Wait, then answer for real."""
        if self.answer_seconds > 0:
            await asyncio.sleep(self.answer_seconds)
        return await super().handle(message)


class TimedInbox(Inbox):
    """The real inbox, timing each intake (on the loop) and each insert transaction."""

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        channels: dict[str, Channel],
        probes: Probes,
        answer_here: bool = True,
        journal: IntakeJournal | None = None,
        seal: bool = False,
    ) -> None:
        super().__init__(
            store, dispatcher, channels, answer_here=answer_here, journal=journal, seal=seal
        )
        self.probes = probes

    def _accept_rows(self, rows: Sequence[Row], *, at_once: bool = False) -> list[int | None]:
        """Insert (on the loop when SQLite's lock is free at once, else in the inbox's
        thread), recording the transaction's time and size, and the tries on the loop that
        found the lock taken."""
        started = time.perf_counter()
        where = "loop" if at_once else "thread"
        try:
            return super()._accept_rows(rows, at_once=at_once)
        except WriterBusy:
            where = "busy"
            raise
        finally:
            if where == "busy":
                self.probes.add("lock taken (one try)", time.perf_counter() - started)
            else:
                self.probes.add(f"insert transaction ({where})", time.perf_counter() - started)
                self.probes.add("messages per transaction", len(rows) / 1000)  # shown x1000

    async def _take_in(self, row: Row) -> bool:
        """The whole intake as the event loop sees it: waiting for and in the transaction."""
        started = time.perf_counter()
        try:
            return await super()._take_in(row)
        finally:
            self.probes.add("intake (loop)", time.perf_counter() - started)


def timed_app(app: ASGIApp, probes: Probes) -> ASGIApp:
    """`app`, recording per path the time from the request to the response start."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                probes.add(
                    f"handler {scope['method']} {scope['path']}", time.perf_counter() - started
                )
            await send(message)

        await app(scope, receive, send_timed)

    return wrapper


def bench_settings(home: str, url: str, key: str, fake_url: str | None = None) -> Settings:
    """Settings for the bench store; WeCom configured against the fake when `fake_url` is set."""
    values: dict[str, Any] = {
        "BANKBOT_HOME": home,
        "DATABASE_URL": url,
        "BANKBOT_DATA_KEY": SecretStr(key),
    }
    if fake_url is not None:
        values |= {
            "WECOM_CORP_ID": CORP_ID,
            "WECOM_AGENT_ID": str(AGENT_ID),
            "WECOM_SECRET": SECRET,
            "WECOM_TOKEN": TOKEN,
            "WECOM_AES_KEY": AES_KEY,
            "WECOM_API_BASE_URL": fake_url,
        }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def open_bench_retriever(store: Store, spec: ServerSpec) -> Retriever:
    """As `bot.wiring.build_retriever` opens it, from explicit settings (no `.env`): the
    embedded index under BANKBOT_HOME with the bundled e5 model, and the stub's chat model."""
    llm = LlmSettings(  # type: ignore[call-arg]
        _env_file=None,
        LLM_BASE_URL=spec.llm_url,
        LLM_MODEL=LLM_MODEL,
        LLM_API_KEY=SecretStr("bench-key"),
        LLM_TIMEOUT_SECONDS=spec.llm_timeout,
        LLM_MAX_RETRIES=0,  # a failed answer shows as a fallback, not as a second wait
    )
    index = open_index(store.settings, config=local_config())
    return Retriever(
        index,
        make_chat_model(llm),
        timeout=llm.llm_timeout_seconds,
        lang=store.settings.bankbot_lang,
        allowed_link_hosts=llm.allowed_link_hosts,
        gate=LlmGate(spec.llm_concurrency),
    )


def commit_one_row(store: Store) -> None:
    """One durable commit of one row: an inbox row, already done (no answer is made)."""
    with store.db.write() as session:
        session.add(
            InboxMessage(
                channel=FLOOR_CHANNEL,
                msg_key=uuid.uuid4().hex,
                sender_id="-",
                chat_id="-",
                chat_type="private",
                text="",
                received_at=datetime.now(UTC),
                status="done",
                attempts=0,
            )
        )


def serve_child(spec: ServerSpec, conn: Connection) -> None:
    """Child process: the real app under uvicorn on a free loopback port (sent through `conn`)."""
    logging.basicConfig(level=logging.WARNING)
    store = open_store(bench_settings(spec.home, spec.url, spec.key, spec.fake_url))
    probes = Probes()
    probes.watch_gc()
    adapter = WeComAdapter.from_settings(store)
    # The instance attribute shadows the method: every decrypt is timed.
    decrypt = probes.timed("decrypt", adapter.crypto.decrypt_message)
    adapter.crypto.decrypt_message = decrypt  # type: ignore[method-assign]
    retriever, warming = None, None
    dispatcher: Dispatcher
    answerers = start_answer_processes(spec)  # with ANSWER_PROCESSES: they hold the index
    if answerers:
        dispatcher = Dispatcher(store)  # never asked: this process only acknowledges
    elif spec.stand_in_seconds is not None:
        dispatcher = SlowDispatcher(store, spec.stand_in_seconds)
    else:
        retriever = open_bench_retriever(store, spec)
        warming = warm_up(retriever)  # as `bankbot serve`: the vector cache loads meanwhile
        dispatcher = Dispatcher(store, retriever=retriever)
    # As `bot.serve.build_server` wires it (no reminder timer), with the timed inbox.
    channels: dict[str, Channel] = {**delivery_channels(store), adapter.name: adapter.channel}
    journal = open_journal(store) if spec.journal else None
    inbox = TimedInbox(
        store,
        dispatcher,
        channels,
        probes,
        answer_here=not answerers,
        journal=journal,
        seal=spec.seal,
    )
    count = retriever.index.count if retriever is not None else None
    app = build_app(store, inbox, [adapter], index_count=count)
    if spec.gc_freeze:
        # As `bankbot serve` does: later collections skip the ~300k start-up objects, and full
        # collections wait for a quiet intake (bot/quiet_gc.py).
        gc.collect()
        gc.freeze()
        QuietCollector(IntakeMark(Path(spec.home))).start()
    if retriever is not None and warming is not None:
        # Before the clock starts: the vector cache, and the e5 model (~2 s to load, which
        # production's first question pays).
        warming.join()
        retriever.index.query_vector("预热")

    async def ping(_: Request) -> Response:
        probes.watch_loop()
        return Response(status_code=200)

    async def commit(_: Request) -> Response:
        await asyncio.to_thread(commit_one_row, store)
        return Response(status_code=200)

    async def stats(request: Request) -> JSONResponse:
        body = dict(probes.samples)
        if request.query_params.get("reset"):
            probes.samples.clear()
        return JSONResponse(body)

    app.router.routes.append(Route(PING_PATH, ping, methods=["GET"]))
    app.router.routes.append(Route(STATS_PATH, stats, methods=["GET"]))
    app.router.routes.append(Route(COMMIT_PATH, commit, methods=["POST"]))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    conn.send(sock.getsockname()[1])
    config = uvicorn.Config(
        timed_app(app, probes), lifespan="on", log_level="warning", access_log=False
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for answerer in answerers:
            answerer.terminate()
        for answerer in answerers:  # each closes the index (its lock) before the next server
            answerer.join(90)
        if retriever is not None:
            retriever.close()


def start_answer_processes(spec: ServerSpec) -> list[multiprocessing.process.BaseProcess]:
    """ANSWER_PROCESSES: each answers as `bot.answer_worker` does; returns once all are ready
    (index open, vector cache and e5 model loaded)."""
    context = multiprocessing.get_context("spawn")
    started = []
    for _ in range(spec.answer_processes):
        parent, child = context.Pipe()
        process = context.Process(target=answer_child, args=(spec, child), daemon=True)
        process.start()
        started.append((process, parent))
    for _process, parent in started:
        if not parent.poll(300):
            raise SystemExit("an answer process did not start")
        parent.recv()
    return [process for process, _ in started]


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def answer_child(spec: ServerSpec, conn: Connection) -> None:
    """An answer process: the real dispatcher and retriever, the inbox's claims, replies to the
    fake WeCom API; polls the inbox as `bot.answer_worker.AnswerLoop` does."""
    from bot.answer_worker import AnswerLoop, open_sealed_callbacks

    logging.basicConfig(level=logging.WARNING)
    store = open_store(bench_settings(spec.home, spec.url, spec.key, spec.fake_url))
    os.nice(spec.answer_nice)  # as bot.answer_worker does (ANSWER_PROCESS_NICE)
    adapter = WeComAdapter.from_settings(store)
    retriever = open_bench_retriever(store, spec)
    warm_up(retriever).join()
    retriever.index.query_vector("预热")
    channels: dict[str, Channel] = {**delivery_channels(store), adapter.name: adapter.channel}
    inbox = Inbox(store, Dispatcher(store, retriever=retriever), channels)
    open_sealed_callbacks(inbox, [adapter])

    async def answer() -> None:
        # The bench stops a server without waiting for its pending answers: so does this
        # process (the index's lock goes with it), unlike `bankbot serve`'s graceful stop;
        # and it goes with its server even when that one was killed.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, os._exit, 0)
        parent = os.getppid()
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
        conn.send("ready")
        await AnswerLoop(inbox).run(asyncio.Event())

    try:
        asyncio.run(answer())
    finally:
        retriever.close()
        store.close()


@contextmanager
def running_server(spec: ServerSpec) -> Iterator[str]:
    """The app in a child process until the block ends; yields its base URL."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    # Not a daemon: with --answer-processes it starts children of its own (stopped below).
    process = context.Process(target=serve_child, args=(spec, child), daemon=False)
    process.start()
    try:
        if not parent.poll(120):
            raise SystemExit("the server did not start")
        url = f"http://127.0.0.1:{parent.recv()}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + PING_PATH, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not process.is_alive():
                raise SystemExit("the server did not answer")
            time.sleep(0.05)
        yield url
    finally:
        # Stop without waiting for the answers still pending (SIGTERM: uvicorn's own shutdown).
        process.terminate()
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join()


# --- the database -----------------------------------------------------------------------------


def _pg_dsn(url: str, database: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


@contextmanager
def fresh_store(url: str | None, keep: bool) -> Iterator[tuple[Store, Settings]]:
    """A new store in a temp BANKBOT_HOME: SQLite there, or the PostgreSQL database of `url`."""
    home = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    name = make_url(url).database if url else None
    if url is not None:
        if not name or name == "postgres":
            raise SystemExit("--url must name a scratch database, e.g. .../bench_serve")
        with psycopg.connect(_pg_dsn(url, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    settings = bench_settings(str(home), url or f"sqlite:///{home / 'bankbot.db'}", new_key_text())
    store, _ = init_store(settings)
    try:
        yield store, settings
    finally:
        store.close()
        if keep:
            print(f"kept:                {settings.db_url}")
        else:
            shutil.rmtree(home, ignore_errors=True)
        if url is not None and not keep:
            with psycopg.connect(_pg_dsn(url, "postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bind_senders(store: Store) -> None:
    """The bench's WeCom users, bound to staff of the test world."""
    now = datetime.now(UTC)
    with store.db.write() as session:
        for userid, staff_id in SENDERS + PACED_USERS:
            session.add(
                ChannelIdentity(
                    channel="wecom", external_id=userid, staff_id=staff_id, bound_at=now
                )
            )


def sender_scopes(store: Store) -> list[str]:
    """Each bench user with their staff and how many customers that staff may see today; no
    user may see none (their questions would never reach the index or the LLM)."""
    today = datetime.now(store.settings.tz).date()
    cells = []
    with store.db.read() as session:
        for userid, staff_id in SENDERS:
            actor = resolve_actor(session, channel="wecom", sender_id=userid)
            seen = len(visible_customer_ids(session, actor, today))
            if not seen:
                raise SystemExit(f"{userid} ({staff_id}) sees no customer: pick another sender")
            cells.append(f"{userid}={staff_id} ({seen})")
    return cells


def index_notes(store: Store, settings: Settings) -> int:
    """Apply the queued notes to the embedded index (as `bankbot index sync`); how many went
    in. The index is closed again: the server takes its lock."""
    index = open_index(settings, config=local_config())
    try:
        drain_outbox(store, index)
        return index.count()
    finally:
        index.close()


def count_rows(store: Store, msg_keys: list[str]) -> Counter[str]:
    """Inbox rows of these messages by status (`inbox_keys`: opened or still sealed)."""
    with store.db.read() as session:
        query = (
            select(InboxMessage.status, func.count())
            .where(InboxMessage.channel == "wecom", InboxMessage.msg_key.in_(msg_keys))
            .group_by(InboxMessage.status)
        )
        return Counter({str(status): int(n) for status, n in session.execute(query)})


def rows_once_moved(
    store: Store, calls: list[Call], ids: list[str], timeout: float = 10.0
) -> tuple[Counter[str], float]:
    """`count_rows` once every message is in the inbox (on SQLite the journal's move, at a
    quiet intake, brings them, opened; on PostgreSQL they are there sealed at the 200), or
    after `timeout`; and how long that took."""
    started = time.perf_counter()
    while True:
        rows = count_rows(store, inbox_keys(calls, ids))
        waited = time.perf_counter() - started
        if sum(rows.values()) >= len(ids) or waited > timeout:
            return rows, waited
        time.sleep(0.01)


def settle(store: Store) -> None:
    """Mark what a stopped server left unanswered as done, so the next server's start-up drain
    does not answer it (the next phase measures its own messages only)."""
    with store.db.write() as session:
        session.execute(
            update(InboxMessage)
            .where(InboxMessage.status.in_(("pending", "processing")))
            .values(status="done")
        )


# --- the load ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request to send; with `inner_xml`, a callback (encrypted, signed and stamped)."""

    method: str
    path: str
    inner_xml: str = ""
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""
    stamped: float = 0.0
    tag: str = ""  # the question's number, which its reply carries
    sender: str = ""  # the WeCom user the callback is from (whom its reply goes to)

    def fresh(self) -> tuple[dict[str, str], bytes]:
        """Query and body; a callback stamped over 4 minutes ago is encrypted again (the app
        refuses a timestamp 300 s off), as WeCom stamps each delivery."""
        if self.inner_xml and time.time() - self.stamped > STALE_AFTER_SECONDS:
            return envelope(self.inner_xml)
        return self.params, self.body


@dataclass(frozen=True)
class Sample:
    """One request as the client saw it (perf_counter seconds)."""

    started: float
    ended: float
    status: int
    tag: str = ""
    sender: str = ""

    @property
    def ms(self) -> float:
        """Latency in milliseconds."""
        return (self.ended - self.started) * 1000


def inbox_keys(calls: list[Call], ids: list[str]) -> list[str]:
    """The inbox keys of these messages: their MsgIds once opened, their signatures while
    still sealed (a row has one or the other)."""
    return ids + [f"sealed:{call.params['msg_signature']}" for call in calls]


def callbacks(
    count: int, first_id: int, senders: Sequence[str] = SENDER_IDS
) -> tuple[list[Call], list[str]]:
    """`count` encrypted text callbacks with distinct MsgIds, round-robin over `senders`;
    (calls, msg ids)."""
    calls, ids = [], []
    for n in range(count):
        msg_id = str(first_id + n)
        sender = senders[n % len(senders)]
        tag = str(first_id % 1_000_000 + n)
        text = f"第{tag}问：{QUESTIONS[n % len(QUESTIONS)]}"
        xml = text_xml(sender, text, msg_id, int(time.time()))
        params, body = envelope(xml)  # here, so the clients do not encrypt while timed
        calls.append(Call("POST", CALLBACK_PATH, xml, params, body, time.time(), tag, sender))
        ids.append(msg_id)
    return calls, ids


class RawClient:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for these requests.

    The load generator shares the 2 cores with the server, and everything it spends delays
    the next response it reads: 50 httpx clients in one event loop added ~20 ms to every
    request (a bare 200 route measured 22 ms p50). Writing prepared bytes and reading the
    status line, headers and body costs a small fraction of that, so the figures are the
    server's own rather than the client's."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        """Open the connection."""
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, params: dict[str, str], body: bytes) -> int:
        """Send one request and read its whole response; the status code. A connection the
        server closed while idle (uvicorn's keep-alive timeout, 5 s: `--paced` clients wait
        that long for replies) is opened again and the request sent once more."""
        target = f"{path}?{urlencode(params)}" if params else path
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        try:
            return await self._exchange(head + body)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                raise  # the server answered in part: not an idle close
            await self.aclose()
            await self.connect()
            return await self._exchange(head + body)

    async def _exchange(self, request: bytes) -> int:
        assert self._reader is not None and self._writer is not None
        self._writer.write(request)
        header = await self._reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        length = 0
        for field_line in lines[1:]:
            name, _, value = field_line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length:
            await self._reader.readexactly(length)
        return int(lines[0].split(" ", 2)[1])

    async def aclose(self) -> None:
        """Close the connection."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()


class Pacer:
    """`--paced`: a client sends its next callback once the reply to its last one reached the
    fake WeCom API, as an RM asks the next question after reading the answer. The fake's
    thread wakes the waiting client (polling 50 clients every few ms took a core's share
    from the server under test)."""

    def __init__(self, fake: TimedFake, timeout: float) -> None:
        self.fake, self.timeout = fake, timeout
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}
        fake.on_reply = self._arrived

    def _arrived(self, user: str) -> None:
        """In the fake's thread: a reply to `user` arrived."""
        waiting = self._waiting.get(user)
        if waiting is not None:
            loop, event = waiting
            loop.call_soon_threadsafe(event.set)

    async def reply_after(self, user: str, seen: int) -> None:
        """Until `user` has more than `seen` replies, or the timeout."""
        event = asyncio.Event()
        self._waiting[user] = (asyncio.get_running_loop(), event)
        try:
            if len(self.fake.to_user[user]) <= seen:  # not already there
                await asyncio.wait_for(event.wait(), self.timeout)
        except TimeoutError:
            pass
        finally:
            del self._waiting[user]


async def _client_loop(
    client: RawClient, calls: list[Call], pacer: Pacer | None = None, start_after: float = 0.0
) -> list[Sample]:
    samples = []
    await asyncio.sleep(start_after)
    for call in calls:
        params, body = call.fresh()
        seen = len(pacer.fake.to_user[call.sender]) if pacer else 0
        started = time.perf_counter()
        status = await client.request(call.method, call.path, params, body)
        samples.append(Sample(started, time.perf_counter(), status, call.tag, call.sender))
        if pacer is not None and status == 200:
            await pacer.reply_after(call.sender, seen)
    return samples


async def fire(
    clients: list[RawClient], calls: list[Call], pacer: Pacer | None = None
) -> list[Sample]:
    """Every call, spread round-robin over the clients; each client sends one after another
    (with a `pacer`, each after the reply to the one before)."""
    shares = [calls[k :: len(clients)] for k in range(len(clients))]
    # Paced clients start one after another over PACED_START_SECONDS: all at one instant is
    # the burst the unpaced load measures.
    step = PACED_START_SECONDS / len(clients) if pacer else 0.0
    results = await asyncio.gather(
        *(
            _client_loop(c, s, pacer, k * step)
            for k, (c, s) in enumerate(zip(clients, shares, strict=True))
        )
    )
    return [s for share in results for s in share]


async def open_clients(url: str, count: int) -> list[RawClient]:
    """`count` clients, one keep-alive connection each, already connected and used once."""
    address = httpx.URL(url)
    clients = [RawClient(address.host, address.port or 80) for _ in range(count)]
    await asyncio.gather(*(c.connect() for c in clients))
    await asyncio.gather(*(c.request("GET", PING_PATH, {}, b"") for c in clients))
    return clients


async def close_clients(clients: list[RawClient]) -> None:
    """Close every client."""
    await asyncio.gather(*(c.aclose() for c in clients))


def server_stats(url: str) -> dict[str, list[float]]:
    """The server's timings since the last call, and reset them."""
    body: dict[str, list[float]] = httpx.get(url + STATS_PATH, params={"reset": "1"}).json()
    return body


# --- figures ----------------------------------------------------------------------------------


def pct(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def stats_ms(values: list[float]) -> str:
    """p50 / p95 / p99 / max in ms."""
    if not values:
        return "-"
    ordered = sorted(values)
    cells = [statistics.median(ordered), pct(ordered, 0.95), pct(ordered, 0.99), ordered[-1]]
    return " ".join(f"{v:8.2f}" for v in cells)


HEADER = f"{'':40} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"


def line(label: str, values_ms: list[float]) -> str:
    """One table row."""
    return f"{label:40} {len(values_ms):5d} {stats_ms(values_ms)}"


def p99(values: list[float]) -> float:
    """The 99th percentile."""
    return pct(sorted(values), 0.99)


def print_server_side(stats: dict[str, list[float]], path: str) -> None:
    """The server's view of one run, in ms."""
    order = [
        f"handler POST {path}",
        "decrypt",
        "intake (loop)",
        "insert transaction (loop)",
        "insert transaction (thread)",
        "lock taken (one try)",
        "loop lag",
        "gc pause gen 0",
        "gc pause gen 1",
        "gc pause gen 2",
    ]
    for name in order:
        if stats.get(name):
            print(line(f"  server: {name}", [v * 1000 for v in stats[name]]))
    sizes = sorted(round(v * 1000) for v in stats.get("messages per transaction", []))
    if sizes:
        print(
            f"  server: {len(sizes)} insert transactions, messages each: "
            f"p50 {statistics.median(sizes):g}, max {sizes[-1]}"
        )


def load_average() -> str:
    """The 1- and 5-minute load average and the core count."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} / {five:.2f} (1 / 5 min) on {os.cpu_count()} cores"


# --- the run ----------------------------------------------------------------------------------


class TimedFake(FakeWeCom):
    """The fake WeCom API, also noting when each message/send arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: list[float] = []
        self.reply_at: dict[str, float] = {}  # question number -> when its reply arrived
        self.to_user: defaultdict[str, list[float]] = defaultdict(list)  # user -> arrivals
        self.on_reply: Callable[[str], None] | None = None  # called with the user, each reply

    def clear_times(self) -> None:
        """Forget the arrival times so far (a new phase)."""
        self.sent_at.clear()
        self.reply_at.clear()
        self.to_user.clear()

    def reply_kinds(self, skip: int) -> Counter[str]:
        """The replies sent after the first `skip`, by kind: the model's answer, the fallback
        notice (the LLM failed or timed out), or other."""
        kinds: Counter[str] = Counter()
        for body in self.sent()[skip:]:
            text = str(body.get(str(body.get("msgtype")), {}).get("content", ""))
            if FALLBACK_MARK in text:
                kinds["fallback notice"] += 1
            elif MODEL_MARK in text:
                kinds["model answer"] += 1
            else:
                kinds["other"] += 1
        return kinds

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        """As the fake answers, plus the arrival time of replies."""
        if path == "/cgi-bin/message/send":
            now = time.perf_counter()
            self.sent_at.append(now)
            user = str(body.get("touser", "")) if body else ""
            self.to_user[user].append(now)
            if self.on_reply is not None:
                self.on_reply(user)
            text = str(body.get(str(body.get("msgtype")), {}).get("content", "")) if body else ""
            for tag in MARK.findall(text):
                self.reply_at[tag] = now
        return super().answer(method, path, query, body)


class MarkedStub(StubLLM):
    """The stub LLM, appending the question's "第N问" mark to its answer: the reply then
    tells which callback it answers."""

    def reply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """As the stub answers, plus the mark."""
        status, answer = super().reply(body)
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        mark = MARK.search(prompt)
        message = answer.get("choices", [{}])[0].get("message", {})
        if status == 200 and mark and isinstance(message.get("content"), str):
            message["content"] += f"（{mark.group(0)}）"
        return status, answer


def lone_commits(store: Store, count: int = 200) -> list[float]:
    """`count` one-row durable commits one after another on the bench's database (ms)."""
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        commit_one_row(store)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def measure_baseline(url: str, n_calls: int, n_clients: int) -> list[float]:
    """The bare route, the commit route and /healthz from the same clients; the bare route's
    latencies (ms)."""
    clients = await open_clients(url, n_clients)
    try:
        server_stats(url)
        ping = await fire(clients, [Call("GET", PING_PATH)] * n_calls)
        stats = server_stats(url)
        print(line(f"baseline GET {PING_PATH}", [s.ms for s in ping]))
        print(
            line("  server: handler", [v * 1000 for v in stats.get(f"handler GET {PING_PATH}", [])])
        )
        commits = await fire(clients, [Call("POST", COMMIT_PATH)] * n_calls)
        print(line(f"baseline POST {COMMIT_PATH} (one row each)", [s.ms for s in commits]))
        health = await fire(clients, [Call("GET", "/healthz")] * n_calls)
        stats = server_stats(url)
        print(line("baseline GET /healthz (SQL, index count)", [s.ms for s in health]))
        print(line("  server: handler", [v * 1000 for v in stats.get("handler GET /healthz", [])]))
        statuses = Counter(s.status for s in ping + commits + health)
        print(f"  statuses: {dict(statuses)}")
    finally:
        await close_clients(clients)
    return [s.ms for s in ping]


async def measure_acks(
    url: str,
    calls: list[Call],
    n_clients: int,
    baseline: list[float],
    floor_p99: float,
    *,
    target: bool,
    pacer: Pacer | None = None,
) -> list[Sample]:
    """Fire the callbacks; print client and server figures (and the verdict if `target`: the
    p99 target is set for slow answers; with instant answers the same acks share the cores
    with the answering itself, and the figure that counts there is messages per second).
    Paced, the bare route is also timed meanwhile, from one more client."""
    clients = await open_clients(url, n_clients)
    done = asyncio.Event()
    pinging = asyncio.create_task(ping_meanwhile(url, done)) if pacer else None
    try:
        server_stats(url)
        samples = await fire(clients, calls, pacer)
        stats = server_stats(url)
    finally:
        done.set()
        await close_clients(clients)
    busy = await pinging if pinging is not None else []
    acks = [s.ms for s in samples]
    print(line(f"POST {CALLBACK_PATH} (ack)", acks))
    if busy:
        print(line(f"GET {PING_PATH} meanwhile (1 client, every {PING_EVERY_MS} ms)", busy))
    print_server_side(stats, CALLBACK_PATH)
    print(f"  statuses: {dict(Counter(s.status for s in samples))}")
    base50, base99 = statistics.median(baseline), p99(baseline)
    print(
        f"  ratio ack / bare route: p50 {statistics.median(acks) / base50:.1f}x, "
        f"p99 {p99(acks) / base99:.1f}x"
    )
    ratio = p99(acks) / floor_p99
    verdict = "met" if ratio <= TARGET_ACK_FLOOR_RATIO else "MISSED"
    print(
        f"  ack p99 {p99(acks):.1f} ms / floor {floor_p99:.1f} ms = {ratio:.2f}x "
        f"(target <= {TARGET_ACK_FLOOR_RATIO:g}x): {verdict}"
    )
    if target:
        verdict = "met" if p99(acks) < TARGET_P99_MS else "MISSED"
        print(f"  ack p99 {p99(acks):.1f} ms vs target {TARGET_P99_MS:.0f} ms: {verdict}")
    return samples


async def ping_meanwhile(url: str, done: asyncio.Event) -> list[float]:
    """The bare route from one client every PING_EVERY_MS until `done`: what the machine's
    sharing (answers, the fakes, the load) costs any request (ms each)."""
    client = (await open_clients(url, 1))[0]
    timings = []
    try:
        while not done.is_set():
            started = time.perf_counter()
            await client.request("GET", PING_PATH, {}, b"")
            timings.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(PING_EVERY_MS / 1000)
    finally:
        await client.aclose()
    return timings


def reply_latencies(fake: TimedFake, samples: list[Sample]) -> list[float]:
    """Each callback's time from being sent to its reply reaching the fake (ms), for the
    callbacks whose reply carries their mark (the model's answers)."""
    return [(fake.reply_at[s.tag] - s.started) * 1000 for s in samples if s.tag in fake.reply_at]


def paced_latencies(fake: TimedFake, samples: list[Sample]) -> list[float]:
    """`--paced`: each callback's time from being sent to its reply (ms). A user's callbacks
    go one at a time, so their n-th reply answers their n-th callback, whatever it says."""
    latencies = []
    by_user: defaultdict[str, list[Sample]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: s.started):
        by_user[sample.sender].append(sample)
    for user, sent in by_user.items():
        arrivals = fake.to_user.get(user, [])
        latencies += [(at - s.started) * 1000 for s, at in zip(sent, arrivals, strict=False)]
    return latencies


def print_reply_latency(
    fake: TimedFake, samples: list[Sample], *, paced: bool = False
) -> list[float]:
    """The reply latency row; the latencies (ms)."""
    if paced:
        latencies = paced_latencies(fake, samples)
        print(line("reply latency, every reply (sent -> reply)", latencies))
        return latencies
    latencies = reply_latencies(fake, samples)
    print(line("reply latency (callback sent -> reply)", latencies))
    if len(latencies) < len(samples):
        print(f"  {len(samples) - len(latencies)} replies without their mark (not the model's)")
    return latencies


def health_while_busy(url: str, count: int, timeout: float = 5.0) -> tuple[list[float], int]:
    """`count` health checks one after another, as a load balancer sees them meanwhile:
    (latencies in ms of those answered, how many timed out after `timeout` s)."""
    timings, timed_out = [], 0
    with httpx.Client(base_url=url, timeout=timeout) as client:
        for _ in range(count):
            started = time.perf_counter()
            try:
                client.get("/healthz")
            except httpx.TimeoutException:
                timed_out += 1
                continue
            timings.append((time.perf_counter() - started) * 1000)
    return timings, timed_out


def warm_answers(url: str, fake: TimedFake, first_id: int, timeout: float) -> int:
    """Before the clock starts: one question from every sender and of every text, answered
    (first-use costs of the answer path: imports, SQL statement caches, the LLM client);
    how many were answered."""
    count = len(SENDERS) * len(QUESTIONS)
    calls, _ = callbacks(count, first_id)
    fake.clear_times()

    async def send() -> None:
        clients = await open_clients(url, 1)
        try:
            await fire(clients, calls)
        finally:
            await close_clients(clients)

    asyncio.run(send())
    wait_for_replies(fake, count, timeout)
    server_stats(url)  # the measured figures start now
    return len(fake.sent_at)


def wait_for_replies(fake: TimedFake, expected: int, timeout: float) -> None:
    """Until the fake has received `expected` replies, or `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while len(fake.sent_at) < expected and time.monotonic() < deadline:
        time.sleep(0.05)


def print_replies(
    fake: TimedFake, skip: int, expected: int, first: float, llm_requests: int
) -> None:
    """How many replies came, how fast, and of which kind."""
    replies = len(fake.sent_at)
    last = max(fake.sent_at, default=first)
    rate = replies / (last - first) if last > first else 0.0
    print(
        f"  end to end: {replies} replies for {expected} callbacks in {last - first:.2f} s: "
        f"{rate:.1f} messages/s (first callback sent to last reply received by the fake)"
    )
    kinds = fake.reply_kinds(skip)
    print(
        f"  replies: model answer {kinds['model answer']}, fallback notice "
        f"{kinds['fallback notice']}, other {kinds['other']}; "
        f"LLM requests to the stub: {llm_requests}"
    )


def print_reply_target(slow: list[float], instant: list[float], answer_seconds: float) -> None:
    """The slow phase's reply p99 against 1.5 x (answer seconds + the instant reply p99)."""
    if not slow or not instant:
        print("\nreply p99 target: not computed (no matched replies in a phase)")
        return
    target = TARGET_REPLY_RATIO * (answer_seconds * 1000 + p99(instant))
    ratio = p99(slow) / target
    verdict = "met" if ratio <= 1 else "MISSED"
    print(
        f"\nreply p99 with {answer_seconds:g} s answers: {p99(slow) / 1000:.2f} s; target "
        f"{TARGET_REPLY_RATIO:g} x ({answer_seconds:g} s + instant reply p99 "
        f"{p99(instant) / 1000:.2f} s) = {target / 1000:.2f} s; ratio {ratio:.2f}: {verdict}"
    )


def run(args: argparse.Namespace) -> None:
    """All three phases."""
    if MODEL_MARK not in STUB_ANSWER:
        raise SystemExit(f"{MODEL_MARK!r} is no longer in the stub's answer: update MODEL_MARK")
    stand_in = args.stand_in
    llm_timeout = args.llm_timeout or min(600.0, args.answer_seconds + 20.0)
    if not stand_in and llm_timeout <= args.answer_seconds:
        raise SystemExit("--llm-timeout must be above --answer-seconds, or answers fall back")
    if args.answer_seconds >= LEASE.total_seconds():
        print(f"warning: answers as slow as the inbox lease ({LEASE}) may be taken twice")
    print(f"load before:         {load_average()}")
    fake = TimedFake()
    fake.start()
    stub = MarkedStub().start()
    try:
        with fresh_store(args.url, args.keep) as (store, settings):
            record_notes(store)  # the test world and its notes, queued for the index
            bind_senders(store)
            notes = index_notes(store, settings)
            engine = make_url(settings.db_url).get_backend_name()
            print(f"engine:              {engine}  ({settings.db_url})")
            print(
                f"load:                {args.callbacks} callbacks from {args.clients} clients, "
                f"{len(SENDERS)} bound WeCom users; server: uvicorn in a child process"
            )
            print(f"senders (customers): {', '.join(sender_scopes(store))}")
            senders: Sequence[str] = SENDER_IDS
            pacer = None
            if args.paced:
                if args.clients > len(PACED_USERS):
                    raise SystemExit(f"--paced takes at most {len(PACED_USERS)} clients")
                senders = [u for u, _ in PACED_USERS[: args.clients]]
                pacer = Pacer(fake, args.reply_timeout)
                print(
                    "paced:               each client is one WeCom user of those staff in turn, "
                    "and sends its next callback once its last reply arrived"
                )
            print(f"questions:           {' / '.join(QUESTIONS)}")
            if stand_in:
                print("answers:             stand-in: no retriever, a sleep before the dispatcher")
            else:
                print(
                    f"answers:             real: {notes} notes in embedded Chroma (e5); "
                    f"ChatOpenAI {LLM_MODEL} at the stub {stub.url}, timeout "
                    f"{llm_timeout:g} s, no retries"
                )
            spec = ServerSpec(
                str(settings.home),
                settings.db_url,
                settings.bankbot_data_key.get_secret_value(),  # type: ignore[union-attr]
                fake.base_url,
                stub.url,
                llm_timeout,
                args.llm_concurrency,
                not args.no_gc_freeze,
                args.answer_seconds if stand_in else None,
                args.answer_processes,
                args.answer_nice,
                not args.no_journal,
                not args.no_seal,
            )
            threads = answer_thread_count(store.db.engine)  # as the server's inbox sizes it
            warmed = "none (--cold)" if args.cold else f"{len(SENDERS) * len(QUESTIONS)} answered"
            if args.answer_processes:
                print(
                    f"answer processes:    {args.answer_processes}, at nice +{args.answer_nice} "
                    "(ANSWER_PROCESS_NICE)"
                )
            print(
                f"server:              {threads} answer threads, LLM_MAX_CONCURRENCY "
                f"{args.llm_concurrency}, gc.freeze: {not args.no_gc_freeze}, "
                f"warm-up questions per server: {warmed}"
            )
            stub.delay = 0.0 if stand_in else args.answer_seconds
            slow = "stand-in sleep" if stand_in else "the stub LLM holds each request"
            print(f"\n== answers take {args.answer_seconds:g} s ({slow})")
            print(HEADER)
            with running_server(spec) as url:
                if not args.cold:
                    warm_answers(url, fake, WARM_ID_BASE, args.reply_timeout)
                baseline = asyncio.run(measure_baseline(url, args.callbacks, args.clients))
                alone = lone_commits(store)
                print(line("one-row durable commit alone (load process)", alone))
                floor = p99(baseline) + p99(alone)
                print(
                    f"  ack floor: bare route p99 {p99(baseline):.2f} ms + lone commit p99 "
                    f"{p99(alone):.2f} ms = {floor:.2f} ms"
                )
                print(f"  load now:          {load_average()}")
                # Both phases' callbacks, from the same clients against the same floor.
                fire_acks = functools.partial(
                    measure_acks,
                    n_clients=args.clients,
                    baseline=baseline,
                    floor_p99=floor,
                    pacer=pacer,
                )
                calls, ids = callbacks(args.callbacks, MSG_ID_BASE, senders)
                skip, asked = len(fake.sent()), len(stub.requests)
                fake.clear_times()
                stub.most_in_flight = 0
                samples = asyncio.run(fire_acks(url, calls, target=True))
                rows, waited = rows_once_moved(store, calls, ids)
                health, timed_out = health_while_busy(url, 10)
                print(line("GET /healthz while the answers pend", health))
                if timed_out:
                    print(f"  /healthz: {timed_out} of 10 not answered within 5 s")
                print(
                    f"  inbox rows after the acks: {sum(rows.values())} of {len(ids)} "
                    f"({dict(rows)}) {waited * 1000:.0f} ms after the last ack (on SQLite "
                    "moved from the intake journal and opened there, elsewhere stored sealed); "
                    "200s: "
                    f"{sum(s.status == 200 for s in samples)}"
                )
                wait_for_replies(fake, len(ids), args.reply_timeout)
                first = min(s.started for s in samples)
                print_replies(fake, skip, len(ids), first, len(stub.requests) - asked)
                slow_replies = print_reply_latency(fake, samples, paced=args.paced)
                print(f"  LLM requests the stub held at once, at most: {stub.most_in_flight}")
                if args.answer_seconds > 0:
                    print(
                        f"  (at most {args.llm_concurrency} LLM calls at once / "
                        f"{args.answer_seconds:g} s = "
                        f"{args.llm_concurrency / args.answer_seconds:.1f} answers/s)"
                    )
                print(f"  inbox rows at the end: {dict(count_rows(store, inbox_keys(calls, ids)))}")
                print(f"  load at end:       {load_average()}")
            settle(store)

            instantly = "no stand-in sleep" if stand_in else "stub delay 0"
            print(f"\n== instant answers ({instantly}), a fresh server on the same store")
            print(HEADER)
            stub.delay = 0.0
            instant = dataclasses.replace(spec, stand_in_seconds=0.0 if stand_in else None)
            with running_server(instant) as url:
                if not args.cold:
                    warm_answers(url, fake, WARM_ID_BASE + 100, args.reply_timeout)
                calls, ids = callbacks(args.callbacks, MSG_ID_BASE + 10 * args.callbacks, senders)
                skip, asked = len(fake.sent()), len(stub.requests)
                fake.clear_times()
                samples = asyncio.run(fire_acks(url, calls, target=False))
                wait_for_replies(fake, len(ids), args.reply_timeout)
                first = min(s.started for s in samples)
                print(f"  inbox rows: {dict(count_rows(store, inbox_keys(calls, ids)))}")
                print_replies(fake, skip, len(ids), first, len(stub.requests) - asked)
                instant_replies = print_reply_latency(fake, samples, paced=args.paced)
                print(f"  load at end:       {load_average()}")
            print_reply_target(slow_replies, instant_replies, args.answer_seconds)
    finally:
        stub.stop()
        fake.stop()


def main() -> None:
    """Parse arguments and run."""
    summary = (__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(description=" ".join(summary.split()))
    parser.add_argument("--callbacks", type=int, default=500)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--answer-seconds", type=float, default=5.0, help="how long the stub LLM holds a request"
    )
    parser.add_argument("--url", default=None, help="PostgreSQL URL of a scratch database")
    parser.add_argument(
        "--reply-timeout", type=float, default=600.0, help="how long each phase awaits replies"
    )
    parser.add_argument(
        "--llm-timeout",
        type=float,
        default=None,
        help="LLM_TIMEOUT_SECONDS and Retriever.timeout (default: answer-seconds + 20)",
    )
    parser.add_argument(
        "--llm-concurrency", type=int, default=64, help="LLM_MAX_CONCURRENCY of the server"
    )
    parser.add_argument(
        "--no-gc-freeze", action="store_true", help="what-if: no gc.freeze() after start-up"
    )
    parser.add_argument(
        "--cold", action="store_true", help="what-if: no warm-up questions before the clock"
    )
    parser.add_argument(
        "--stand-in",
        action="store_true",
        help="no retriever: the dispatcher sleeps answer-seconds before handling",
    )
    parser.add_argument(
        "--answer-processes",
        type=int,
        default=1,
        help="ANSWER_PROCESSES (default 1, as the product's): the server only acknowledges and N "
        "processes answer; 0: answers in the server's own process",
    )
    parser.add_argument(
        "--answer-nice",
        type=int,
        default=10,
        help="ANSWER_PROCESS_NICE: the answer processes' nice increment (0: serve's priority)",
    )
    parser.add_argument(
        "--no-journal",
        action="store_true",
        help="what-if (SQLite): callbacks stored straight into the inbox, no intake journal",
    )
    parser.add_argument(
        "--no-seal",
        action="store_true",
        help="what-if: WeCom's callbacks decrypted and parsed before the 200, not stored sealed",
    )
    parser.add_argument(
        "--paced",
        action="store_true",
        help="each client (its own WeCom user) waits for its reply before its next callback",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    run(args)


if __name__ == "__main__":
    main()
