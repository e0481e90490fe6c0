"""The LLM's reading of a message the rules cannot read, as the same Intent the rules produce.

The proposal only supplies handler inputs typed by the person: the customer name still goes
through the permission-aware lookup and the follow-up expression through our date parser
(handlers/dates.py), so nothing the model says can widen access or set a date by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers import intents as i
from handlers.contracts import Event, Reply
from retrieval.intent_llm import IntentProposal, propose_intent, spans_only
from retrieval.llm import model_name

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

PROPOSED = "intent_proposed"


async def proposed_intent(model: BaseChatModel, text: str, *, timeout: float) -> i.Intent | None:
    """The LLM's intent for `text` as a rule-shaped Intent; None when it offers nothing usable."""
    proposal = await propose_intent(model, text, timeout=timeout)
    return intent_from_proposal(proposal, text)


def intent_from_proposal(proposal: IntentProposal, text: str) -> i.Intent | None:
    """Map a proposal onto the rules' Intent; a lookup or note missing its fields is None."""
    # propose_intent already kept spans only; checking again keeps this safe for any caller.
    p = spans_only(proposal, text)
    match p.intent:
        case "lookup" if p.customer_name:
            return i.Intent(i.LOOKUP, {"name": p.customer_name})
        case "note" if p.note_content:
            args = {"content": p.note_content}
            if p.customer_name:
                args["name"] = p.customer_name
            if p.followup_expression:
                args["followup"] = p.followup_expression
            return i.Intent(i.NOTE, args)
        case "today":
            return i.Intent(i.TODAY)
        case "question":
            return i.Intent(i.QUESTION, {"text": i.normalise(text)})
    return None


def mark_proposed(reply: Reply, intent: i.Intent, model: BaseChatModel | None) -> Reply:
    """The reply with an event saying the LLM chose the intent (no personal data in it)."""
    event = Event(PROPOSED, {"intent": intent.name, "model": model_name(model)})
    return Reply(reply.text, (*reply.events, event), allowed_names=reply.allowed_names)
