"""Without an intake journal (PostgreSQL), serve stores a WeCom callback still sealed in the
inbox itself and the claim opens it: the row holds no text and no sender until then, takes its
MsgId once opened (a repeat encrypted afresh then goes), a row holding nothing to answer goes,
and a process that cannot open WeCom's rows leaves them to one that can. Both engines."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import select

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.wecom import WeComAdapter
from crm_store.models import InboxMessage
from crm_store.store import Store
from tests.wecom.fakes import FakeWeCom, envelope, payload, text_xml
from tests.wecom.test_wecom_callback import wecom_store

SECRET_TEXT = "刚和张伟通话，他想了解大额存单，下周二回访"
FAR_FUTURE = datetime(2100, 1, 1).astimezone()


@dataclass(frozen=True)
class Stored:
    """One inbox row as the test reads it."""

    msg_key: str
    sender_id: str
    text: str
    status: str
    sealed: str | None


@dataclass
class Bank:
    """The test store with WeCom configured and its adapter."""

    store: Store
    adapter: WeComAdapter

    def inbox(self, *, opens_wecom: bool = True) -> Inbox:
        """An inbox as serve's (it seals; without a journal, in the inbox), answered by the
        test, with or without the WeCom opener (serve's routes register it, as an answer
        process does)."""
        inbox = Inbox(self.store, Dispatcher(self.store), {}, answer_here=False, seal=True)
        if opens_wecom:
            self.adapter.routes(inbox)
        return inbox

    def take_in(self, inbox: Inbox, inner_xml: str) -> bool:
        """One callback as the door stores it: verified, still sealed."""
        params, body = envelope(inner_xml)
        signature = params["msg_signature"]
        sealed = self.adapter.crypto.check_sealed(
            body, signature, params["timestamp"], params["nonce"]
        )
        return asyncio.run(inbox.intake_sealed("wecom", signature, sealed))

    def rows(self) -> list[Stored]:
        with self.store.db.read() as session:
            query = select(
                InboxMessage.msg_key,
                InboxMessage.sender_id,
                InboxMessage.text,
                InboxMessage.status,
                InboxMessage.sealed,
            ).order_by(InboxMessage.id)
            return [Stored(*row) for row in session.execute(query)]


@pytest.fixture
def bank(store: Store, fake: FakeWeCom) -> Bank:
    configured = wecom_store(store, fake)
    return Bank(configured, WeComAdapter.from_settings(configured))


def text_message(msg_id: str, text: str = SECRET_TEXT) -> str:
    return text_xml("wangfang", text, msg_id, int(time.time()))


def process_all(inbox: Inbox) -> None:
    """Claim and answer every claimable row, as the drain does."""

    async def run() -> None:
        for inbox_id in inbox.unfinished(FAR_FUTURE):
            await inbox.process(inbox_id)

    asyncio.run(run())


def test_the_row_holds_nothing_readable_until_its_claim_opens_it(bank: Bank) -> None:
    inbox = bank.inbox()
    try:
        assert bank.take_in(inbox, text_message("9200000000000000001"))
        (row,) = bank.rows()
        assert row.msg_key.startswith("sealed:") and row.sealed
        assert (row.sender_id, row.text, row.status) == ("", "", "pending")
        assert SECRET_TEXT not in row.sealed and "wangfang" not in row.sealed

        process_all(inbox)
        assert bank.rows() == [Stored("9200000000000000001", "wangfang", SECRET_TEXT, "done", None)]
    finally:
        inbox.close()


def test_a_repeat_encrypted_afresh_goes_once_opened(bank: Bank) -> None:
    inbox = bank.inbox()
    try:
        message = text_message("9200000000000000002")
        assert bank.take_in(inbox, message) and bank.take_in(inbox, message)
        assert len(bank.rows()) == 2  # two signatures: the door cannot tell them apart
        process_all(inbox)
        assert [(r.msg_key, r.status) for r in bank.rows()] == [("9200000000000000002", "done")]
    finally:
        inbox.close()


def test_rows_holding_nothing_to_answer_go(bank: Bank, caplog: pytest.LogCaptureFixture) -> None:
    inbox = bank.inbox()
    event = payload("event-enter-agent.xml").replace("1764554401", str(int(time.time())))
    try:
        assert bank.take_in(inbox, event)
        assert asyncio.run(inbox.intake_sealed("wecom", "forged", "bm90IHNlYWxlZA=="))
        assert bank.take_in(inbox, text_message("9200000000000000003"))
        with caplog.at_level(logging.WARNING):
            process_all(inbox)
        assert [r.msg_key for r in bank.rows()] == ["9200000000000000003"]
        assert "refused when opened: malformed body" in caplog.text
    finally:
        inbox.close()


def test_a_process_that_cannot_open_them_leaves_them_to_one_that_can(bank: Bank) -> None:
    without = bank.inbox(opens_wecom=False)
    try:
        assert bank.take_in(without, text_message("9200000000000000004"))
        (row,) = bank.rows()
        assert without.unfinished(FAR_FUTURE) == []
        process_all(without)
        assert bank.rows() == [row]  # untouched: still pending, still sealed
    finally:
        without.close()
    able = bank.inbox()
    try:
        process_all(able)
        assert [(r.msg_key, r.status) for r in bank.rows()] == [("9200000000000000004", "done")]
    finally:
        able.close()
