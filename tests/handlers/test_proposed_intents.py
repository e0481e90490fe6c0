"""An LLM proposal becomes the rules' own Intent or nothing, never with fields not typed."""

from __future__ import annotations

import pytest

from handlers.contracts import Event, Reply
from handlers.intents import Intent
from handlers.llm_intent import intent_from_proposal, mark_proposed
from retrieval.intent_llm import IntentProposal

TEXT = "张伟来电聊了大额存单，下周二回访"


@pytest.mark.parametrize(
    ("proposal", "expected"),
    [
        (
            IntentProposal(
                intent="note",
                customer_name="张伟",
                note_content="张伟来电聊了大额存单",
                followup_expression="下周二",
            ),
            Intent(
                "note", {"content": "张伟来电聊了大额存单", "name": "张伟", "followup": "下周二"}
            ),
        ),
        (IntentProposal(intent="note", note_content=TEXT), Intent("note", {"content": TEXT})),
        (IntentProposal(intent="lookup", customer_name="张伟"), Intent("lookup", {"name": "张伟"})),
        (IntentProposal(intent="today"), Intent("today")),
        (IntentProposal(intent="question"), Intent("question", {"text": TEXT})),
        (IntentProposal(intent="unknown", customer_name="张伟"), None),
        (IntentProposal(intent="lookup"), None),  # nobody to look up
        (IntentProposal(intent="note", customer_name="张伟"), None),  # nothing to record
        # Not spans of the message: dropped, so nothing is left to act on.
        (IntentProposal(intent="lookup", customer_name="李雷"), None),
        (IntentProposal(intent="note", customer_name="张伟", note_content="李雷想买保险"), None),
        (
            IntentProposal(intent="note", note_content=TEXT, followup_expression="明天"),
            Intent("note", {"content": TEXT}),
        ),
    ],
)
def test_intent_from_proposal(proposal: IntentProposal, expected: Intent | None) -> None:
    assert intent_from_proposal(proposal, TEXT) == expected


def test_mark_proposed_adds_one_event_without_personal_data() -> None:
    reply = Reply("ok", (Event("note_recorded", {"customer_id": "c1"}),), frozenset({"李娜"}))
    marked = mark_proposed(reply, Intent("note", {"name": "张伟", "content": TEXT}), None)
    assert marked.text == "ok" and marked.allowed_names == reply.allowed_names
    assert [e.as_dict() for e in marked.events] == [
        {"type": "note_recorded", "customer_id": "c1"},
        {"type": "intent_proposed", "intent": "note", "model": None},
    ]
