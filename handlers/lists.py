"""Lists: '我的VIP客户' and '下个月到期的客户'."""

from __future__ import annotations

from calendar import monthrange
from datetime import date

from crm_store.agenda import maturities_between
from crm_store.customers import count_visible, list_by_segment
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.render import maturity_line
from handlers.texts import money_text, t

LIST_LIMIT = 30


async def vip_customers(ctx: Context) -> Reply:
    """The actor's visible VIP customers, largest AUM first."""
    rows = list_by_segment(
        ctx.session, actor=ctx.actor, today=ctx.today, segment="vip", limit=LIST_LIMIT
    )
    if not rows:
        return Reply(t("vip_none", ctx.lang), (Event("list_shown", {"customer_ids": []}),))
    total = len(rows) if len(rows) < LIST_LIMIT else count_visible_vip(ctx)
    lines = [t("vip_title", ctx.lang, total=total)]
    for i, c in enumerate(rows, 1):
        aum = money_text(c.aum, lang=ctx.lang) if c.aum is not None else "-"
        phone = c.phone_masked or "-"
        lines.append(t("vip_line", ctx.lang, index=i, name=c.name, aum=aum, phone=phone))
    if total > len(rows):
        lines.append(t("today_more", ctx.lang, more=total - len(rows)))
    return Reply("\n".join(lines), (Event("list_shown", {"customer_ids": [c.id for c in rows]}),))


def count_visible_vip(ctx: Context) -> int:
    """How many VIP customers the actor may see (for the '……另有N项' line)."""
    return count_visible(ctx.session, actor=ctx.actor, today=ctx.today, segment="vip")


def _month_bounds(today: date, which: str) -> tuple[date, date]:
    year, month = today.year, today.month
    if which.startswith("下"):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    start = date(year, month, 1)
    end = date(year, month, monthrange(year, month)[1])
    return max(start, today), end


async def maturing_customers(ctx: Context, which: str = "下个月") -> Reply:
    """Visible customers with a holding maturing next month (or this month)."""
    start, end = _month_bounds(ctx.today, which or "下个月")
    rows = maturities_between(ctx.session, actor=ctx.actor, start=start, end=end, limit=LIST_LIMIT)
    ids = list(dict.fromkeys(m.customer_id for m in rows))
    if not rows:
        return Reply(
            t("maturing_none", ctx.lang, start=start.isoformat(), end=end.isoformat()),
            (Event("list_shown", {"customer_ids": []}),),
        )
    lines = [t("maturing_title", ctx.lang, start=start.isoformat(), end=end.isoformat())]
    lines += [maturity_line(m, ctx.today, ctx.lang) for m in rows]
    return Reply("\n".join(lines), (Event("list_shown", {"customer_ids": ids}),))
