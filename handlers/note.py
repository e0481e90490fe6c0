"""Record a follow-up note typed right after a call, and take it back with '撤销'."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from crm_store import conversation
from crm_store.customer_filters import near_misses
from crm_store.customers import CustomerSummary, find_by_name, find_in_text
from crm_store.followups import last_note_at, undo_followup
from crm_store.models import Customer
from crm_store.notes import record_note, undo_note
from crm_store.permissions import can_write
from handlers.clarify import ask_to_choose
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.dates import find_followup_date, parse_date_expression
from handlers.texts import day_text, named_with_phone, t
from handlers.understanding.slots import find_numbered, name_like, names_a_number

UNDO_FOR = timedelta(minutes=10)


async def note_from_text(
    ctx: Context,
    content: str,
    name: str | None = None,
    followup: str | None = None,
    customer_id: str | None = None,
) -> Reply:
    """'记录：刚和张伟通话…下周二回访' -> a saved note for the one visible 张伟.

    `followup`: the follow-up expression as typed, when the LLM picked it out of the message.
    `customer_id`: the customer the message told apart (by customer number, or a namesake by
    phone tail); `save_note` checks the asker may write for them.
    """
    content = content.strip()
    if not content:
        return Reply(t("empty_note", ctx.lang))
    if ctx.actor.role == "compliance":
        return Reply(t("read_only", ctx.lang), (Event("refused", {"reason": "read_only"}),))
    on = _followup_on(content, followup, ctx.now)
    action = {
        "action": "note",
        "content": content,
        "followup": on.isoformat() if on else None,
        "msg_id": ctx.message.msg_id,
    }
    if customer_id is not None:
        return save_note(ctx, customer_id, action)
    matches = _who(ctx, content, name)
    if not matches:
        return _nobody_named(ctx, content, name, action)
    if len(matches) > 1:
        return ask_to_choose(ctx, matches, action)
    return save_note(ctx, matches[0].id, action)


def _nobody_named(ctx: Context, content: str, name: str | None, action: dict[str, Any]) -> Reply:
    """No visible customer in the note. A name typed where a name stands ("刚和赵敏通话")
    that is a near miss of one ("赵涛") is asked about, nothing saved until confirmed; a name
    with no near miss is "not found" (never echoed: it may be someone the asker may not
    see), as is a customer number nobody visible has; no name at all asks for one."""
    typed = name or name_like(content)
    if typed is None and names_a_number(content):
        return Reply(t("not_found", ctx.lang), (Event("not_found"),))
    if typed is None:
        return Reply(t("who_is_it", ctx.lang), (Event("not_found"),))
    close = near_misses(ctx.session, actor=ctx.actor, today=ctx.today, name=typed)
    if close:
        return ask_to_choose(ctx, close[:1], {**action, "near_miss": True})
    return Reply(t("not_found", ctx.lang), (Event("not_found"),))


def _followup_on(content: str, expression: str | None, now: datetime) -> date | None:
    """Our parser sets the date: from the expression picked out of the message, else the note."""
    on = parse_date_expression(expression, now) if expression else None
    if on is not None:
        return on
    # As for any note: the date found in the text, or no follow-up when none can be read.
    found = find_followup_date(content, now)
    return found.on if found else None


def _who(ctx: Context, content: str, name: str | None) -> list[CustomerSummary]:
    if name:
        return find_by_name(ctx.session, actor=ctx.actor, today=ctx.today, name=name)
    named = find_in_text(ctx.session, actor=ctx.actor, today=ctx.today, text=content)
    return named or find_numbered(ctx, content)[0]  # "刚和C00143通了电话"


def save_note(ctx: Context, customer_id: str, action: dict[str, Any]) -> Reply:
    """Write the note (once per source message) and offer undo for ten minutes."""
    if not can_write(ctx.session, ctx.actor, customer_id, ctx.today):
        return Reply(t("read_only", ctx.lang), (Event("refused", {"reason": "read_only"}),))
    followup = date.fromisoformat(action["followup"]) if action.get("followup") else None
    saved = record_note(
        ctx.session,
        staff_id=ctx.actor.staff_id,
        customer_id=customer_id,
        content=action["content"],
        occurred_at=ctx.now,
        channel=ctx.channel,
        source_message_id=action.get("msg_id"),
        next_followup_on=followup,
    )
    event = Event(
        "note_recorded",
        {
            "interaction_id": saved.interaction_id,
            "customer_id": customer_id,
            "next_followup_on": followup.isoformat() if followup else None,
        },
    )
    if not saved.created:
        return Reply(t("note_duplicate", ctx.lang), (event,))
    _offer_undo(ctx, saved.interaction_id, customer_id)
    return Reply(_confirmation(ctx, customer_id, action["content"], followup), (event,))


def _confirmation(ctx: Context, customer_id: str, content: str, followup: date | None) -> str:
    customer = ctx.session.get(Customer, customer_id)
    assert customer is not None  # can_write just saw it
    lines = [
        t(
            "note_saved",
            ctx.lang,
            who=named_with_phone(customer.name, customer.phone_masked, ctx.lang),
            content=content,
        )
    ]
    if followup:
        lines.append(t("note_followup", ctx.lang, due=day_text(followup, ctx.today, ctx.lang)))
    else:
        lines.append(t("note_no_followup", ctx.lang))
    lines.append(t("note_undo_hint", ctx.lang))
    return "\n".join(lines)


def _offer_undo(ctx: Context, interaction_id: str, customer_id: str) -> None:
    conversation.remember(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.UNDO,
        payload={"interaction_id": interaction_id, "customer_id": customer_id},
        expires_at=ctx.now + UNDO_FOR,
    )


async def undo_last_note(ctx: Context) -> Reply:
    """'撤销' -> the note or reminder request saved in the last ten minutes on this channel is
    taken back; an older note is named as such, not as "nothing to undo"."""
    state = conversation.recall(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.UNDO,
        now=ctx.now,
    )
    if state is None:
        return _nothing_to_undo(ctx)
    conversation.forget(
        ctx.session, channel=ctx.channel, staff_id=ctx.actor.staff_id, kind=conversation.UNDO
    )
    customer = ctx.session.get(Customer, state["customer_id"])
    name = customer.name if customer else ""
    if "followup_id" in state:
        followup_id = int(state["followup_id"])
        if not undo_followup(ctx.session, followup_id=followup_id, staff_id=ctx.actor.staff_id):
            return _nothing_to_undo(ctx)
        data = {"followup_id": followup_id, "customer_id": state["customer_id"]}
        return Reply(t("followup_undone", ctx.lang, name=name), (Event("followup_undone", data),))
    interaction_id = state["interaction_id"]
    if not can_write(ctx.session, ctx.actor, state["customer_id"], ctx.today):
        # The grant ended since the note was saved: the note is no longer ours to change, and
        # the reply must not name a customer now out of scope (the guard would block it).
        return Reply(t("nothing_to_undo", ctx.lang), (Event("not_found"),))
    if not undo_note(
        ctx.session, staff_id=ctx.actor.staff_id, interaction_id=interaction_id, now=ctx.now
    ):
        return _nothing_to_undo(ctx)
    return Reply(
        t("note_undone", ctx.lang, name=name),
        (
            Event(
                "note_undone",
                {"interaction_id": interaction_id, "customer_id": state["customer_id"]},
            ),
        ),
    )


def _nothing_to_undo(ctx: Context) -> Reply:
    """Nothing within ten minutes: say when the last note was, if there is one."""
    last = last_note_at(ctx.session, staff_id=ctx.actor.staff_id)
    if last is None:
        return Reply(t("nothing_to_undo", ctx.lang), (Event("nothing_to_undo"),))
    local = last.astimezone(ctx.now.tzinfo)
    when = f"{day_text(local.date(), ctx.today, ctx.lang)} {local:%H:%M}"
    return Reply(t("undo_too_old", ctx.lang, when=when), (Event("nothing_to_undo"),))
