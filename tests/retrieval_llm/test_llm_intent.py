"""LLM intent proposals: function calling through the real client, validated, fail-safe."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from retrieval.intent_llm import UNKNOWN, IntentProposal, propose_intent, spans_only
from tests.retrieval_llm.conftest import ModelFactory
from tests.retrieval_llm.stub_llm import StubLLM

MESSAGE = "记录：刚和张伟通话，他想了解大额存单，下周二回访"


def propose(model: object, text: str = MESSAGE, timeout: float = 5.0) -> IntentProposal:
    """propose_intent run to completion on a fresh event loop."""
    return asyncio.run(propose_intent(model, text, timeout=timeout))  # type: ignore[arg-type]


def test_function_call_is_parsed_into_a_validated_proposal(
    chat_model: ModelFactory, stub: StubLLM
) -> None:
    stub.tool_arguments["stub-intent"] = json.dumps(
        {
            "intent": "note",
            "customer_name": "张伟",
            "note_content": "刚和张伟通话，他想了解大额存单",
            "followup_expression": "下周二",
        },
        ensure_ascii=False,
    )
    proposal = propose(chat_model("intent"))
    assert proposal == IntentProposal(
        intent="note",
        customer_name="张伟",
        note_content="刚和张伟通话，他想了解大额存单",
        followup_expression="下周二",
    )
    (request,) = stub.requests
    # Function calling, never json_schema (llama.cpp rejects it).
    assert "response_format" not in request
    assert request["tools"][0]["function"]["name"] == "IntentProposal"
    assert request["tool_choice"]["function"]["name"] == "IntentProposal"
    assert json.dumps(MESSAGE, ensure_ascii=False) in request["messages"][-1]["content"]


def test_fields_the_person_never_typed_are_dropped(chat_model: ModelFactory, stub: StubLLM) -> None:
    stub.tool_arguments["stub-intent"] = json.dumps(
        {"intent": "lookup", "customer_name": "李雷", "followup_expression": "明天"}
    )
    proposal = propose(chat_model("intent"), "查一下张伟")
    assert proposal == IntentProposal(intent="lookup")


@pytest.mark.parametrize(
    "arguments",
    [
        "{not json",
        json.dumps({"intent": "transfer_money"}),
        json.dumps({"intent": "note", "customer_name": "张" * 200}),
        json.dumps(["note"]),
    ],
)
def test_malformed_tool_answers_fall_back_to_unknown(
    chat_model: ModelFactory, stub: StubLLM, arguments: str
) -> None:
    stub.tool_arguments["stub-intent"] = arguments
    assert propose(chat_model("intent")) == UNKNOWN


def test_no_tool_call_error_slow_or_no_model_give_unknown(chat_model: ModelFactory) -> None:
    assert propose(chat_model("normal")) == UNKNOWN  # plain text, no function call
    assert propose(chat_model("error", retries=1)) == UNKNOWN
    started = time.monotonic()
    assert propose(chat_model("slow"), timeout=0.5) == UNKNOWN
    assert time.monotonic() - started < 1.0
    assert propose(None) == UNKNOWN
    assert propose(chat_model("normal"), "   ") == UNKNOWN


def test_spans_only_tolerates_whitespace_differences() -> None:
    proposal = IntentProposal(intent="note", note_content="想了解  大额存单", customer_name=" ")
    kept = spans_only(proposal, "张伟 想了解 大额存单")
    assert kept.note_content == "想了解  大额存单" and kept.customer_name is None
