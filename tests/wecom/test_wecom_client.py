"""The outgoing WeCom client against a fake WeCom API on loopback (its real HTTP calls)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.text_split import split_utf8
from bot.token_cache import AccessTokens, DatabaseTokenStore, RedisTokenStore, TokenStore
from bot.wecom_client import (
    WeComApi,
    WeComChannel,
    WeComIpNotAllowed,
    WeComNoRecipient,
    WeComRateLimited,
    WeComTokenRejected,
    WeComUnavailable,
)
from crm_store.crypto import FieldCipher, decode_key
from crm_store.models import SharedSecret
from crm_store.store import Store
from handlers.contracts import Reply
from tests.conftest import TEST_KEY
from tests.guarded import sealed
from tests.wecom.fakes import (
    AGENT_ID,
    CORP_ID,
    REDIS_TEST_URL,
    RESPONSES,
    SECRET,
    FakeWeCom,
    MemoryTokenStore,
)

CIPHER = FieldCipher(decode_key(TEST_KEY))


def make_api(fake: FakeWeCom, store: TokenStore, name: str, timeout: float = 10.0) -> WeComApi:
    """A real client pointed at the fake through its base URL."""
    tokens = AccessTokens(store, name, CIPHER)
    return WeComApi(
        corp_id=CORP_ID,
        agent_id=AGENT_ID,
        secret=SECRET,
        base_url=fake.base_url,
        tokens=tokens,
        timeout=timeout,
    )


def send(api: WeComApi, text: str, to: str = "wangfang") -> None:
    """One reply through the channel, as the inbox sends it."""
    asyncio.run(WeComChannel(api).send(to, sealed(Reply(text))))


@pytest.fixture
def api(fake: FakeWeCom) -> Iterator[WeComApi]:
    """A client whose tokens live in memory (for tests not about token storage)."""
    client = make_api(fake, MemoryTokenStore(), "wecom:token:test")
    yield client
    client.close()


@pytest.fixture
def db_api(store: Store, fake: FakeWeCom) -> Iterator[WeComApi]:
    """A client whose tokens live in the test database (SQLite and PostgreSQL)."""
    client = make_api(fake, DatabaseTokenStore(store.db), "wecom:token:test")
    yield client
    client.close()


def test_token_fetched_once_and_cached_in_the_database(
    store: Store, fake: FakeWeCom, db_api: WeComApi
) -> None:
    send(db_api, "第一条")
    send(db_api, "第二条")
    # A second process sharing the database reuses the token instead of fetching one.
    other = make_api(fake, DatabaseTokenStore(store.db), "wecom:token:test")
    send(other, "第三条")
    other.close()
    assert len(fake.calls("gettoken")) == 1
    gettoken = fake.calls("gettoken")[0].query
    assert gettoken == {"corpid": CORP_ID, "corpsecret": SECRET}
    assert {c.query["access_token"] for c in fake.calls("message/send")} == {"accesstoken000001"}
    with store.db.read() as session:
        row = session.scalars(select(SharedSecret)).one()
    assert row.name == "wecom:token:test" and "accesstoken" not in row.value  # encrypted at rest


def test_message_send_request_shape(api: WeComApi, fake: FakeWeCom) -> None:
    api.send_text("wangfang", "今日提醒", dedupe=True)  # a reminder digest
    api.send_text("wangfang", "您好")  # a chat reply
    digest, reply = fake.sent("wangfang")
    assert set(RESPONSES["message_send_request_text"]) <= set(digest)
    assert digest["agentid"] == AGENT_ID and digest["msgtype"] == "text"
    assert digest["text"] == {"content": "今日提醒"}
    assert digest["enable_duplicate_check"] == 1 and digest["duplicate_check_interval"] == 1800
    # The same question asked twice must be answered twice: no duplicate check on replies.
    assert reply["text"] == {"content": "您好"} and "enable_duplicate_check" not in reply


def test_token_cached_in_redis(fake: FakeWeCom) -> None:
    name = f"wecom:token:test-{uuid.uuid4().hex[:8]}"
    first, second = RedisTokenStore(REDIS_TEST_URL), RedisTokenStore(REDIS_TEST_URL)
    try:
        send(make_api(fake, first, name), "一")
        send(make_api(fake, second, name), "二")
        assert len(fake.calls("gettoken")) == 1
        key = f"bankbot:{name}"
        assert 7000 < first.client.ttl(key) <= 7200
        assert b"accesstoken" not in first.client.hget(key, "value")
    finally:
        first.client.delete(f"bankbot:{name}")
        first.close()
        second.close()


def test_token_expiring_mid_run_is_refreshed_exactly_once(
    db_api: WeComApi, fake: FakeWeCom
) -> None:
    send(db_api, "早上好")
    fake.script.append(RESPONSES["token_expired"])  # 42001 once
    send(db_api, "下午好")
    assert len(fake.calls("gettoken")) == 2
    tokens = [c.query["access_token"] for c in fake.calls("message/send")]
    assert tokens == ["accesstoken000001", "accesstoken000001", "accesstoken000002"]
    assert [b["text"]["content"] for b in fake.sent()][-1] == "下午好"


def test_persistent_40014_refreshes_once_then_fails_clearly(
    db_api: WeComApi, fake: FakeWeCom
) -> None:
    fake.reject_every_token = True
    with pytest.raises(WeComTokenRejected, match="WECOM_SECRET") as failed:
        send(db_api, "你好")
    assert failed.value.errcode == 40014 and failed.value.retryable
    assert len(fake.calls("gettoken")) == 2  # the first token and one refresh
    assert len(fake.calls("message/send")) == 2
    assert not db_api.reachable


def test_long_chinese_text_is_split_at_2048_bytes(api: WeComApi, fake: FakeWeCom) -> None:
    lines = [f"第{i}行：客户张伟咨询大额存单与理财产品，约定下周二回访。" for i in range(120)]
    text = "\n".join(lines) + "\n" + "长" * 1500 + "😀结束"  # one line far over the limit
    send(api, text)
    chunks = [b["text"]["content"] for b in fake.sent("wangfang")]
    assert len(chunks) > 3
    assert all(len(c.encode("utf-8")) <= 2048 for c in chunks)
    assert "".join(chunks) == text
    assert all(c.endswith("\n") for c in chunks[:3])  # cut at line breaks where it can


@pytest.mark.parametrize("limit", [4, 5, 6, 7, 2048])
def test_split_never_cuts_a_character(limit: int) -> None:
    text = "a😀中\nb文é\r\n" * 50
    chunks = split_utf8(text, limit)
    assert "".join(chunks) == text
    assert all(0 < len(c.encode()) <= limit for c in chunks)


def test_empty_reply_sends_nothing(api: WeComApi, fake: FakeWeCom) -> None:
    send(api, "  ")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("answer", "error", "retryable"),
    [
        ("ip_not_allowed", WeComIpNotAllowed, False),
        ("no_valid_recipient", WeComNoRecipient, False),
        ("rate_limited", WeComRateLimited, True),
    ],
)
def test_error_codes_raise_typed_errors_with_a_hint(
    api: WeComApi,
    fake: FakeWeCom,
    caplog: pytest.LogCaptureFixture,
    answer: str,
    error: type[Exception],
    retryable: bool,
) -> None:
    fake.script.append(RESPONSES[answer])
    with caplog.at_level(logging.WARNING), pytest.raises(error) as raised:
        send(api, "提醒", to="wangfang")
    assert getattr(raised.value, "retryable") is retryable  # noqa: B009
    assert getattr(raised.value, "errcode") == RESPONSES[answer]["errcode"]  # noqa: B009
    assert str(RESPONSES[answer]["errcode"]) in caplog.text and "wangfang" not in caplog.text
    assert len(fake.calls("message/send")) == 1  # no token refresh for these


def test_invaliduser_in_an_ok_answer_is_no_recipient(api: WeComApi, fake: FakeWeCom) -> None:
    fake.script.append({**RESPONSES["message_send_ok"], "invaliduser": "wangfang"})
    with pytest.raises(WeComNoRecipient):
        send(api, "提醒")


def test_unreachable_or_slow_api_is_a_retryable_error(fake: FakeWeCom) -> None:
    fake.delay = 0.5
    slow = make_api(fake, MemoryTokenStore(), "wecom:token:slow", timeout=0.1)
    with pytest.raises(WeComUnavailable) as failed:
        send(slow, "你好")
    assert failed.value.retryable and not slow.reachable
    slow.close()
