"""The inbox: every platform message is written durably before it is acknowledged, then
processed once in the background; a restart processes what a crash left behind.

A retried delivery hits the UNIQUE (channel, msg_key) and is dropped. Processing claims the row
with a conditional UPDATE; a row stuck in "processing" past its lease is taken again, and the
note it may record is itself keyed by the message id, so a second pass writes nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update

from bot.dispatch import Dispatcher
from crm_store.models import InboxMessage
from crm_store.store import Store
from crm_store.upsert import insert_for
from handlers.contracts import Channel, IncomingMessage, Reply

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 3


class Inbox:
    """Durable accept, background processing, reply through the message's own channel."""

    def __init__(
        self, store: Store, dispatcher: Dispatcher, channels: Mapping[str, Channel]
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.channels = channels
        self._tasks: set[asyncio.Task[Reply | None]] = set()

    def accept(self, message: IncomingMessage) -> int | None:
        """Store the message; its inbox id, or None when it was already received."""
        with self.store.db.write() as session:
            statement = insert_for(session, InboxMessage).values(
                channel=message.channel,
                msg_key=message.msg_id,
                sender_id=message.sender_id,
                chat_id=message.chat_id,
                chat_type=message.chat_type,
                text=message.text,
                received_at=message.received_at,
                status="pending",
                attempts=0,
            )
            statement = statement.on_conflict_do_nothing(index_elements=["channel", "msg_key"])
            row = session.execute(statement.returning(InboxMessage.id)).first()
        return int(row[0]) if row else None

    def _claim(self, inbox_id: int, now: datetime) -> IncomingMessage | None:
        with self.store.db.write() as session:
            row = session.get(InboxMessage, inbox_id)
            if row is None:
                return None
            claimable = or_(
                InboxMessage.status == "pending",
                and_(InboxMessage.status == "processing", InboxMessage.processed_at < now - LEASE),
            )
            taken = session.execute(
                update(InboxMessage)
                .where(InboxMessage.id == inbox_id, claimable)
                .values(status="processing", processed_at=now, attempts=row.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return IncomingMessage(
                channel=row.channel,
                sender_id=row.sender_id,
                chat_id=row.chat_id,
                chat_type=row.chat_type,  # type: ignore[arg-type]
                msg_id=row.msg_key,
                text=row.text,
                received_at=row.received_at,
            )

    def _finish(self, inbox_id: int, status: str) -> None:
        with self.store.db.write() as session:
            session.execute(
                update(InboxMessage)
                .where(InboxMessage.id == inbox_id)
                .values(status=status, processed_at=datetime.now(UTC))
            )

    async def process(self, inbox_id: int) -> Reply | None:
        """Answer one stored message and send the reply to the chat it came from."""
        message = await asyncio.to_thread(self._claim, inbox_id, datetime.now(UTC))
        if message is None:
            return None  # another worker has it, or it is done
        # The dispatcher does blocking SQL: keep it off the loop that acknowledges callbacks.
        reply = await asyncio.to_thread(_run, self.dispatcher, message)
        channel = self.channels.get(message.channel)
        try:
            if reply.text and channel is not None:
                await channel.send(message.chat_id, reply)
        except Exception as exc:
            log.warning("reply to inbox message %s not sent: %s", inbox_id, type(exc).__name__)
            # Retryable (rate limit, timeout): the periodic drain sends it again.
            status = "pending" if getattr(exc, "retryable", False) else "failed"
            await asyncio.to_thread(self._finish, inbox_id, status)
            return reply
        await asyncio.to_thread(self._finish, inbox_id, "done")
        return reply

    def unfinished(self, now: datetime) -> list[int]:
        """Messages a crash or restart left unprocessed, oldest first."""
        with self.store.db.read() as session:
            query = (
                select(InboxMessage.id)
                .where(
                    or_(
                        InboxMessage.status == "pending",
                        and_(
                            InboxMessage.status == "processing",
                            InboxMessage.processed_at < now - LEASE,
                        ),
                    ),
                    InboxMessage.attempts < MAX_ATTEMPTS,
                )
                .order_by(InboxMessage.id)
            )
            return list(session.scalars(query))

    async def intake(self, message: IncomingMessage) -> bool:
        """Accept durably, then process in the background; False for a duplicate delivery."""
        inbox_id = await asyncio.to_thread(self.accept, message)
        if inbox_id is None:
            return False
        task = asyncio.create_task(self.process(inbox_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def drain(self) -> int:
        """Process every unfinished message; how many were taken."""
        ids = await asyncio.to_thread(self.unfinished, datetime.now(UTC))
        for inbox_id in ids:
            await self.process(inbox_id)
        return len(ids)


def _run(dispatcher: Dispatcher, message: IncomingMessage) -> Reply:
    return asyncio.run(dispatcher.handle(message))
