"""'今天要做什么': follow-ups due or overdue, then birthdays and maturities coming up.

Every item is numbered, birthdays and maturities included, so '完成 N' and '推迟 N 3天' work on
each; follow-ups beyond the first page are reached with '更多'.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from crm_store import conversation
from crm_store.agenda import (
    BirthdayLine,
    MaturityLine,
    birthdays_between,
    due_followups,
    maturities_between,
)
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.render import followup_line, product_text
from handlers.texts import day_text, money_text, t

AHEAD_DAYS = 7
LIST_FOLLOWUPS = 10
ITEMS_KEPT_FOR = timedelta(days=2)


def _remember(ctx: Context, items: list[dict[str, Any]], shown_followups: int, day: date) -> None:
    conversation.remember(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.ITEMS,
        payload={"items": items, "followups_shown": shown_followups, "day": day.isoformat()},
        expires_at=ctx.now + ITEMS_KEPT_FOR,
    )


def _occurrence(kind: str, entity: str, customer_id: str, on: date) -> dict[str, Any]:
    return {
        "kind": "occurrence",
        "type": kind,
        "entity": entity,
        "customer_id": customer_id,
        "on": on.isoformat(),
    }


async def today_agenda(
    ctx: Context, on: date | None = None, *, bare_weekday: bool = False
) -> Reply:
    """The day's list, numbered so '完成 2' and '推迟 2 3天' can refer to its items; `on` a
    later day ('明天有哪些待办') lists what is due by then, and what comes in the week after.
    A past day is today; a bare weekday already past this week ('周二的安排' on a Saturday)
    is next week's."""
    if on is not None and on < ctx.today and bare_weekday:
        on += timedelta(days=7)
    day = on if on is not None and on > ctx.today else ctx.today
    end = day + timedelta(days=AHEAD_DAYS)
    followups, total = due_followups(
        ctx.session, actor=ctx.actor, today=ctx.today, limit=LIST_FOLLOWUPS, due_by=day
    )
    birthdays = birthdays_between(ctx.session, actor=ctx.actor, start=day, end=end)
    maturities = maturities_between(ctx.session, actor=ctx.actor, start=day, end=end)
    shown = [f.customer_id for f in followups]
    shown += [b.customer_id for b in birthdays] + [m.customer_id for m in maturities]
    ids = list(dict.fromkeys(shown))
    count = len(followups) + len(birthdays) + len(maturities)
    event = Event("agenda_shown", {"customer_ids": ids, "items": count, "day": day.isoformat()})
    when = day_text(day, ctx.today, ctx.lang)
    if not count:
        nothing = t("day_nothing", ctx.lang, day=when) if day > ctx.today else None
        return Reply(nothing or t("today_nothing", ctx.lang), (event,))
    items: list[dict[str, Any]] = [{"kind": "followup", "id": f.id} for f in followups]
    title = t("day_title", ctx.lang, day=when) if day > ctx.today else None
    lines = [title or t("today_title", ctx.lang, today=ctx.today.isoformat())]
    if followups:
        overdue = sum(1 for f in followups if f.due_on < ctx.today)
        head = t("today_followups", ctx.lang, total=total)
        lines.append(head + (t("today_overdue", ctx.lang, overdue=overdue) if overdue else ""))
        lines += [followup_line(i, f, ctx.today, ctx.lang) for i, f in enumerate(followups, 1)]
        if total > len(followups):
            lines.append(t("today_more_hint", ctx.lang, more=total - len(followups)))
    if birthdays:
        lines.append(t("today_birthdays", ctx.lang, days=AHEAD_DAYS))
        for b in birthdays:
            items.append(_occurrence("birthday", b.customer_id, b.customer_id, b.on))
            lines.append(_birthday(ctx, len(items), b))
    if maturities:
        lines.append(t("today_maturities", ctx.lang, days=AHEAD_DAYS))
        for m in maturities:
            items.append(
                _occurrence("maturity", m.holding_id or "", m.customer_id, m.maturity_date)
            )
            lines.append(numbered_maturity(ctx, len(items), m))
    _remember(ctx, items, len(followups), day)
    # '更多' now continues this list, not an older one.
    conversation.forget(
        ctx.session, channel=ctx.channel, staff_id=ctx.actor.staff_id, kind=conversation.PAGE
    )
    lines.append(t("today_hint", ctx.lang))
    return Reply("\n".join(lines), (event,))


def _birthday(ctx: Context, index: int, b: BirthdayLine) -> str:
    key = "today_birthday_lunar" if b.calendar == "lunar" else "today_birthday"
    return t(
        key, ctx.lang, index=index, name=b.customer_name, on=day_text(b.on, ctx.today, ctx.lang)
    )


def numbered_maturity(ctx: Context, index: int, m: MaturityLine) -> str:
    """One maturity as a numbered line (today's list and the maturities list)."""
    return t(
        "list_maturity_line",
        ctx.lang,
        index=index,
        name=m.customer_name,
        kind=product_text(m.product_type, ctx.lang),
        product=m.product_name,
        amount=money_text(m.amount, m.currency, ctx.lang),
        due=day_text(m.maturity_date, ctx.today, ctx.lang),
    )


async def more_of_today(ctx: Context) -> Reply | None:
    """'更多' after today's list: the next follow-ups, numbered after the items shown; None when
    no today's list is open."""
    state = conversation.recall(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.ITEMS,
        now=ctx.now,
    )
    if state is None or "followups_shown" not in state:
        return None
    offset = int(state["followups_shown"])
    day = date.fromisoformat(state.get("day") or ctx.today.isoformat())
    followups, total = due_followups(
        ctx.session,
        actor=ctx.actor,
        today=ctx.today,
        limit=LIST_FOLLOWUPS,
        offset=offset,
        due_by=max(day, ctx.today),
    )
    if not followups:
        return None
    items: list[dict[str, Any]] = list(state["items"])
    lines = []
    for f in followups:
        items.append({"kind": "followup", "id": f.id})
        lines.append(followup_line(len(items), f, ctx.today, ctx.lang))
    shown = offset + len(followups)
    if total > shown:
        lines.append(t("today_more_hint", ctx.lang, more=total - shown))
    _remember(ctx, items, shown, day)
    event = Event(
        "agenda_shown",
        {
            "customer_ids": list(dict.fromkeys(f.customer_id for f in followups)),
            "items": len(items),
        },
    )
    return Reply("\n".join(lines), (event,))
