"""Questions over the interaction notes: "张伟上次聊了什么？", "最近谁对基金感兴趣？"."""

from __future__ import annotations

import logging
import re
from datetime import UTC

from crm_store.cards import customer_card
from crm_store.customers import find_by_name, find_in_text, longest_names, name_candidates
from crm_store.db import end_reads
from crm_store.permissions import can_see, visible_customer_names
from handlers.clarify import choice_reply
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.render import card_text
from handlers.texts import t
from retrieval.answer import Lang, NoteForPrompt, compose_answer
from retrieval.errors import RetrievalError
from retrieval.search import SEE_ALL_ROLES, search_in_scope

log = logging.getLogger(__name__)

TOP_K = 5
OPEN_K = 30  # an open question counts the customers among this many matching notes
# Relevance of a note to an open question (cosine, bundled e5). On the demo bank the best hit
# of the evaluation's 30 open questions scored 0.892-0.95, while ten questions no note answers
# ("谁想去火星旅游？") got best hits of 0.830-0.890; on short notes real matches score lower
# (0.87). So a note answers an open question when it scores STRONG, or scores at least WEAK
# and shares a content word with the question (see the README).
STRONG = 0.891
WEAK = 0.84
_STOP = re.compile(
    r"客户|哪些|哪位|哪个|什么|最近|上次|之前|有没有|有谁|是否|提到|说过|感兴趣|兴趣|谁|吗|呢|过|了|的|对|想"
)
_RECENT = re.compile(r"上次|上一次|最近|最新|上个月|上周|前几天|last time|lately|recent")


async def answer_question(
    ctx: Context,
    text: str,
    *,
    vector: object | None = None,
    offset: int = 0,
    customer_id: str | None = None,
) -> Reply:
    """Answer from the notes of the one customer named, or of every customer the actor sees;
    when the name is two visible customers', ask which one.

    `vector`: the message's e5 query vector from the reader, reused for the search;
    `offset`: '更多' after an open question, the matching notes from there on (listed only,
    no model call); `customer_id`: the customer picked after "which one?" (access checked
    again here)."""
    retriever = ctx.retriever
    if retriever is None:
        return Reply(t("question_off", ctx.lang), (Event("question_unavailable"),))
    visible: list[str] | None = None
    if customer_id is None:
        visible, named, name = _scope_and_named(ctx, text)
        if visible is not None and not visible:
            return Reply(t("no_customers", ctx.lang), (Event("no_customers"),))
        if len(named) > 1:
            return _which_one(ctx, text, name)
        customer_id = named[0] if named else None
    elif not can_see(ctx.session, ctx.actor, customer_id, ctx.today):
        return Reply(t("not_found", ctx.lang), (Event("not_found"),))
    from retrieval.embeddings import E5Embeddings  # loaded with the index already

    same_model = isinstance(retriever.index.embeddings, E5Embeddings)
    try:
        notes = search_in_scope(
            ctx.session,
            retriever.index,
            [customer_id] if customer_id is not None else visible,  # named: visible already
            actor=ctx.actor,
            today=ctx.today,
            question=text,
            k=TOP_K if customer_id is not None else OPEN_K,
            tz=ctx.now.tzinfo or UTC,
            vector=vector if same_model and vector is not None else None,  # type: ignore[arg-type]
            min_score=None if customer_id is not None or not same_model else WEAK,
        )
    except RetrievalError as exc:
        log.warning("note search failed: %s", exc)
        return Reply(t("question_unavailable", ctx.lang), (Event("question_unavailable"),))
    if customer_id is None and same_model:
        notes = [n for n in notes if _answers(text, n)]
    matched = len({n.customer_id for n in notes})
    if _RECENT.search(text):
        notes = sorted(notes, key=lambda n: n.occurred_on, reverse=True)
    rest = max(0, len(notes) - offset - TOP_K)
    notes = notes[offset : offset + TOP_K]
    card = None
    if customer_id is not None:
        card = customer_card(ctx.session, actor=ctx.actor, today=ctx.today, customer_id=customer_id)
    # Everything is read: give the connection back while the LLM thinks (seconds), or answer
    # threads waiting on it would hold every pooled connection and stall the acknowledgements.
    end_reads(ctx.session)
    lang: Lang = "en" if ctx.lang == "en" else "zh"
    answer = await compose_answer(
        retriever.model if not offset else None,
        question=text,
        notes=notes,
        lang=lang,
        timeout=retriever.timeout,
        allowed_link_hosts=retriever.allowed_link_hosts,
        gate=retriever.gate,
    )
    shown = list(dict.fromkeys(n.customer_id for n in notes))
    data: dict[str, object] = {
        # Every customer whose notes were shown or put in the prompt: the audit row lists them.
        "customer_ids": shown,
        "used_llm": answer.used_llm,
        "notes": [n.note_id for n in notes],
    }
    if answer.prompt_hash:
        data["prompt_hash"] = answer.prompt_hash
        data["model"] = answer.model_name
    text, trusted = answer.text, frozenset[str]()
    if not notes:
        text = t("question_no_match", ctx.lang)
    elif customer_id is None:
        head = t("question_customers", ctx.lang, count=matched) + "\n" if not offset else ""
        text = head + text
        if rest:
            text += "\n" + t("question_more", ctx.lang, more=rest)
            data["more"] = {"kind": "question", "text": text_asked(ctx), "offset": offset + TOP_K}
    if card is not None and not answer.used_llm:
        # Retrieval-only about one customer: their card first, then the notes that matched.
        text = card_text(card, ctx.today, ctx.lang, tz=ctx.tz) + "\n\n" + answer.text
        trusted = frozenset(
            {card.owner_name, card.branch_name, *(n.staff_name for n in card.notes)}
        )
        data["customer_ids"] = list(dict.fromkeys([card.id, *shown]))
    return Reply(text, (Event("question_answered", data),), allowed_names=trusted)


