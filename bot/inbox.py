"""The inbox: every platform message is written durably before it is acknowledged, then
processed once in the background; a restart processes what a crash left behind.

A retried delivery hits the UNIQUE (channel, msg_key) and is dropped. Processing claims the row
with a conditional UPDATE; a row stuck in "processing" past its lease is taken again, and the
note it may record is itself keyed by the message id, so a second pass writes nothing twice.

Serve stores a WeCom callback still sealed (verified, not decrypted, keyed by its signature):
on SQLite in its intake journal, whose move opens it (bot/intake_journal.py); elsewhere in the
inbox itself, and its claim opens it. The opened row takes its message's own key; a conflict
there is a repeat WeCom encrypted afresh, and the row goes, as does one holding nothing to
answer (an event). Only a process that can open a platform's sealed rows claims them.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import ColumnElement, Table, and_, delete, or_, select, update
from sqlalchemy.exc import DataError, IntegrityError

from bot.answer_loops import AnswerLoops, answer_thread_count
from bot.dispatch import Dispatcher
from bot.door import admit
from bot.intake_journal import IntakeJournal
from bot.intake_mark import IntakeMark
from crm_store.db import URGENT_POLL_SECONDS, WriterBusy
from crm_store.models import InboxMessage
from crm_store.redaction import clean_text
from crm_store.store import Store
from crm_store.upsert import insert_new
from handlers.contracts import Channel, IncomingMessage, VoiceNote
from handlers.guard import GuardedReply

log = logging.getLogger(__name__)

INBOX: Table = InboxMessage.__table__  # type: ignore[assignment]
# What a claim reads back to answer the message.
_CLAIMED = (
    "channel",
    "sender_id",
    "chat_id",
    "chat_type",
    "msg_key",
    "text",
    "received_at",
    "voice",
    "sealed",
)
# What opening a sealed row fills in (its placeholders until then).
_OPENED = ("msg_key", "sender_id", "chat_id", "chat_type", "text", "voice")

LEASE = timedelta(minutes=2)  # the default of INBOX_LEASE_SECONDS
MAX_ATTEMPTS = 3
# A reply the platform did not take for now (unreachable, rate-limited, a token refused) is
# tried again after this, not at the next look: answer processes look every 0.1 s, and three
# tries within 0.2 s left a message acknowledged and never answered after a short outage.
RETRY_AFTER = timedelta(seconds=30)
# Messages arriving while a batch commits are stored together in the next transaction.
MAX_BATCH = 200
# Answers in progress (claimed, their lease running) beyond the LLM's slots: enough to keep
# the answer threads busy with the next answers' SQL while LLM_MAX_CONCURRENCY calls are out.
# The others wait unclaimed, so none waits on an LLM slot long enough to outlive its lease.
ANSWERS_BEYOND_LLM = 8
# Acknowledgements first: an answer starts once no callback has arrived for ACK_QUIET
# seconds, or after ACK_FIRST_MAX_WAIT at most. A burst of callbacks is stored and
# acknowledged before answers (query embedding, SQL, the LLM client) take the cores; on 2
# cores the first answers of a burst otherwise pushed the acknowledgements' p99 from ~25 ms
# to 60-110 ms (bench/bench_serve.py). WeCom gives 5 s for an acknowledgement; an answer
# that starts up to a second later is not noticed next to the LLM's seconds.
ACK_QUIET = 0.02
ACK_FIRST_MAX_WAIT = 1.0
# How long a batch of callbacks waits on the event loop for SQLite's write lock (held by an
# answer's write) before its thread takes over, waiting up to the busy timeout.
LOOP_LOCK_WAIT = 0.1
MOVE_RETRY_SECONDS = 1.0

Row = dict[str, Any]  # an inbox row's values
# Opens a sealed callback (its sealed text, when it was received): the message, or None.
SealedOpener = Callable[[str, datetime], IncomingMessage | None]
# A sealed row's columns until it is opened (they are NOT NULL in the inbox).
SEALED_PLACEHOLDERS: Row = {
    "sender_id": "",
    "chat_id": "",
    "chat_type": "",
    "text": "",
    "voice": None,
    "status": "pending",
    "attempts": 0,
}

P = ParamSpec("P")
T = TypeVar("T")


class Inbox:
    """Durable accept, background processing, reply through the message's own channel."""

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        channels: Mapping[str, Channel],
        *,
        answer_here: bool = True,
        journal: IntakeJournal | None = None,
        seal: bool = False,
    ) -> None:
        """`answer_here=False`: only store and acknowledge; answer processes of their own
        (bot/answer_worker.py) claim the stored messages. `journal`: acknowledge once the
        message is in the journal (serve on SQLite, bot/intake_journal.py), then move it.
        `seal`: platforms may store callbacks sealed (serve), to be opened by the move or
        the claim (`intake_sealed`)."""
        self.store = store
        self.journal = journal
        self._seal = seal
        self.answer_here = answer_here
        self.dispatcher = dispatcher
        self.channels = channels
        # Longer than any answer takes (a second one would reply twice), short enough that a
        # restarted process answers what a killed one had claimed.
        self.lease = timedelta(seconds=store.settings.inbox_lease_seconds)
        self._tasks: set[asyncio.Task[GuardedReply | None]] = set()
        # Threads of their own, not the loop's default executor: there a few answers waiting
        # on a slow LLM took every thread, and each acknowledgement (and health check) queued
        # behind them for seconds. One thread stores: one transaction at a time (SQLite takes
        # one writer anyway), each holding every message that arrived meanwhile. Answers run
        # as tasks on a few threads' loops (bot/answer_loops.py): waiting on the LLM takes no
        # thread, so how many answers are out follows LLM_MAX_CONCURRENCY.
        self._accepting = ThreadPoolExecutor(1, thread_name_prefix="inbox-accept")
        # The move waits for the database's write lock: never in the way of storing.
        self._moving = ThreadPoolExecutor(1, thread_name_prefix="inbox-move")
        self._mover: asyncio.Task[None] | None = None
        self._move_wanted = False
        self._answering = AnswerLoops(answer_thread_count(store.db.engine))
        retriever = dispatcher.retriever
        llm_slots = retriever.gate.limit if retriever is not None and retriever.model else 0
        self.answers_at_once = llm_slots + self._answering.count + ANSWERS_BEYOND_LLM
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._waiting: list[tuple[Row, asyncio.Future[int | None]]] = []
        # Platforms whose callbacks reach the journal sealed (bot/wecom.py): how to open them.
        self._openers: dict[str, SealedOpener] = {}
        self._writer: asyncio.Task[None] | None = None
        self._last_intake = 0.0  # time.monotonic() of the latest callback taken in
        # Across processes: serve marks intake, its answer processes read the mark.
        self._mark = IntakeMark(store.settings.home)

    def accept(self, message: IncomingMessage) -> int | None:
        """Store the message; its inbox id, or None when it was already received."""
        return self.accept_many([message])[0]

    def accept_many(
        self, messages: Sequence[IncomingMessage], *, at_once: bool = False
    ) -> list[int | None]:
        """Store the messages in one transaction; for each its id, or None when it was already
        received (before, or earlier in `messages`). With a journal (serve on SQLite) the
        transaction is the journal's and the id its own: the move brings them to the inbox."""
        return self._accept_rows([self._row(m) for m in messages], at_once=at_once)

    def _row(self, message: IncomingMessage) -> Row:
        """The message's inbox row, past the door: nothing beyond the cap is stored."""
        return inbox_values(admit(message, self.store.settings.max_message_chars))

    def _accept_rows(self, rows: Sequence[Row], *, at_once: bool = False) -> list[int | None]:
        """`accept_many` of rows ready to store (opened, or sealed for the journal)."""
        first: dict[tuple[str, str], int] = {}
        for n, row in enumerate(rows):
            first.setdefault((row["channel"], row["msg_key"]), n)
        stored = self._insert(
            [row for n, row in enumerate(rows) if first[_key(row)] == n], at_once=at_once
        )
        return [
            stored.get(_key(row)) if first[_key(row)] == n else None for n, row in enumerate(rows)
        ]

    def _insert(self, values: list[dict[str, Any]], *, at_once: bool) -> dict[tuple[str, str], int]:
        """Commit the rows; the id of each added, by (channel, msg_key)."""
        if self.journal is not None:
            return self.journal.add(values, at_once=at_once)
        # Urgent: the callbacks wait for this commit; the answers' writes can wait for it. One
        # statement (MAX_BATCH rows are one INSERT), so it needs no transaction of its own.
        # `at_once`: now or WriterBusy (SQLite, on the event loop).
        db = self.store.db
        with db.one_statement_at_once() if at_once else db.one_statement(urgent=True) as conn:
            added = insert_new(
                conn,
                INBOX,
                values,
                key=("channel", "msg_key"),
                returning=("channel", "msg_key", "id"),
            )
        return {(channel, msg_key): int(inbox_id) for channel, msg_key, inbox_id in added}

    def _claim(self, inbox_id: int, now: datetime) -> IncomingMessage | None:
        """Take the message if it is pending or its lease ran out: one UPDATE ... RETURNING,
        so the write lock (on SQLite shared with the acknowledgements) is held for that
        statement alone."""
        claim = (
            update(INBOX)
            .where(INBOX.c.id == inbox_id, self._claimable(now))
            .values(status="processing", processed_at=now, attempts=INBOX.c.attempts + 1)
            .returning(*(INBOX.c[name] for name in _CLAIMED))
        )
        with self.store.db.one_statement() as conn:
            claimed = conn.execute(claim).mappings().first()
        if claimed is None:
            return None  # done, taken by another worker, or gone
        row = dict(claimed)
        if row["sealed"] is not None:
            return self._unseal(inbox_id, row)
        return _message(row)

    def _unseal(self, inbox_id: int, row: Mapping[str, Any]) -> IncomingMessage | None:
        """A claimed sealed row opened in place: it takes its message's own key and columns,
        or it goes when it holds nothing to answer or that message is in the inbox already."""
        opened = self._open_sealed(row)
        if opened is not None:
            values = {name: opened[name] for name in _OPENED}
            try:
                with self.store.db.one_statement() as conn:
                    conn.execute(
                        update(INBOX).where(INBOX.c.id == inbox_id).values(**values, sealed=None)
                    )
                return _message({**row, **values})
            except IntegrityError:
                pass  # (channel, msg_key): a repeat, encrypted afresh, of a message stored
        with self.store.db.one_statement() as conn:
            conn.execute(delete(INBOX).where(INBOX.c.id == inbox_id))
        return None

    async def _claim_and_answer(self, inbox_id: int) -> tuple[IncomingMessage, GuardedReply] | None:
        """Claim the message and answer it in one go, on an answering thread's loop: its lease
        starts when the answer starts, not while it waits for its turn."""
        message = self._claim(inbox_id, datetime.now(UTC))
        if message is None:
            return None
        return message, await self.dispatcher.handle(message)

    async def _wait_for_quiet_intake(self) -> None:
        """Let a burst of callbacks be acknowledged first."""
        deadline = time.monotonic() + ACK_FIRST_MAX_WAIT
        while time.monotonic() < deadline:
            here = time.monotonic() - self._last_intake
            quiet_for = min(here, time.time() - self._mark.last())
            if quiet_for >= ACK_QUIET:
                return
            await asyncio.sleep(ACK_QUIET - quiet_for)

    def _answer_slots(self) -> asyncio.Semaphore:
        """The running loop's bound on answers in progress (a semaphore belongs to one loop;
        tests and `drain` at start-up may run on another than the server's)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.answers_at_once))
        return self._slots[1]

    async def _answer(self, inbox_id: int) -> tuple[IncomingMessage, GuardedReply] | None:
        """Wait for a free answer slot and a quiet intake, then claim and answer."""
        async with self._answer_slots():
            await self._wait_for_quiet_intake()
            work: Coroutine[Any, Any, tuple[IncomingMessage, GuardedReply] | None]
            work = self._claim_and_answer(inbox_id)
            return await self._answering.run(work)

    def _finish(self, inbox_id: int, status: str) -> None:
        with self.store.db.one_statement() as conn:
            conn.execute(
                update(INBOX)
                .where(INBOX.c.id == inbox_id)
                .values(status=status, processed_at=datetime.now(UTC))
            )

    async def process(self, inbox_id: int) -> GuardedReply | None:
        """Answer one stored message and send the reply to the chat it came from."""
        # The dispatcher does blocking SQL: keep it off the loop that acknowledges callbacks,
        # and off the thread that stores them.
        taken = await self._answer(inbox_id)
        if taken is None:
            return None  # another worker has it, or it is done
        message, reply = taken
        channel = self.channels.get(message.channel)
        try:
            if reply.text and channel is not None:
                await channel.send(message.chat_id, reply)
        except Exception as exc:
            log.warning("reply to inbox message %s not sent: %s", inbox_id, type(exc).__name__)
            # Retryable (rate limit, timeout): answered again after RETRY_AFTER.
            status = "pending" if getattr(exc, "retryable", False) else "failed"
            await asyncio.to_thread(self._finish, inbox_id, status)
            return reply
        await asyncio.to_thread(self._finish, inbox_id, "done")
        return reply

    def unfinished(self, now: datetime) -> list[int]:
        """Messages a crash or restart left unprocessed, oldest first."""
        with self.store.db.read() as session:
            query = (
                select(INBOX.c.id)
                .where(self._claimable(now), INBOX.c.attempts < MAX_ATTEMPTS)
                .order_by(INBOX.c.id)
            )
            return list(session.scalars(query))

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        """Pending (and if its reply was refused for now, for RETRY_AFTER since), or claimed
        by a worker whose lease has run out (it died or restarted); sealed only where this
        process can open it (another process may)."""
        processed_at = INBOX.c.processed_at
        return and_(
            or_(
                and_(
                    INBOX.c.status == "pending",
                    or_(processed_at.is_(None), processed_at < now - RETRY_AFTER),
                ),
                and_(INBOX.c.status == "processing", processed_at < now - self.lease),
            ),
            or_(INBOX.c.sealed.is_(None), INBOX.c.channel.in_(sorted(self._openers))),
        )

    async def intake(self, message: IncomingMessage) -> bool:
        """Accept durably, then process in the background; False for a duplicate delivery."""
        return await self._take_in(self._row(message))

    @property
    def seals(self) -> bool:
        """Whether a platform may store its callbacks sealed (serve): `intake_sealed`."""
        return self._seal or self.journal is not None

    def open_sealed_with(self, channel: str, opener: SealedOpener) -> None:
        """How the move or the claim opens the sealed callbacks of `channel`."""
        self._openers[channel] = opener

    async def intake_sealed(self, channel: str, key: str, sealed: str) -> bool:
        """Accept a callback still sealed (verified, not yet decrypted), into the journal if
        there is one, else the inbox; the move or the claim opens it with the channel's
        opener. False for a duplicate of the same `key`."""
        row: Row = {
            **SEALED_PLACEHOLDERS,
            "channel": channel,
            "msg_key": f"sealed:{key}",
            "received_at": datetime.now(UTC),
            "sealed": sealed,
        }
        return await self._take_in(row)

    async def _take_in(self, row: Row) -> bool:
        self._last_intake = time.monotonic()
        self._mark.touch()  # for the answer processes and the quiet collector
        inbox_id = await self._store(row)
        if inbox_id is None:
            return False
        if self.journal is None:
            self._answer_later(inbox_id)
        return True

    def _answer_later(self, inbox_id: int) -> None:
        """Answer the stored message in the background (answer processes find it on their
        next look instead)."""
        if not self.answer_here:
            return
        task = asyncio.create_task(self.process(inbox_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _move_soon(self) -> None:
        """Have the journal's new rows moved into the inbox by the mover task."""
        self._move_wanted = True
        if self._mover is None or self._mover.done():
            self._mover = asyncio.get_running_loop().create_task(self._move_journal())

    async def _move_journal(self) -> None:
        """Move until the journal holds nothing unmoved; a failed move (the database out of
        reach) is tried again: the messages are acknowledged and safe in the journal."""
        assert self.journal is not None
        while self._move_wanted:
            # Answers wait for a quiet intake anyway; moving during a burst would only take
            # the interpreter lock from the loop acknowledging it.
            await self._wait_for_quiet_intake()
            self._move_wanted = False
            try:
                ids = await _in_thread(
                    self._moving, self.journal.move_into, self.store.db, self._open_sealed
                )
            except Exception as exc:
                # The type only: a database error's text can quote a row's values.
                log.warning("moving messages into the inbox failed (%s)", type(exc).__name__)
                self._move_wanted = True
                await asyncio.sleep(MOVE_RETRY_SECONDS)
                continue
            self._move_wanted = self._move_wanted or self.journal.more
            for inbox_id in ids:
                self._answer_later(inbox_id)

    async def recover_journal(self) -> int:
        """At start-up: move what a crash left in the journal; how many reached the inbox."""
        if self.journal is None:
            return 0
        moved = await _in_thread(
            self._moving, self.journal.move_all, self.store.db, self._open_sealed
        )
        return len(moved)

    def _open_sealed(self, row: Mapping[str, Any]) -> Row | None:
        """A sealed row as its inbox row (in the move's or the claim's thread); None when it
        holds nothing to answer (an event, a message answered by the platform itself) or
        cannot be opened (its platform logs why)."""
        opener = self._openers.get(row["channel"])
        if opener is None:
            log.warning("a sealed %s message has no opener here: dropped", row["channel"])
            return None
        try:
            message = opener(row["sealed"], row["received_at"])
        except Exception as exc:  # the type only: its text could quote the message
            log.error(
                "a sealed %s message could not be opened (%s): dropped",
                row["channel"],
                type(exc).__name__,
            )
            return None
        return None if message is None else self._row(message)

    async def _store(self, row: Row) -> int | None:
        """The message's inbox id once its transaction committed (group commit: a message
        waits for at most the transaction in progress, then goes in the next one)."""
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[int | None] = loop.create_future()
        self._waiting.append((row, stored))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_waiting())
        return await stored

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            rows = [row for row, _ in batch]
            try:
                ids: Sequence[int | Exception | None] | None = await self._accept_on_loop(rows)
                if ids is None:
                    ids = await _in_thread(self._accepting, self._accept_or_fail, rows)
            except BaseException as exc:  # cancelled (shutdown) or worse: nobody waits forever
                for _, stored in batch:
                    if isinstance(exc, asyncio.CancelledError):
                        stored.cancel()
                    elif not stored.done():
                        stored.set_exception(exc)
                raise
            if self.journal is not None:
                self._move_soon()
            for (_, stored), result in zip(batch, ids, strict=True):
                if stored.done() or stored.get_loop().is_closed():
                    continue  # its caller has gone; the row is stored all the same
                if isinstance(result, Exception):
                    stored.set_exception(result)
                else:
                    stored.set_result(result)

    async def _accept_on_loop(self, rows: list[Row]) -> list[int | None] | None:
        """SQLite: store the batch on the event loop, taking the write lock when it is free
        (tried every half millisecond, the loop free in between, for LOOP_LOCK_WAIT at most);
        None to hand it to the accepting thread, which waits longer or sorts out a bad row.
        bench/bench_serve.py: the batch's transaction takes 0.5-1.5 ms on the loop against
        1.5-8 ms in a thread, which waits for the interpreter lock while the loop parses the
        next callbacks."""
        if not self.store.db.is_sqlite:
            return None
        deadline = time.monotonic() + LOOP_LOCK_WAIT
        while True:
            try:
                return self._accept_rows(rows, at_once=True)
            except WriterBusy:  # an answer's write, here or in another process: short
                if time.monotonic() > deadline:
                    return None
            except Exception:  # the thread's path reports it row by row
                return None
            await asyncio.sleep(URGENT_POLL_SECONDS)

    def _accept_or_fail(self, rows: list[Row]) -> list[int | Exception | None]:
        """`_accept_rows`; a message that cannot be stored fails only its own acknowledgement,
        a database that cannot be reached fails them all."""
        try:
            return list(self._accept_rows(rows))
        except (IntegrityError, DataError) as exc:  # a bad row: store the others one by one
            if len(rows) == 1:
                return [exc]
        except Exception as exc:
            return [exc] * len(rows)
        results: list[int | Exception | None] = []
        for row in rows:
            try:
                results.append(self._accept_rows([row])[0])
            except Exception as exc:
                results.append(exc)
        return results

    def close(self) -> None:
        """Stop the inbox's threads once the answers in flight have finished."""
        self._accepting.shutdown(wait=True)
        self._moving.shutdown(wait=True)
        self._answering.close()
        if self.journal is not None:
            self.journal.close()

    async def drain(self) -> int:
        """Process every unfinished message; how many were taken."""
        ids = await asyncio.to_thread(self.unfinished, datetime.now(UTC))
        for inbox_id in ids:
            await self.process(inbox_id)
        return len(ids)


