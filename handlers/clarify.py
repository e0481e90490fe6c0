"""Ambiguity: several visible customers match, so ask which one and remember the question."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crm_store import conversation
from crm_store.customers import CustomerSummary
from crm_store.permissions import can_see
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.render import summary_line
from handlers.texts import t

PENDING_FOR = timedelta(hours=2)


def ask_to_choose(ctx: Context, matches: list[CustomerSummary], action: dict[str, Any]) -> Reply:
    """Numbered choices; nothing is written until the person picks one."""
    remember_choice(ctx, [m.id for m in matches], action)
    return choice_reply(ctx, matches, action)


def remember_choice(ctx: Context, candidates: list[str], action: dict[str, Any]) -> None:
    """Keep the open question for PENDING_FOR, in the caller's write transaction."""
    conversation.remember(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.CLARIFY,
        payload={**action, "candidates": candidates},
        expires_at=ctx.now + PENDING_FOR,
    )


def choice_reply(
    ctx: Context, matches: list[CustomerSummary], action: dict[str, Any], *, keep: bool = False
) -> Reply:
    """The numbered choices. `keep`: the open question travels in the reply's event for the
    dispatcher to remember (a question is answered under a read session)."""
    candidates = [m.id for m in matches]
    if action.get("near_miss"):
        lines = [
            t(
                "near_miss_note" if action["action"] == "note" else "near_miss",
                ctx.lang,
                name=matches[0].name,
            ),
            summary_line(1, matches[0], ctx.lang),
        ]
    else:
        key = "clarify_note" if action["action"] in ("note", "remind") else "clarify"
        head = t(key, ctx.lang, count=len(matches))
        lines = [head, *(summary_line(i, m, ctx.lang) for i, m in enumerate(matches, 1))]
    trusted = frozenset({m.owner_name for m in matches} | {m.branch_name for m in matches})
    data: dict[str, Any] = {"candidates": candidates}
    if keep:
        data["pending"] = action
    return Reply("\n".join(lines), (Event("clarification_requested", data),), allowed_names=trusted)


def pending(ctx: Context) -> dict[str, Any] | None:
    """The open question for this person on this channel, if any."""
    return conversation.recall(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.CLARIFY,
        now=ctx.now,
    )


def take_choice(
    ctx: Context, number: int
) -> tuple[dict[str, Any] | None, str | None, Reply | None]:
    """(the pending action, the chosen customer id, or a reply explaining a bad choice)."""
    state = pending(ctx)
    if state is None:
        return None, None, Reply(t("nothing_pending", ctx.lang))
    candidates: list[str] = state["candidates"]
    if not 1 <= number <= len(candidates):
        return None, None, Reply(t("bad_choice", ctx.lang, count=len(candidates)))
    chosen = candidates[number - 1]
    forget(ctx)
    # Access is checked again now: a customer reassigned since the question is gone.
    if not can_see(ctx.session, ctx.actor, chosen, ctx.today):
        return None, None, Reply(t("not_found", ctx.lang), (Event("not_found"),))
    return state, chosen, None


def forget(ctx: Context) -> None:
    """Drop the open question."""
    conversation.forget(
        ctx.session, channel=ctx.channel, staff_id=ctx.actor.staff_id, kind=conversation.CLARIFY
    )
