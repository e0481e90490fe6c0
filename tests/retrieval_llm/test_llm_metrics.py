"""`/metrics` counts LLM calls and their fallbacks, for answers and intent proposals."""

from __future__ import annotations

import json

from bot import metrics
from tests.retrieval_llm.conftest import ModelFactory
from tests.retrieval_llm.stub_llm import StubLLM
from tests.retrieval_llm.test_llm_answer import FALLBACK_ZH, compose
from tests.retrieval_llm.test_llm_intent import propose


def calls(purpose: str, outcome: str) -> float:
    labels = {"purpose": purpose, "outcome": outcome}
    return metrics.REGISTRY.get_sample_value("bankbot_llm_calls_total", labels) or 0.0


def test_answers_and_their_fallbacks_are_counted(chat_model: ModelFactory) -> None:
    ok, fallback = calls("answer", "ok"), calls("answer", "fallback")
    assert FALLBACK_ZH not in compose(chat_model("normal")).text
    assert FALLBACK_ZH in compose(chat_model("error")).text
    assert (calls("answer", "ok") - ok, calls("answer", "fallback") - fallback) == (1, 1)
    compose(None)  # no model: no call, nothing counted
    assert (calls("answer", "ok") - ok, calls("answer", "fallback") - fallback) == (1, 1)
    assert b'bankbot_llm_calls_total{outcome="fallback",purpose="answer"}' in metrics.render()


def test_intent_proposals_and_their_fallbacks_are_counted(
    chat_model: ModelFactory, stub: StubLLM
) -> None:
    ok, fallback = calls("intent", "ok"), calls("intent", "fallback")
    stub.tool_arguments["stub-intent"] = json.dumps({"intent": "lookup", "customer_name": "张伟"})
    assert propose(chat_model("intent"), "查一下张伟").intent == "lookup"
    propose(chat_model("error"))
    assert (calls("intent", "ok") - ok, calls("intent", "fallback") - fallback) == (1, 1)