async def _in_thread(
    pool: ThreadPoolExecutor, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`asyncio.to_thread` on a given pool (context variables travel along the same way)."""
    context = contextvars.copy_context()
    bound = functools.partial(context.run, call, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, bound)


def inbox_values(message: IncomingMessage) -> dict[str, Any]:
    """A new inbox row's values for `message`."""
    return {
        "channel": message.channel,
        "msg_key": message.msg_id,
        "sender_id": message.sender_id,
        "chat_id": message.chat_id,
        "chat_type": message.chat_type,
        "text": clean_text(message.text),  # as the note keeps it: no secret stored
        "voice": voice_to_json(message.voice),
        "received_at": message.received_at,
        "status": "pending",
        "attempts": 0,
    }


def voice_to_json(voice: VoiceNote | None) -> str | None:
    """A voice message's platform reference for its inbox row (the audio is never stored)."""
    if voice is None:
        return None
    return json.dumps(
        {"ref": voice.ref, "format": voice.format, "seconds": voice.seconds, "size": voice.size}
    )


def _message(row: Mapping[str, Any]) -> IncomingMessage:
    """The message a claimed (or opened) inbox row holds."""
    return IncomingMessage(
        channel=row["channel"],
        sender_id=row["sender_id"],
        chat_id=row["chat_id"],
        chat_type=row["chat_type"],
        msg_id=row["msg_key"],
        text=row["text"],
        received_at=row["received_at"],
        voice=voice_from_json(row["voice"]),
    )


def voice_from_json(stored: str | None) -> VoiceNote | None:
    """The reference `voice_to_json` stored, or None for a text message."""
    if not stored:
        return None
    data = json.loads(stored)
    return VoiceNote(
        ref=str(data["ref"]),
        format=str(data["format"]),
        seconds=data.get("seconds"),
        size=data.get("size"),
    )


def _key(row: Row) -> tuple[str, str]:
    return (row["channel"], row["msg_key"])
