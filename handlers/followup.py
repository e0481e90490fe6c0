"""'完成 2' and '推迟 2 3天': act on the numbered items of the last agenda."""

from __future__ import annotations

from crm_store import conversation
from crm_store.followups import get_followup, mark_done, snooze
from crm_store.models import Customer, FollowUp
from crm_store.permissions import can_write
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.dates import parse_date_expression
from handlers.texts import day_text, t


def _item(ctx: Context, number: int) -> tuple[FollowUp | None, Reply | None]:
    state = conversation.recall(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.ITEMS,
        now=ctx.now,
    )
    if state is None:
        return None, Reply(t("no_items", ctx.lang))
    ids: list[int] = state.get("followups", [])
    if not 1 <= number <= len(ids):
        return None, Reply(t("bad_item", ctx.lang, n=number))
    task = get_followup(ctx.session, ids[number - 1])
    # Permission again: the customer may have been reassigned since the list was shown.
    if task is None or not can_write(ctx.session, ctx.actor, task.customer_id, ctx.today):
        return None, Reply(t("bad_item", ctx.lang, n=number))
    return task, None


def _name(ctx: Context, task: FollowUp) -> str:
    customer = ctx.session.get(Customer, task.customer_id)
    return customer.name if customer else ""


async def mark_item_done(ctx: Context, number: int) -> Reply:
    """Close follow-up number `number` of the last list."""
    task, problem = _item(ctx, number)
    if problem or task is None:
        return problem or Reply(t("no_items", ctx.lang))
    if not mark_done(ctx.session, followup_id=task.id, now=ctx.now):
        return Reply(t("already_done", ctx.lang))
    event = Event("followup_done", {"followup_id": task.id, "customer_id": task.customer_id})
    return Reply(t("done", ctx.lang, name=_name(ctx, task), summary=task.summary), (event,))


async def snooze_item(ctx: Context, number: int, when: str) -> Reply:
    """Move follow-up number `number` to a later day ('3天', '下周一'; default tomorrow)."""
    task, problem = _item(ctx, number)
    if problem or task is None:
        return problem or Reply(t("no_items", ctx.lang))
    until = parse_date_expression(when or "明天", ctx.now)
    if until is None or until <= ctx.today:
        return Reply(t("bad_snooze", ctx.lang))
    if not snooze(ctx.session, followup_id=task.id, until=until):
        return Reply(t("already_done", ctx.lang))
    event = Event(
        "followup_snoozed",
        {"followup_id": task.id, "customer_id": task.customer_id, "until": until.isoformat()},
    )
    return Reply(
        t("snoozed", ctx.lang, name=_name(ctx, task), due=day_text(until, ctx.today, ctx.lang)),
        (event,),
    )
