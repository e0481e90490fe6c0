"""Serve on SQLite stores a WeCom callback still sealed (verified, not decrypted) in its
intake journal before the 200, and the move opens it: the message's text is never at rest in
plain text there, a crash leaves sealed rows that the next start opens, and a journal file
from before sealed rows is brought up to date."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.intake_journal import IntakeJournal, journal_path
from bot.wecom import WeComAdapter
from crm_store.models import InboxMessage
from crm_store.store import Store
from tests.wecom.fakes import FakeWeCom, envelope, text_xml
from tests.wecom.test_wecom_callback import wecom_store

SQLITE_ONLY = pytest.mark.parametrize("engine_name", ["sqlite"])
SECRET_TEXT = "刚和张伟通话，他想了解大额存单，下周二回访"
RECEIVED = datetime(2026, 12, 7, 1, 30, tzinfo=UTC)
OLD_JOURNAL = """CREATE TABLE intake_journal (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, channel VARCHAR(16) NOT NULL,
    msg_key VARCHAR(128) NOT NULL, sender_id VARCHAR(128) NOT NULL,
    chat_id VARCHAR(128) NOT NULL, chat_type VARCHAR(16) NOT NULL, text TEXT NOT NULL,
    received_at DATETIME NOT NULL, status VARCHAR(12) NOT NULL, voice TEXT,
    attempts INTEGER NOT NULL, processed_at DATETIME, UNIQUE (channel, msg_key))"""


def sealed_row(adapter: WeComAdapter, msg_id: str, text: str = SECRET_TEXT) -> dict[str, object]:
    """The journal row the door writes for one callback (its signature checked)."""
    params, body = envelope(text_xml("wangfang", text, msg_id, int(time.time())))
    sealed = adapter.crypto.check_sealed(
        body, params["msg_signature"], params["timestamp"], params["nonce"]
    )
    return {
        "channel": "wecom",
        "msg_key": f"sealed:{params['msg_signature']}",
        "sender_id": "",
        "chat_id": "",
        "chat_type": "",
        "text": "",
        "voice": None,
        "received_at": RECEIVED,
        "status": "pending",
        "attempts": 0,
        "sealed": sealed,
    }


def inbox_messages(store: Store) -> list[tuple[str, str, str, datetime]]:
    with store.db.read() as session:
        query = select(
            InboxMessage.msg_key,
            InboxMessage.sender_id,
            InboxMessage.text,
            InboxMessage.received_at,
        )
        return [tuple(row) for row in session.execute(query.order_by(InboxMessage.id))]


@dataclass
class Bank:
    """The test store with WeCom configured, its adapter and the journal's file."""

    store: Store
    adapter: WeComAdapter
    path: Path

    def journal(self, *rows: dict[str, object]) -> IntakeJournal:
        """The journal holding `rows`, as the door wrote them."""
        journal = IntakeJournal(self.path)
        journal.add(list(rows))
        return journal

    def start(self, journal: IntakeJournal, *, wecom: bool = True) -> int:
        """What serve's start-up does with the journal: how many messages reached the inbox."""
        inbox = Inbox(self.store, Dispatcher(self.store), {}, answer_here=False, journal=journal)
        if wecom:
            self.adapter.routes(inbox)  # registers the opener, as serve's app does
        try:
            return asyncio.run(inbox.recover_journal())
        finally:
            inbox.close()


@pytest.fixture
def bank(store: Store, fake: FakeWeCom) -> Bank:
    configured = wecom_store(store, fake)
    path = journal_path(configured.settings.db_url)
    assert path is not None
    return Bank(configured, WeComAdapter.from_settings(configured), path)


@SQLITE_ONLY
def test_the_journal_holds_the_message_sealed_and_a_restart_opens_it(bank: Bank) -> None:
    journal = bank.journal(sealed_row(bank.adapter, "9100000000000000001"))
    journal.db.dispose()  # serve killed before the move: the row stays

    on_disk = bank.path.read_bytes()
    assert SECRET_TEXT.encode() not in on_disk and "张伟".encode() not in on_disk
    assert b"wangfang" not in on_disk  # nor who sent it

    assert bank.start(IntakeJournal(bank.path)) == 1
    ((key, sender, text, received_at),) = inbox_messages(bank.store)
    assert (key, sender) == ("9100000000000000001", "wangfang")
    assert text == SECRET_TEXT and received_at == RECEIVED  # the time of the 200, not the move


@SQLITE_ONLY
def test_a_sealed_row_that_does_not_open_is_dropped_and_the_rest_move(
    bank: Bank, caplog: pytest.LogCaptureFixture
) -> None:
    broken = {**sealed_row(bank.adapter, "9100000000000000002"), "sealed": "bm90IHNlYWxlZA=="}
    journal = bank.journal(broken, sealed_row(bank.adapter, "9100000000000000003"))
    with caplog.at_level(logging.WARNING):
        assert bank.start(journal) == 1
    assert [key for key, *_ in inbox_messages(bank.store)] == ["9100000000000000003"]
    assert "refused when opened: malformed body" in caplog.text


@SQLITE_ONLY
def test_a_sealed_row_without_its_platform_is_dropped_with_a_warning(
    bank: Bank, caplog: pytest.LogCaptureFixture
) -> None:
    journal = bank.journal(sealed_row(bank.adapter, "9100000000000000004"))
    with caplog.at_level(logging.WARNING):
        assert bank.start(journal, wecom=False) == 0
    assert inbox_messages(bank.store) == []
    assert "sealed wecom message has no opener here: dropped" in caplog.text


@SQLITE_ONLY
def test_a_journal_from_before_sealed_rows_gets_their_column_and_keeps_its_rows(
    store: Store,
) -> None:
    path = journal_path(store.settings.db_url)
    assert path is not None
    with sqlite3.connect(path) as conn:  # the table as the previous release made it
        conn.execute(OLD_JOURNAL)
        conn.execute(
            "INSERT INTO intake_journal (channel, msg_key, sender_id, chat_id, chat_type, "
            "text, received_at, status, attempts) VALUES ('wecom', 'old1', 'wangfang', "
            "'wangfang', 'private', '今天有什么安排', '2026-12-07 01:30:00.000000', 'pending', 0)"
        )
    journal = IntakeJournal(path)
    try:
        assert len(journal.move_all(store.db, _no_sealed_rows)) == 1
    finally:
        journal.close()
    assert inbox_messages(store) == [("old1", "wangfang", "今天有什么安排", RECEIVED)]


def _no_sealed_rows(row: object) -> None:
    raise AssertionError(f"a journal row from before sealing was taken for sealed: {row}")
