"""How many notes the asker recorded in a period: "这个月我记了几条跟进", "我今天写了几条记录".

Only the asker's own notes (their `staff_id`), not undone, on customers they may still see;
the period typed, or this month. A manager's team figures are in the team report.
"""

from __future__ import annotations

from sqlalchemy import func, select

from crm_store.models import Customer, Interaction
from crm_store.permissions import customer_scope
from handlers.context import Context, typed_days
from handlers.contracts import Event, Reply
from handlers.texts import t


async def count_notes(ctx: Context, args: dict[str, str]) -> Reply:
    """The asker's notes in the period, and on how many customers."""
    this_month = (ctx.today.replace(day=1), ctx.today, t("notes_this_month", ctx.lang))
    first, last, words = typed_days(args) or this_month
    start, end = ctx.span(first, min(last, ctx.today))
    query = (
        select(func.count(Interaction.id), func.count(func.distinct(Interaction.customer_id)))
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(
            Interaction.staff_id == ctx.actor.staff_id,
            Interaction.occurred_at >= start,
            Interaction.occurred_at < end,
            Interaction.undone_at.is_(None),
            customer_scope(ctx.actor, ctx.today),
        )
    )
    notes, customers = ctx.session.execute(query).one()
    event = Event("notes_counted", {"notes": int(notes), "customers": int(customers)})
    text = t("notes_counted", ctx.lang, period=words, notes=notes, customers=customers)
    return Reply(text, (event,))
