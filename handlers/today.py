"""'今天要做什么': follow-ups due or overdue, then birthdays and maturities coming up."""

from __future__ import annotations

from datetime import timedelta

from crm_store import conversation
from crm_store.agenda import birthdays_between, due_followups, maturities_between
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.render import birthday_line, followup_line, maturity_line
from handlers.texts import t

AHEAD_DAYS = 7
LIST_FOLLOWUPS = 10
ITEMS_KEPT_FOR = timedelta(days=2)


async def today_agenda(ctx: Context) -> Reply:
    """The day's list, numbered so '完成 2' and '推迟 2 3天' can refer to its items."""
    end = ctx.today + timedelta(days=AHEAD_DAYS)
    followups, total = due_followups(
        ctx.session, actor=ctx.actor, today=ctx.today, limit=LIST_FOLLOWUPS
    )
    birthdays = birthdays_between(ctx.session, actor=ctx.actor, start=ctx.today, end=end)
    maturities = maturities_between(ctx.session, actor=ctx.actor, start=ctx.today, end=end)
    shown = [f.customer_id for f in followups]
    shown += [b.customer_id for b in birthdays] + [m.customer_id for m in maturities]
    ids = list(dict.fromkeys(shown))
    event = Event("agenda_shown", {"customer_ids": ids, "items": len(followups)})
    if not (followups or birthdays or maturities):
        return Reply(t("today_nothing", ctx.lang), (event,))
    conversation.remember(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.ITEMS,
        payload={"items": [{"kind": "followup", "id": f.id} for f in followups]},
        expires_at=ctx.now + ITEMS_KEPT_FOR,
    )
    lines = [t("today_title", ctx.lang, today=ctx.today.isoformat())]
    if followups:
        overdue = sum(1 for f in followups if f.due_on < ctx.today)
        head = t("today_followups", ctx.lang, total=total)
        lines.append(head + (t("today_overdue", ctx.lang, overdue=overdue) if overdue else ""))
        lines += [followup_line(i, f, ctx.today, ctx.lang) for i, f in enumerate(followups, 1)]
        if total > len(followups):
            lines.append(t("today_more", ctx.lang, more=total - len(followups)))
    if birthdays:
        lines.append(t("today_birthdays", ctx.lang, days=AHEAD_DAYS))
        lines += [birthday_line(b, ctx.today, ctx.lang) for b in birthdays]
    if maturities:
        lines.append(t("today_maturities", ctx.lang, days=AHEAD_DAYS))
        lines += [maturity_line(m, ctx.today, ctx.lang) for m in maturities]
    if followups:
        lines.append(t("today_hint", ctx.lang))
    return Reply("\n".join(lines), (event,))
