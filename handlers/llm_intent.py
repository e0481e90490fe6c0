"""The LLM's reading of a message the rules cannot read, as the same Intent the rules produce.

The proposal only supplies handler inputs typed by the person: the customer name still goes
through the permission-aware lookup and the follow-up expression through our date parser
(handlers/dates.py), so nothing the model says can widen access or set a date by itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from handlers import intents as i
from handlers.contracts import Event, Reply
from handlers.understanding.decide import Reading, distinct
from handlers.understanding.lexicon import SEGMENTS, words_in
from handlers.understanding.periods import find_period, find_threshold
from retrieval.intent_llm import IntentProposal, propose_intent, spans_only
from retrieval.llm import model_name

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrieval.llm_gate import LlmGate

PROPOSED = "intent_proposed"


async def proposed_intent(
    model: BaseChatModel,
    text: str,
    *,
    timeout: float,
    now: datetime | None = None,
    gate: LlmGate | None = None,
) -> i.Intent | None:
    """The LLM's intent for `text` as a rule-shaped Intent; None when it offers nothing usable."""
    proposal = await propose_intent(model, text, timeout=timeout, gate=gate)
    return intent_from_proposal(proposal, text, now)


def intent_from_proposal(
    proposal: IntentProposal, text: str, now: datetime | None = None
) -> i.Intent | None:
    """Map a proposal onto the rules' Intent; one missing the fields it needs is None.

    Every field is a span of the message; periods and amounts are read by our own parsers
    (handlers/understanding/periods.py), names by the permission-aware look-up later."""
    # propose_intent already kept spans only; checking again keeps this safe for any caller.
    p = spans_only(proposal, text)
    who = {"name": p.customer_name} if p.customer_name else {}
    match p.intent:
        case "lookup" if p.customer_name:
            return i.Intent(i.LOOKUP, who)
        case "field" if p.customer_name and p.field:
            return i.Intent(i.FIELD, {**who, "field": p.field})
        case "list" if p.list_kind:
            return i.Intent(i.LIST, _list_args(p, now))
        case "note" if p.note_content:
            args = {"content": p.note_content, **who}
            if p.followup_expression:
                args["followup"] = p.followup_expression
            return i.Intent(i.NOTE, args)
        case "remind" if p.customer_name:
            return i.Intent(i.REMIND, {"text": i.normalise(text), **who})
        case "done" | "snooze" if p.item_number:
            name = i.DONE if p.intent == "done" else i.SNOOZE
            args = {"n": str(p.item_number)}
            if name == i.SNOOZE and p.period_expression:
                args["when"] = p.period_expression
            return i.Intent(name, args)
        case "today" | "undo" | "help" | "small_talk":
            return i.Intent({"today": i.TODAY, "undo": i.UNDO}.get(p.intent, p.intent))
        case "question":
            return i.Intent(i.QUESTION, {"text": i.normalise(text)})
    return None


def _list_args(p: IntentProposal, now: datetime | None) -> dict[str, str]:
    args: dict[str, str] = {"kind": p.list_kind or "customers"}
    if p.period_expression and now is not None:
        period = find_period(p.period_expression, now)
        if period is not None:
            args |= {
                "from": period.start.isoformat(),
                "to": period.end.isoformat(),
                "words": period.words,
            }
    if p.amount_expression:
        bound = find_threshold(p.amount_expression)
        if bound is not None:
            args["aum_at_least" if bound.at_least else "aum_below"] = str(bound.amount)
    if p.tag_or_segment:
        segments = words_in(p.tag_or_segment, SEGMENTS)
        if segments:
            args["segment"] = segments[0]
        else:
            args["tag"] = p.tag_or_segment
    return args


def merge_proposal(reading: Reading, proposed: i.Intent | None) -> Reading:
    """The offline reading and the LLM's proposal together: the proposal decides when the
    reading was unsure and they agree or the reading had nothing; when they disagree, both are
    offered as a choice."""
    if proposed is None:
        return reading
    offline = reading.intent
    if proposed.name == offline.name or (not reading.options and offline.name == i.HELP):
        return Reading(proposed, True, (), reading.vector, proposed=True)
    options = distinct([offline, proposed, *reading.options])
    return Reading(offline, False, options, reading.vector, proposed=True)


def mark_proposed(reply: Reply, intent: i.Intent, model: BaseChatModel | None) -> Reply:
    """The reply with an event saying the LLM chose the intent (no personal data in it)."""
    event = Event(PROPOSED, {"intent": intent.name, "model": model_name(model)})
    return Reply(reply.text, (*reply.events, event), allowed_names=reply.allowed_names)
