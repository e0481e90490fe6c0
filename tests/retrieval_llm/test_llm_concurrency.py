"""LLM calls in flight follow LLM_MAX_CONCURRENCY, not a number of threads.

The stub counts the requests it holds at once; the assertions are on that count (and on
how many slots were used), never on wall time alone. Store-touching tests run on SQLite and
PostgreSQL, through the real inbox, dispatcher, index (e5 in embedded Chroma) and ChatOpenAI.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from crm_store import conversation
from crm_store.models import AuditLog, ConversationState, InboxMessage
from crm_store.store import Store
from handlers import intents
from handlers.contracts import IncomingMessage
from retrieval.answer import NoteForPrompt, compose_answer
from retrieval.connect import open_index
from retrieval.embeddings import E5Embeddings
from retrieval.llm_gate import LlmGate, LlmInWriteTransaction
from retrieval.search import Retriever
from retrieval.sync import drain_outbox
from tests.retrieval.conftest import local_config, record_notes
from tests.retrieval_llm.conftest import ModelFactory
from tests.retrieval_llm.stub_llm import STUB_ANSWER, StubLLM
from tests.wecom.fakes import wait_until

DELAY = 0.4  # seconds the stub holds each request
NOTE = NoteForPrompt("n1", "c1", "张伟", datetime(2026, 11, 20).date(), "客户对基金感兴趣。")
QUESTION = "张伟上次聊了什么？"


async def ask_many(model: object, gate: LlmGate, n: int) -> list[bool]:
    """`n` answers at once through `gate`; for each, whether the model answered it."""

    async def one() -> bool:
        answer = await compose_answer(
            model,  # type: ignore[arg-type]
            question=QUESTION,
            notes=[NOTE],
            timeout=30.0,
            gate=gate,
        )
        return answer.used_llm

    return list(await asyncio.gather(*(one() for _ in range(n))))


@pytest.mark.parametrize(("n", "limit"), [(12, 4), (10, 3), (6, 8)])
def test_calls_in_flight_never_exceed_the_limit(
    stub: StubLLM, chat_model: ModelFactory, n: int, limit: int
) -> None:
    stub.delay = DELAY
    gate = LlmGate(limit)
    try:
        started = time.monotonic()
        answered = asyncio.run(ask_many(chat_model("normal", timeout=30.0), gate, n))
        took = time.monotonic() - started
    finally:
        gate.close()
    assert answered == [True] * n
    assert stub.most_in_flight == min(n, limit)  # the limit is reached, never passed
    assert gate.most_in_flight == min(n, limit)
    # ceil(n / limit) rounds of the stub's delay at least: nobody overtook the limit.
    assert took >= math.ceil(n / limit) * DELAY * 0.95


def test_the_gate_serves_callers_from_any_thread_and_loop(
    stub: StubLLM, chat_model: ModelFactory
) -> None:
    """Answers on several threads' loops share one limit (as the inbox's answer threads do)."""
    stub.delay = DELAY
    gate, model = LlmGate(3), chat_model("normal", timeout=30.0)
    results: list[list[bool]] = []
    try:
        with ThreadPoolExecutor(4) as pool:
            runs = [pool.submit(asyncio.run, ask_many(model, gate, 3)) for _ in range(4)]
            results = [run.result() for run in runs]
    finally:
        gate.close()
    assert results == [[True] * 3] * 4
    assert stub.most_in_flight == 3


async def two_answers(
    model: object, gate: LlmGate, first_timeout: float, second_timeout: float
) -> list[str]:
    """Two answers at once (the first asks 0.1 s earlier), their texts."""

    async def one(timeout: float, after: float) -> str:
        await asyncio.sleep(after)
        answer = await compose_answer(
            model,  # type: ignore[arg-type]
            question=QUESTION,
            notes=[NOTE],
            timeout=timeout,
            gate=gate,
        )
        return answer.text

    return list(await asyncio.gather(one(first_timeout, 0.0), one(second_timeout, 0.1)))


def test_a_timed_out_call_frees_its_slot(stub: StubLLM, chat_model: ModelFactory) -> None:
    stub.delay = 1.0
    gate = LlmGate(1)
    try:
        first, second = asyncio.run(two_answers(chat_model("normal"), gate, 0.5, 3.0))
    finally:
        stub.release.set()
        gate.close()
    assert "智能回答暂不可用" in first  # the fallback after its timeout
    assert STUB_ANSWER in second  # the slot it left, within its own timeout
    # The stub still held the abandoned request a while; the gate counts what its client has out.
    assert gate.most_in_flight == 1 and len(stub.requests) == 2


def test_waiting_past_the_timeout_for_a_slot_falls_back_without_a_call(
    stub: StubLLM, chat_model: ModelFactory
) -> None:
    stub.delay = 1.0
    gate = LlmGate(1)
    try:
        first, second = asyncio.run(two_answers(chat_model("normal"), gate, 3.0, 0.3))
    finally:
        stub.release.set()
        gate.close()
    assert STUB_ANSWER in first
    assert "智能回答暂不可用" in second
    assert len(stub.requests) == 1 and stub.most_in_flight == 1


def test_no_llm_call_inside_a_write_transaction(store: Store, chat_model: ModelFactory) -> None:
    gate = LlmGate(2)

    async def inside() -> None:
        with store.db.write():
            await gate.call(lambda: asyncio.sleep(0), timeout=1.0)

    try:
        with pytest.raises(LlmInWriteTransaction):
            asyncio.run(inside())
    finally:
        gate.close()


# --- through the inbox ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def e5() -> E5Embeddings:
    """The bundled embeddings model, loaded once for the module's tests."""
    return E5Embeddings()


