"""The LLM's intent proposal, end to end: stub server, real client, real handlers and SQL.

The offline reading runs first; only a message it is unsure about goes to the LLM ("张伟想了解
大额存单": a note, or a look-up?). What the LLM proposes is handler input (a name for the
permission-aware lookup, an expression for our date parser), never a decision about access or
dates; when it disagrees with the offline reading, the person is asked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.dispatch import Dispatcher
from crm_store.models import AuditLog, FollowUp, Interaction
from crm_store.store import Store
from handlers.intents import Intent, parse_intent
from handlers.texts import t
from retrieval.index import NoteIndex
from retrieval.llm import make_chat_model
from retrieval.search import Retriever
from tests.assistant import Assistant, Said, platform_message
from tests.retrieval_llm.conftest import llm_settings
from tests.retrieval_llm.stub_llm import StubLLM
from tests.world import NOW, build_world

FREE_NOTE = "张伟想了解大额存单，下周二"  # no contact or follow-up word: unsure
NEXT_TUESDAY = "2026-12-01"  # NOW is Saturday 28 November 2026 in Shanghai
OFFLINE_CHOICE = ["intent_choice"]  # the offline reading alone: note or look-up?


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    """The loopback OpenAI-compatible stub."""
    server = StubLLM().start()
    yield server
    server.stop()


@pytest.fixture
def world(store: Store) -> Store:
    build_world(store)
    return store


def assistant(
    store: Store, index: NoteIndex, stub: StubLLM, mode: str = "intent", timeout: float = 5.0
) -> Assistant:
    """The console assistant with a real ChatOpenAI pointed at the stub."""
    settings = llm_settings(
        LLM_BASE_URL=stub.url, LLM_MODEL=f"stub-{mode}", LLM_API_KEY="k", LLM_MAX_RETRIES=0
    )
    retriever = Retriever(index, make_chat_model(settings), timeout=timeout)
    bot = Assistant(store, NOW)
    bot.dispatcher = Dispatcher(store, clock=lambda: bot.now, retriever=retriever)
    return bot


def propose(stub: StubLLM, mode: str = "intent", **fields: Any) -> None:
    """Make the stub answer with an IntentProposal function call carrying `fields`."""
    stub.tool_arguments[f"stub-{mode}"] = json.dumps(fields, ensure_ascii=False)


def count(store: Store, model: type) -> int:
    with store.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def last_audit(store: Store) -> AuditLog:
    with store.db.read() as s:
        return s.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).one()


def reply_of(said: Said) -> tuple[str, list[str]]:
    return said.text, said.types()


def test_free_form_note_is_recorded_with_our_own_date(
    world: Store, index: NoteIndex, stub: StubLLM
) -> None:
    assert parse_intent(FREE_NOTE) == Intent("unknown")  # no command: read in context
    propose(
        stub,
        intent="note",
        customer_name="张伟",
        note_content="张伟想了解大额存单",
        followup_expression="下周二",
        followup_date="2030-01-01",  # a date of the model's own: never used
    )
    bot = assistant(world, index, stub)
    said = bot.say("rm1", FREE_NOTE)
    note = said.event("note_recorded")
    # rm1's own 张伟 (c1), never rm3's (c2); the date is our parser's reading of "下周二".
    assert note["customer_id"] == "c1" and note["next_followup_on"] == NEXT_TUESDAY
    assert said.event("intent_proposed") == {"intent": "note", "model": "stub-intent"}
    assert "张伟想了解大额存单" in said.text and "138****5678" in said.text
    with world.db.read() as s:
        saved = s.get(Interaction, note["interaction_id"])
        assert saved is not None and saved.content == "张伟想了解大额存单"
        due = s.scalars(select(FollowUp.due_on).where(FollowUp.customer_id == "c1")).all()
    assert [d.isoformat() for d in due] == [NEXT_TUESDAY]
    row = last_audit(world)
    assert row.intent == "note" and row.decision == "allowed" and row.customer_ids == "c1"
    assert "intent_proposed" in row.detail and "model=stub-intent" in row.detail
    assert "张伟" not in row.detail and "存单" not in row.detail  # no personal data
    # The model saw the message and nothing else: no customer data went out.
    (request,) = stub.requests
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert json.dumps(FREE_NOTE, ensure_ascii=False) in request["messages"][1]["content"]
    undone = bot.say("rm1", "撤销")  # a rule command: the stub is not asked again
    assert undone.event("note_undone")["customer_id"] == "c1" and len(stub.requests) == 1


def test_unresolvable_followup_records_the_note_without_a_date(
    world: Store, index: NoteIndex, stub: StubLLM
) -> None:
    text = "张伟来电聊了大额存单，改天再约"
    propose(stub, intent="note", note_content=text, followup_expression="改天")
    said = assistant(world, index, stub).say("rm1", text)
    note = said.event("note_recorded")
    assert note["customer_id"] == "c1" and note["next_followup_on"] is None  # found in the text
    assert t("note_no_followup") in said.text
    assert count(world, FollowUp) == 0


def test_same_name_proposal_asks_which_customer(
    world: Store, index: NoteIndex, stub: StubLLM
) -> None:
    text = "王芳想买理财，下周二"
    propose(
        stub, intent="note", customer_name="王芳", note_content=text, followup_expression="下周二"
    )
    bot = assistant(world, index, stub)
    asked = bot.say("rm1", text)
    assert asked.event("clarification_requested") == {"candidates": ["c4", "c5"]}
    assert count(world, Interaction) == 0  # nothing is written before the choice
    chosen = bot.say("rm1", "第二个")  # the pending choice claims it: no second LLM call
    assert chosen.event("note_recorded")["customer_id"] == "c5"
    assert chosen.event("note_recorded")["next_followup_on"] == NEXT_TUESDAY
    assert len(stub.requests) == 1


@pytest.mark.parametrize(
    ("template", "intent"),
    [("{}来电聊了大额存单，下周二回访", "note"), ("帮我看看{}这个客户", "lookup")],
)
def test_proposed_hidden_customer_is_not_found_like_a_missing_one(
    world: Store, index: NoteIndex, stub: StubLLM, template: str, intent: str
) -> None:
    bot = assistant(world, index, stub)
    said: dict[str, Said] = {}
    for name in ("张伟", "欧阳锋"):  # rm9 may see no 张伟; nobody is called 欧阳锋
        text = template.format(name)
        propose(stub, intent=intent, customer_name=name, note_content=text)
        said[name] = bot.say("rm9", text)
        row = last_audit(world)
        assert row.decision == "not_found" and row.customer_ids == "" and row.intent == intent
    hidden, missing = said["张伟"], said["欧阳锋"]
    assert reply_of(hidden) == reply_of(missing)
    assert "not_found" in hidden.types()
    assert hidden.reply.customer_ids() == [] and "138" not in hidden.text
    assert count(world, Interaction) == 0 and count(world, FollowUp) == 0


def test_fields_the_person_never_typed_are_dropped(
    world: Store, index: NoteIndex, stub: StubLLM
) -> None:
    bot = assistant(world, index, stub)
    # rm1 may see 刘洋, but did not name him: a model's name is never looked up.
    propose(stub, intent="lookup", customer_name="刘洋")
    asked = bot.say("rm1", "张伟想买养老保险")
    assert asked.types() == OFFLINE_CHOICE and "c8" not in str(asked.reply.events)
    propose(stub, intent="note", customer_name="刘洋", note_content="张伟想买养老保险")
    note = bot.say("rm1", "张伟想买养老保险").event("note_recorded")
    assert note["customer_id"] == "c1"  # the name typed, not the model's
    # A follow-up the message never mentioned is dropped; the note itself stands.
    propose(stub, intent="note", note_content="张伟想了解大额存单", followup_expression="明天")
    note = bot.say("rm1", "张伟想了解大额存单").event("note_recorded")
    assert note["customer_id"] == "c1" and note["next_followup_on"] is None


def test_failing_slow_or_malformed_llm_leaves_the_offline_choice(
    world: Store, index: NoteIndex, stub: StubLLM
) -> None:
    stub.tool_arguments["stub-bad-json"] = "{not json"
    propose(stub, "bad-intent", intent="transfer_money", customer_name="张伟")
    propose(stub, "unknown", intent="unknown")
    for mode in ("error", "normal", "bad-json", "bad-intent", "unknown"):
        said = assistant(world, index, stub, mode).say("rm1", FREE_NOTE)
        assert said.types() == OFFLINE_CHOICE, mode
    started = time.monotonic()
    slow = assistant(world, index, stub, "slow", timeout=0.5).say("rm1", FREE_NOTE)
    assert slow.types() == OFFLINE_CHOICE and time.monotonic() - started < 3.0
    assert len(stub.requests) == 6 and count(world, Interaction) == 0
    row = last_audit(world)
    assert row.intent == "note" and "intent_proposed" not in row.detail


def test_rule_commands_and_refused_senders_never_reach_the_llm(
    world: Store, index: NoteIndex, stub: StubLLM
) -> None:
    propose(stub, intent="note", customer_name="张伟", note_content="张伟")
    bot = assistant(world, index, stub)
    commands = [
        "查一下张伟",
        "/note 张伟 想了解基金定投",
        "记录：刚和张伟通话，他想了解大额存单，下周二回访",
        "今天要做什么",
        "完成 1",
        "我的VIP客户",
        "撤销",
        "帮助",
        "查一下王芳",
        "第二个",  # unreadable alone, but the pending choice claims it
    ]
    for text in commands:
        assert "not_understood" not in bot.say("rm1", text).types(), text
    refused = [
        bot.send(platform_message("console", "rm1", FREE_NOTE, NOW, chat_type="group")),
        bot.say("admin", FREE_NOTE),
        bot.say("gone", FREE_NOTE),
        bot.send(platform_message("wecom", "stranger", FREE_NOTE, NOW)),
    ]
    assert [s.event("refused")["reason"] for s in refused] == [
        "group_chat",
        "role",
        "deactivated",
        "unknown_sender",
    ]
    assert stub.requests == []


def test_a_disagreeing_proposal_is_offered_as_a_choice(
    world: Store, index: NoteIndex, stub: StubLLM
) -> None:
    bot = assistant(world, index, stub)
    propose(stub, intent="today")
    asked = bot.say("rm1", "张伟想买基金")
    assert asked.event("intent_choice")["options"] == ["note", "today", "lookup"]
    assert asked.event("intent_proposed")["intent"] == "note"
    assert count(world, Interaction) == 0
    chosen = bot.say("rm1", "2")  # the pending choice claims it: no second LLM call
    assert chosen.event("agenda_shown") and len(stub.requests) == 1


@pytest.mark.parametrize(
    ("fields", "event"),
    [
        ({"intent": "field", "customer_name": "张伟", "field": "aum"}, "customer_shown"),
        (
            {"intent": "list", "list_kind": "maturities", "period_expression": "下个月"},
            "list_shown",
        ),
        ({"intent": "remind", "customer_name": "张伟"}, "followup_created"),
        ({"intent": "question"}, "question_answered"),
    ],
)
def test_every_intent_can_be_proposed(
    world: Store, index: NoteIndex, stub: StubLLM, fields: dict[str, str], event: str
) -> None:
    """Each proposal disagrees with the offline reading (a note or a look-up), so it is offered
    as the second choice; choosing it runs its handler with our own reading of its fields."""
    propose(stub, **fields)
    bot = assistant(world, index, stub)
    asked = bot.say("rm1", "张伟想了解大额存单下个月")
    assert asked.event("intent_choice")["options"][1] == fields["intent"]
    got = bot.say("rm1", "2").event(event)
    if event == "customer_shown":
        assert got == {"customer_id": "c1", "field": "aum"}
    if event == "list_shown":
        assert (got["filter"]["from"], got["filter"]["to"]) == ("2026-12-01", "2026-12-31")
        assert got["customer_ids"] == ["c1", "c8"]
    if event == "followup_created":
        assert got["customer_id"] == "c1"
    assert len(stub.requests) == 1
