"""INBOX_LEASE_SECONDS: a message claimed by a process that died is taken again after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.console import console_message
from bot.dispatch import Dispatcher
from bot.inbox import Inbox
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