@pytest.fixture
def answering(
    store: Store, stub: StubLLM, chat_model: ModelFactory, e5: E5Embeddings
) -> Iterator[tuple[Inbox, Retriever]]:
    """An inbox answering questions with the real index and ChatOpenAI, LLM limit 3."""
    record_notes(store)
    index = open_index(store.settings, config=local_config(), embeddings=e5)
    drain_outbox(store, index)
    model = chat_model("normal", timeout=30.0)
    retriever = Retriever(index, model, timeout=30.0, gate=LlmGate(3))
    inbox = Inbox(store, Dispatcher(store, retriever=retriever), {})
    try:
        yield inbox, retriever
    finally:
        stub.release.set()
        inbox.close()
        retriever.close()


def question(n: int, text: str = QUESTION) -> IncomingMessage:
    """A console question from rm1 (whose customers include 张伟)."""
    return IncomingMessage("console", "rm1", "rm1", "private", f"q{n}", text, datetime.now(UTC))


def test_inbox_answers_follow_the_llm_limit_and_hold_no_connection(
    store: Store, stub: StubLLM, answering: tuple[Inbox, Retriever]
) -> None:
    inbox, retriever = answering
    limit, n = retriever.gate.limit, 10
    assert inbox.answers_at_once > limit  # more claimed than the LLM takes: a queue at the gate
    stub.delay = 30.0  # until released
    pool = store.db.engine.pool

    async def run() -> None:
        taken = [await inbox.intake(question(k)) for k in range(n)]
        assert taken == [True] * n
        # Every LLM slot is taken, the other answers wait for one, and no connection is out.
        await asyncio.to_thread(
            wait_until,
            lambda: stub.in_flight == limit and pool.checkedout() == 0,  # type: ignore[attr-defined]
            20.0,
        )
        stub.release.set()
        while inbox._tasks:
            await asyncio.gather(*inbox._tasks)

    asyncio.run(run())
    assert stub.most_in_flight == limit
    assert len(stub.requests) == n
    with store.db.read() as session:
        statuses = session.scalars(select(InboxMessage.status)).all()
        audits = session.scalars(select(AuditLog).where(AuditLog.intent == "question")).all()
    assert statuses == ["done"] * n
    assert len(audits) == n and all("model=stub-normal" in a.detail for a in audits)


def test_a_chosen_question_is_answered_by_the_llm_outside_the_write_transaction(
    store: Store, stub: StubLLM, answering: tuple[Inbox, Retriever]
) -> None:
    """'1' picking "question" from "which did you mean?" asks the LLM like any question
    (before, it asked it inside the write transaction that settled the choice)."""
    inbox, _ = answering
    options = [
        {"name": intents.QUESTION, "args": {"text": QUESTION}},
        {"name": intents.NOTE, "args": {"content": QUESTION}},
    ]
    with store.db.write() as session:
        conversation.remember(
            session,
            channel="console",
            staff_id="rm1",
            kind=conversation.CLARIFY,
            payload={"action": "intent", "options": options, "candidates": []},
            expires_at=datetime.now(store.settings.tz).replace(year=2100),
        )

    reply = asyncio.run(inbox.dispatcher.handle(question(1, "1")))
    assert STUB_ANSWER.split("，")[-1] in reply.text  # the model's answer, not the fallback
    assert len(stub.requests) == 1
    with store.db.read() as session:
        pending = session.scalar(
            select(func.count()).where(ConversationState.kind == conversation.CLARIFY)
        )
    assert pending == 0  # the choice is settled
