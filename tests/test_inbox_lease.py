"""INBOX_LEASE_SECONDS: a message claimed by a process that died is taken again after it; a
reply the platform refused for now is tried again after RETRY_AFTER, not at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.console import console_message
from bot.dispatch import Dispatcher
from bot.inbox import RETRY_AFTER, Inbox
from crm_store.models import InboxMessage
from crm_store.store import Store
from tests.conftest import make_settings


def test_a_claimed_message_is_taken_again_after_the_configured_lease(store: Store) -> None:
    short = Store(
        make_settings(store.settings.bankbot_home, store.settings.db_url, INBOX_LEASE_SECONDS="10"),
        store.db,
        store.cipher,
    )
    inbox = Inbox(short, Dispatcher(short), {})
    now = datetime.now(UTC)
    inbox_id = inbox.accept(console_message("rm1", "帮助", now))
    assert inbox_id is not None

    def claimed(seconds_ago: int) -> list[int]:
        with short.db.write() as session:  # as a process killed after its claim leaves it
            session.execute(
                update(InboxMessage)
                .where(InboxMessage.id == inbox_id)
                .values(status="processing", processed_at=now - timedelta(seconds=seconds_ago))
            )
        return inbox.unfinished(now)

    assert claimed(9) == []  # its process may still be answering
    assert claimed(11) == [inbox_id]
    assert inbox.lease == timedelta(seconds=10)


class Unreachable(Exception):
    """What a channel raises when its platform cannot take the reply for now."""

    retryable = True


class DownChannel:
    """A platform that is down: every send fails, retryably."""

    def __init__(self) -> None:
        self.tries = 0

    async def send(self, chat_id: str, reply: object) -> None:
        self.tries += 1
        raise Unreachable


def test_a_reply_the_platform_refused_for_now_is_tried_again_after_a_while(
    store: Store,
) -> None:
    down = DownChannel()
    inbox = Inbox(store, Dispatcher(store), {"console": down}, answer_here=False)
    received = datetime.now(UTC)
    inbox_id = inbox.accept(console_message("rm1", "帮助", received))
    assert inbox_id is not None

    asyncio.run(inbox.process(inbox_id))
    assert down.tries == 1
    with store.db.read() as session:
        row = session.get(InboxMessage, inbox_id)
        assert row is not None and (row.status, row.attempts) == ("pending", 1)
        tried_at = row.processed_at
    assert tried_at is not None
    # Not at the next look (answer processes look every 0.1 s): after RETRY_AFTER.
    assert inbox.unfinished(tried_at + timedelta(seconds=1)) == []
    assert inbox.unfinished(tried_at + RETRY_AFTER + timedelta(seconds=1)) == [inbox_id]
    inbox.close()
