"""The WeCom callback end to end: uvicorn on loopback, the real app, inbox and dispatcher,
the test bank, and replies going out to the fake WeCom API. Each test runs twice: the inbox
alone, and as serve stores callbacks, still sealed, opened after the 200 (bot/wecom.py): on
SQLite by the intake journal's move, on PostgreSQL by the inbox's claim."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from wechatpy.enterprise.crypto import WeChatCrypto

from bot import metrics
from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.serve import open_journal
from bot.token_cache import RedisTokenStore
from bot.web import build_app
from bot.wecom import WeComAdapter
from bot.wecom_crypto import WeComConfigError
from crm_store.crypto import FieldCipher, decode_key
from crm_store.db import Database, make_engine
from crm_store.models import ChannelIdentity, InboxMessage, Interaction
from crm_store.store import Store
from handlers.texts import t
from tests.conftest import TEST_KEY, make_settings
from tests.wecom.fakes import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    REDIS_TEST_URL,
    SECRET,
    TOKEN,
    FakeWeCom,
    envelope,
    payload,
    serve,
    text_xml,
    wait_until,
)
from tests.world import build_world

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CIPHER = FieldCipher(decode_key(TEST_KEY))
NOTE = "记录：刚和张伟通话，他想了解大额存单，下周二回访"


@dataclass
class Served:
    """The running app and what the tests look at."""

    url: str
    store: Store
    fake: FakeWeCom
    sealed: bool  # stored as serve does: opened by the move or the claim, after the 200

    def post(self, inner_xml: str, **options: object) -> httpx.Response:
        """One callback, encrypted and signed like WeCom's."""
        params, body = envelope(inner_xml, **options)  # type: ignore[arg-type]
        return httpx.post(f"{self.url}/wecom/callback", params=params, content=body)

    def count(self, model: type, **where: object) -> int:
        """Rows of `model` matching `where`."""
        with self.store.db.read() as session:
            query = select(func.count()).select_from(model).filter_by(**where)
            return int(session.scalar(query) or 0)

    def wait_processed(self) -> None:
        """Until no inbox row is waiting or being answered."""
        wait_until(lambda: self.waiting() == 0)

    def wait_stored(self, msg_key: str) -> None:
        """Until the message is in the inbox (at its 200 without a journal)."""
        wait_until(lambda: self.count(InboxMessage, channel="wecom", msg_key=msg_key) == 1, 5)

    def waiting(self) -> int:
        """Inbox rows not answered yet."""
        with self.store.db.read() as session:
            query = select(func.count()).where(InboxMessage.status.in_(("pending", "processing")))
            return int(session.scalar(query) or 0)


def wecom_store(store: Store, fake: FakeWeCom, **extra: str) -> Store:
    """The test store with WeCom configured against the fake."""
    settings = make_settings(
        store.settings.home,
        store.settings.db_url,
        **extra,
        WECOM_CORP_ID=CORP_ID,
        WECOM_AGENT_ID=str(AGENT_ID),
        WECOM_SECRET=SECRET,
        WECOM_TOKEN=TOKEN,
        WECOM_AES_KEY=AES_KEY,
        WECOM_API_BASE_URL=fake.base_url,
    )
    return Store(settings, store.db, store.cipher)


@pytest.fixture(params=["direct", "sealed"])
def served(store: Store, fake: FakeWeCom, request: pytest.FixtureRequest) -> Iterator[Served]:
    sealed = request.param == "sealed"
    build_world(store)
    with store.db.write() as session:
        session.add(
            ChannelIdentity(channel="wecom", external_id="wangfang", staff_id="rm1", bound_at=NOW)
        )
    bank = wecom_store(store, fake)
    adapter = WeComAdapter.from_settings(bank)
    journal = open_journal(bank) if sealed else None
    dispatcher = Dispatcher(bank, clock=lambda: NOW)
    channels = {"wecom": adapter.channel}
    inbox = Inbox(bank, dispatcher, channels, journal=journal, seal=sealed)
    with serve(build_app(bank, inbox, [adapter])) as url:
        yield Served(url, bank, fake, sealed)


def outcomes(outcome: str) -> float:
    """How many WeCom callbacks this process counted with `outcome`."""
    labels = {"channel": "wecom", "outcome": outcome}
    return metrics.REGISTRY.get_sample_value("bankbot_callbacks_total", labels) or 0.0


def test_text_message_is_stored_acknowledged_and_answered(served: Served) -> None:
    started = time.perf_counter()
    answer = served.post(
        text_xml("wangfang", "查一下张伟", "7434873429347234234", int(time.time()))
    )
    assert answer.status_code == 200 and answer.content == b""
    assert time.perf_counter() - started < 1.0
    if not served.sealed:  # stored at the 200; sealed, it takes its MsgId once opened
        assert served.count(InboxMessage, channel="wecom", msg_key="7434873429347234234") == 1
    served.wait_stored("7434873429347234234")
    wait_until(lambda: len(served.fake.sent("wangfang")) == 1)
    reply = served.fake.sent("wangfang")[0]["text"]["content"]
    assert "张伟" in reply and "138****5678" in reply and "13812345678" not in reply
    served.wait_processed()
    assert served.count(InboxMessage, status="done") == 1
    health = httpx.get(f"{served.url}/healthz").json()
    assert health["channels"] == {"wecom": True}


