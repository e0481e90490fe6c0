"""'完成 2' and '推迟 2 3天': act on the numbered items of the last list or digest.

An item is a follow-up task (done / moved to a later day) or a birthday or maturity reminder
(acknowledged, so later reminders of the same occurrence are not sent; snoozing it opens a
follow-up for the chosen day).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from crm_store import conversation, reminder_items
from crm_store.followups import mark_done, open_followup, snooze
from crm_store.models import Customer, FollowUp, Reminder
from crm_store.permissions import READ_ONLY_ROLES, can_write
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.dates import parse_date_expression
from handlers.texts import day_text, t


@dataclass(frozen=True)
class Occurrence:
    """A birthday or maturity shown in today's list, with or without a planned reminder."""

    kind: str
    entity_id: str
    customer_id: str
    occurs_on: date


Item = FollowUp | Reminder | Occurrence
MAX_SNOOZE_DAYS = 365
# A minus sign before a number ('-3天', full-width or typographic): never read as +3.
_NEGATIVE = re.compile(r"[-－−–—]\s*[0-9０-９]")


def _read_only(ctx: Context) -> Reply | None:
    """Compliance reads everything and changes nothing: refused, and audited so."""
    if ctx.actor.role not in READ_ONLY_ROLES:
        return None
    return Reply(t("read_only", ctx.lang), (Event("refused", {"reason": "read_only"}),))


def _snooze_until(ctx: Context, when: str) -> tuple[date | None, Reply | None]:
    """The day to move to, from tomorrow to MAX_SNOOZE_DAYS ahead; else the reply to send."""
    last = ctx.today + timedelta(days=MAX_SNOOZE_DAYS)
    out_of_range = Reply(
        t("snooze_range", ctx.lang, max=MAX_SNOOZE_DAYS, last=day_text(last, ctx.today, ctx.lang))
    )
    if _NEGATIVE.search(when):
        return None, out_of_range
    until = parse_date_expression(when or "明天", ctx.now)
    if until is None:
        return None, Reply(t("bad_snooze", ctx.lang))
    if not ctx.today < until <= last:
        return None, out_of_range
    return until, None


def _item(ctx: Context, number: int) -> tuple[Item | None, Reply | None]:
    state = conversation.recall(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.ITEMS,
        now=ctx.now,
    )
    if state is None:
        return None, Reply(t("no_items", ctx.lang))
    entries: list[dict[str, Any]] = state.get("items", [])
    if not 1 <= number <= len(entries):
        return None, Reply(t("bad_item", ctx.lang, n=number))
    entry = entries[number - 1]
    item: Item | None
    if entry["kind"] == "followup":
        item = ctx.session.get(FollowUp, int(entry["id"]))
    elif entry["kind"] == "occurrence":
        on = date.fromisoformat(entry["on"])
        item = Occurrence(entry["type"], entry["entity"], entry["customer_id"], on)
    else:
        item = ctx.session.get(Reminder, int(entry["id"]))
    # Permission again: the customer may have been reassigned since the list was shown.
    if item is None or not can_write(ctx.session, ctx.actor, item.customer_id, ctx.today):
        return None, Reply(t("bad_item", ctx.lang, n=number))
    return item, None


def _name(ctx: Context, customer_id: str) -> str:
    customer = ctx.session.get(Customer, customer_id)
    return customer.name if customer else ""


def _acknowledge(ctx: Context, item: Reminder | Occurrence) -> None:
    if isinstance(item, Reminder):
        reminder_items.acknowledge(ctx.session, item.id)
        return
    reminder_items.acknowledge_occurrence(
        ctx.session,
        kind=item.kind,
        entity_id=item.entity_id,
        customer_id=item.customer_id,
        occurs_on=item.occurs_on,
        staff_id=ctx.actor.staff_id,
        today=ctx.today,
        now=ctx.now,
    )


def _what(ctx: Context, reminder: Reminder | Occurrence) -> str:
    return t(f"reminder_kind_{reminder.kind}", ctx.lang)


async def mark_item_done(ctx: Context, number: int) -> Reply:
    """Close item `number`: a follow-up is done, a reminder is acknowledged."""
    refused = _read_only(ctx)
    if refused:
        return refused
    item, problem = _item(ctx, number)
    if problem or item is None:
        return problem or Reply(t("no_items", ctx.lang))
    name = _name(ctx, item.customer_id)
    if isinstance(item, Reminder | Occurrence):
        _acknowledge(ctx, item)
        data: dict[str, object] = {"customer_id": item.customer_id, "kind": item.kind}
        if isinstance(item, Reminder):
            data["reminder_id"] = item.id
        event = Event("reminder_acked", data)
        return Reply(t("reminder_acked", ctx.lang, name=name, what=_what(ctx, item)), (event,))
    if not mark_done(ctx.session, followup_id=item.id, now=ctx.now):
        return Reply(t("already_done", ctx.lang))
    event = Event("followup_done", {"followup_id": item.id, "customer_id": item.customer_id})
    return Reply(t("done", ctx.lang, name=name, summary=item.summary), (event,))


async def snooze_item(ctx: Context, number: int, when: str) -> Reply:
    """Move item `number` to a later day ('3天', '下周一'; default tomorrow)."""
    refused = _read_only(ctx)
    if refused:
        return refused
    item, problem = _item(ctx, number)
    if problem or item is None:
        return problem or Reply(t("no_items", ctx.lang))
    until, bad = _snooze_until(ctx, when)
    if bad or until is None:
        return bad or Reply(t("bad_snooze", ctx.lang))
    name = _name(ctx, item.customer_id)
    if isinstance(item, Reminder | Occurrence):
        _acknowledge(ctx, item)
        summary = f"{_what(ctx, item)} {item.occurs_on.isoformat()}"
        open_followup(
            ctx.session,
            customer_id=item.customer_id,
            staff_id=ctx.actor.staff_id,
            due_on=until,
            summary=summary,
            now=ctx.now,
        )
    elif not snooze(ctx.session, followup_id=item.id, until=until):
        return Reply(t("already_done", ctx.lang))
    event = Event(
        "followup_snoozed",
        {"customer_id": item.customer_id, "until": until.isoformat(), "item": number},
    )
    due = day_text(until, ctx.today, ctx.lang)
    return Reply(t("snoozed", ctx.lang, name=name, due=due), (event,))