def text_asked(ctx: Context) -> str:
    """The question as asked (kept for its next page)."""
    return ctx.message.text


def _answers(question: str, note: NoteForPrompt) -> bool:
    """Whether a note answers an open question: a strong match, or a weaker one that shares a
    content word (two Chinese characters, or a latin word) with the question."""
    if note.score >= STRONG:
        return True
    words = _STOP.sub(" ", question.lower())
    grams = {
        w[i : i + 2] for w in re.findall(r"[\u4e00-\u9fff]{2,}", words) for i in range(len(w) - 1)
    }
    grams |= {w for w in re.findall(r"[a-z]{3,}", words)}
    text = note.text.lower()
    return any(g in text for g in grams)


def _scope_and_named(ctx: Context, text: str) -> tuple[list[str] | None, list[str], str]:
    """The customer ids the search may cover (None: every customer, for a see-all role), and
    the visible customers the question names with their one name: one customer, namesakes
    to choose from, or none (no name, or two different names: an open question). One query:
    the visible customers' names are matched here rather than asked of the database again."""
    if ctx.actor.role in SEE_ALL_ROLES:
        found = find_in_text(ctx.session, actor=ctx.actor, today=ctx.today, text=text, limit=9)
        return None, *_one_name([(m.id, m.name) for m in found])
    names = visible_customer_names(ctx.session, ctx.actor, ctx.today)
    candidates = name_candidates(text)
    found_here = [(cid, name) for cid, name in names.items() if name in candidates]
    return sorted(names), *_one_name(longest_names(found_here, lambda pair: pair[1]))


def _one_name(found: list[tuple[str, str]]) -> tuple[list[str], str]:
    """The ids of `found` and their name if they share one (the longest name won already:
    "张伟明" is not also "张伟"), else none."""
    names = {name for _, name in found}
    return ([cid for cid, _ in found], names.pop()) if len(names) == 1 else ([], "")


def _which_one(ctx: Context, text: str, name: str) -> Reply:
    """Namesakes: ask which one; the question is answered once a number is sent."""
    matches = find_by_name(ctx.session, actor=ctx.actor, today=ctx.today, name=name)
    return choice_reply(ctx, matches, {"action": "question", "text": text}, keep=True)
