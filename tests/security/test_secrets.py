"""Secrets typed into a message never go further than the stored note: not in the reply, the
audit log, the notes table, the index or any LLM prompt, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from crm_store.models import InboxMessage
from crm_store.redaction import clean_text
from crm_store.store import Store
from retrieval.index import NoteIndex
from tests.assistant import platform_message
from tests.retrieval_llm.stub_llm import StubLLM
from tests.security.surfaces import assistant, surfaces
from tests.world import NOW, build_world

# (as typed, the secret that must not be kept anywhere)
SECRETS = [
    ("网银密码是Qx7745kk", "Qx7745kk"),
    ("验证码886622", "886622"),
    ("password: hunter2x", "hunter2x"),
    ("动态口令：778899", "778899"),
    ("PIN码 43219", "43219"),
    ("短信码为 505817", "505817"),
]
# Every path a message takes: a note (echoed, stored, indexed), a question (an LLM prompt)
# and a message the rules cannot read (shown to the LLM for an intent).
MESSAGES = [
    "/note 张伟 刚通话，{secret}，下周二回访",
    "{secret}，张伟上次聊了什么？",
    "张伟来电，{secret}",
]


@pytest.mark.parametrize(("typed", "secret"), SECRETS)
def test_a_secret_reaches_no_reply_audit_note_index_or_prompt(
    store: Store, index: NoteIndex, stub: StubLLM, typed: str, secret: str
) -> None:
    build_world(store)
    bot = assistant(store, index, stub)
    replies = [bot.say("rm1", m.format(secret=typed)).text for m in MESSAGES]
    assert stub.requests, "the LLM paths were not taken"
    found = surfaces(store, index, stub, replies)
    assert found["note"], "the note was not saved"
    leaks = [where for where, text in found.items() if secret in text]
    assert leaks == []


@pytest.mark.parametrize(("typed", "secret"), SECRETS)
def test_the_audit_row_holds_no_more_than_the_stored_note(
    store: Store, index: NoteIndex, stub: StubLLM, typed: str, secret: str
) -> None:
    build_world(store)
    bot = assistant(store, index, stub)
    bot.say("rm1", f"/note 张伟 {typed}")
    found = surfaces(store, index, stub, [])
    assert clean_text(f"/note 张伟 {typed}") in found["audit"]
    assert clean_text(typed) in found["note"]
    assert secret not in found["audit"] + found["note"]


@pytest.mark.parametrize(("typed", "secret"), SECRETS)
def test_the_durable_inbox_row_keeps_no_secret(store: Store, typed: str, secret: str) -> None:
    build_world(store)
    inbox = Inbox(store, Dispatcher(store, clock=lambda: NOW), {})
    message = platform_message("telegram", "777", f"/note 张伟 {typed} 13912345678", NOW)
    assert inbox.accept(message) is not None
    with store.db.read() as s:
        [stored] = s.scalars(select(InboxMessage.text))
    assert secret not in stored and "13912345678" not in stored
    assert stored == clean_text(message.text)