def test_refused_callbacks_store_and_send_nothing(served: Served) -> None:
    before = outcomes("refused")
    inner = text_xml("wangfang", "查一下张伟", "9000000000000000001", int(time.time()))
    params, body = envelope(inner)
    bad_signature = {**params, "msg_signature": "0" * 40}
    wrong_corp = envelope(inner, corp_id="ww0000000000000000")
    stale = envelope(inner, timestamp=int(time.time()) - 301)
    forged = [(bad_signature, body), stale, (params, b"<xml>broken")]
    for query, content in forged:
        answer = httpx.post(f"{served.url}/wecom/callback", params=query, content=content)
        assert answer.status_code == 403 and answer.content == b""
    # Signed with the token but sealed for another corp id: refused at once, or (sealed) when
    # opened, after a 200 its signature earned.
    answer = httpx.post(f"{served.url}/wecom/callback", params=wrong_corp[0], content=wrong_corp[1])
    assert answer.status_code == (200 if served.sealed else 403) and answer.content == b""
    wait_until(lambda: outcomes("refused") - before == len(forged) + 1, 5)
    served.wait_processed()  # a sealed row that does not open is deleted by its claim
    assert served.count(InboxMessage) == 0
    assert served.fake.sent() == []


def test_same_message_four_times_makes_one_note_and_one_reply(served: Served) -> None:
    inner = text_xml("wangfang", NOTE, "7434873429347234299", int(time.time()))

    async def twice_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=served.url) as client:
            params, body = envelope(inner)
            calls = [client.post("/wecom/callback", params=params, content=body) for _ in "ab"]
            return await asyncio.gather(*calls)

    accepted, duplicates = outcomes("accepted"), outcomes("duplicate")
    answers = [served.post(inner), *asyncio.run(twice_at_once())]
    served.wait_processed()
    answers.append(served.post(inner))  # a retry after the answer went out
    served.wait_processed()
    assert [a.status_code for a in answers] == [200] * 4
    # Sealed, the door knows a repeat only by its signature (the pair sent at once); each
    # fresh encryption is opened (soon after its 200) and counted, and the inbox drops it by
    # its MsgId.
    expected = (3, 1) if served.sealed else (1, 3)
    wait_until(
        lambda: (outcomes("accepted") - accepted, outcomes("duplicate") - duplicates) == expected,
        5,
    )
    assert served.count(InboxMessage) == 1
    assert served.count(Interaction, customer_id="c1") == 1
    time.sleep(0.2)  # a second reply would have been sent by now
    replies = served.fake.sent("wangfang")
    assert len(replies) == 1 and "张伟" in replies[0]["text"]["content"]


def test_unknown_sender_gets_the_generic_reply_only(served: Served) -> None:
    answer = served.post(
        text_xml("zhangsan", "查一下张伟", "7434873429347234300", int(time.time()))
    )
    assert answer.status_code == 200
    wait_until(lambda: len(served.fake.sent("zhangsan")) == 1)
    reply = served.fake.sent("zhangsan")[0]["text"]["content"]
    assert reply == t("unknown_sender", "zh")
    assert "张伟" not in reply and "138" not in reply
    assert served.fake.sent("wangfang") == []


def test_url_verification_returns_the_plain_echostr(served: Served) -> None:
    stamp = str(int(time.time()))
    out = WeChatCrypto(TOKEN, AES_KEY, CORP_ID).encrypt_message("5927782489442352469", "42", stamp)
    echostr = out.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = out.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    query = {"msg_signature": signature, "timestamp": stamp, "nonce": "42", "echostr": echostr}
    answer = httpx.get(f"{served.url}/wecom/callback", params=query)
    assert answer.status_code == 200 and answer.text == "5927782489442352469"
    assert answer.headers["content-type"].startswith("text/plain")
    tampered = {**query, "nonce": "43"}
    refused = httpx.get(f"{served.url}/wecom/callback", params=tampered)
    assert refused.status_code == 403 and refused.content == b""


def test_image_gets_text_only_reply_once_and_events_are_acknowledged(served: Served) -> None:
    now = str(int(time.time()))
    voice = payload("voice-message.xml").replace("1764554402", now)
    voice = voice.replace("[voice]", "[image]").replace("<Format><![CDATA[amr]]></Format>", "")
    event = payload("event-enter-agent.xml").replace("1764554401", now)
    answers = [served.post(voice), served.post(voice), served.post(event), served.post(event)]
    assert [a.status_code for a in answers] == [200] * 4
    wait_until(lambda: len(served.fake.sent("wangfang")) == 1)
    time.sleep(0.2)
    assert [b["text"]["content"] for b in served.fake.sent()] == ["暂只支持文字和语音消息"]
    served.wait_processed()  # sealed rows holding nothing to answer are deleted by their claim
    assert served.count(InboxMessage) == 0


def test_from_settings_keeps_the_token_in_redis_when_configured(
    tmp_path: Path, fake: FakeWeCom
) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    plain = Store(settings, Database(make_engine(settings.db_url)), CIPHER)
    bank = wecom_store(plain, fake, REDIS_URL=REDIS_TEST_URL)
    adapter = WeComAdapter.from_settings(bank)
    store = adapter.api.tokens.store
    assert isinstance(store, RedisTokenStore)
    key = f"bankbot:wecom:token:{CORP_ID}:{AGENT_ID}"
    try:
        asyncio.run(adapter.start())
        assert adapter.ready() and store.client.exists(key)
        assert len(fake.calls("gettoken")) == 1
    finally:
        store.client.delete(key)
        asyncio.run(adapter.stop())


def test_from_settings_names_every_missing_value(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    store = Store(settings, Database(make_engine(settings.db_url)), CIPHER)
    with pytest.raises(WeComConfigError) as missing:
        WeComAdapter.from_settings(store)
    for name in ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY"):
        assert name in str(missing.value)
