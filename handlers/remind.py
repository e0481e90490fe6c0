"""'后天提醒我给张伟回电话': a follow-up task due that day, with no note; '撤销' takes it back."""

from __future__ import annotations

import re
from datetime import date, timedelta

from crm_store import conversation
from crm_store.customers import CustomerSummary, find_by_name, find_by_phone_tail
from crm_store.followups import open_followup
from crm_store.models import Customer
from crm_store.permissions import can_write
from handlers.clarify import ask_to_choose
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.dates import find_followup_date, parse_date_expression
from handlers.texts import day_text, named_with_phone, t
from handlers.understanding.slots import find_customers

UNDO_FOR = timedelta(minutes=10)


def _who(ctx: Context, args: dict[str, str]) -> list[CustomerSummary]:
    if args.get("name"):
        return find_by_name(ctx.session, actor=ctx.actor, today=ctx.today, name=args["name"])
    if args.get("last4"):
        return find_by_phone_tail(
            ctx.session, actor=ctx.actor, today=ctx.today, last4=args["last4"]
        )
    return find_customers(ctx, args["text"])[0]


async def remind_request(ctx: Context, args: dict[str, str]) -> Reply:
    """Open a follow-up for the one visible customer named, due on the day the text says."""
    if ctx.actor.role == "compliance":
        return Reply(t("read_only", ctx.lang), (Event("refused", {"reason": "read_only"}),))
    matches = _who(ctx, args)
    if not matches:
        return Reply(t("remind_who", ctx.lang), (Event("not_found"),))
    found = find_followup_date(args["text"], ctx.now)
    on = found.on if found else _english_day(args["text"], ctx)
    due = on or ctx.today + timedelta(days=1)
    action = {
        "action": "remind",
        "text": args["text"],
        "due": due.isoformat(),
        "guessed": on is None,
    }
    if len(matches) > 1:
        return ask_to_choose(ctx, matches, action)
    return save_reminder(ctx, matches[0].id, action)


_EN_DAY = re.compile(
    r"(?i)\b(day after tomorrow|tomorrow|in \d{1,3} (?:days?|weeks?)|"
    r"(?:next )?(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b"
)


def _english_day(text: str, ctx: Context) -> date | None:
    """'remind me to call X tomorrow / on Friday / in 3 days' (Chinese goes through jionlp)."""
    m = _EN_DAY.search(text)
    if m is None:
        return None
    return parse_date_expression(re.sub(r"^in ", "", m.group(1).lower()), ctx.now)


def save_reminder(ctx: Context, customer_id: str, action: dict[str, object]) -> Reply:
    """Write the follow-up and offer undo for ten minutes."""
    if not can_write(ctx.session, ctx.actor, customer_id, ctx.today):
        return Reply(t("read_only", ctx.lang), (Event("refused", {"reason": "read_only"}),))
    due = date.fromisoformat(str(action["due"]))
    summary = str(action["text"])
    followup_id = open_followup(
        ctx.session,
        customer_id=customer_id,
        staff_id=ctx.actor.staff_id,
        due_on=due,
        summary=summary,
        now=ctx.now,
    )
    conversation.remember(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.UNDO,
        payload={"followup_id": followup_id, "customer_id": customer_id},
        expires_at=ctx.now + UNDO_FOR,
    )
    customer = ctx.session.get(Customer, customer_id)
    assert customer is not None  # can_write just saw it
    when = day_text(due, ctx.today, ctx.lang)
    if action.get("guessed"):
        when += t("remind_default_day", ctx.lang)
    lines = [
        t(
            "remind_saved",
            ctx.lang,
            due=when,
            who=named_with_phone(customer.name, customer.phone_masked, ctx.lang),
            summary=summary,
        ),
        t("remind_hint", ctx.lang),
    ]
    event = Event(
        "followup_created",
        {"customer_id": customer_id, "due_on": due.isoformat(), "followup_id": followup_id},
    )
    return Reply("\n".join(lines), (event,))
