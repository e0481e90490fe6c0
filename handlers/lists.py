"""Lists with filters: birthdays or maturities in a period, AUM bounds, segments, tags,
follow-ups due, all my customers; a page at a time, "更多" for the next one.

Every list carries `list_shown` with the customer ids in display order and a `filter` saying
what was asked; its header states the count and the filter in words.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crm_store import conversation
from crm_store.agenda import birthdays_between, maturities_between
from crm_store.customer_filters import (
    filtered_customers,
    followups_until,
    of_segment,
    visible_owners,
    visible_tags,
)
from crm_store.models import Staff
from handlers.context import Context, typed_days
from handlers.contracts import Event, Reply
from handlers.render import product_text, segment_text
from handlers.texts import day_text, money_text, t
from handlers.today import more_of_today, numbered_maturity

PAGE = 20
PAGE_KEPT_FOR = timedelta(hours=2)
BIRTHDAY_DAYS = 7  # "最近谁过生日": the coming week
MATURITY_DAYS = 30  # "哪些快到期": the coming month
FOLLOWUP_DAYS = 7
_SCAN = 2000  # rows read for a period list before paging (a branch's month of maturities)


def _period(args: dict[str, str], today: date, days: int) -> tuple[date, date, str]:
    if args.get("from") and args.get("to"):
        return date.fromisoformat(args["from"]), date.fromisoformat(args["to"]), args["words"]
    return today, today + timedelta(days=days), ""


async def list_customers(ctx: Context, args: dict[str, str], offset: int = 0) -> Reply:
    """One page of the list `args` describes (kind: birthdays, maturities, customers,
    followups)."""
    kind = args.get("kind", "customers")
    if kind == "birthdays":
        lines, ids, head = _birthdays(ctx, args)
    elif kind == "maturities":
        lines, ids, head = _maturities(ctx, args)
    elif kind == "followups":
        lines, ids, head = _followups(ctx)
    else:
        return _customers(ctx, args, offset)
    return _page(ctx, args, head, lines, ids, offset)


def _page(
    ctx: Context,
    args: dict[str, str],
    head: tuple[str, dict[str, Any], dict[str, Any]],
    lines: list[str],
    ids: list[str],
    offset: int,
    total: int | None = None,
) -> Reply:
    """The page at `offset` of a list whose lines are all known."""
    key, values, filters = head
    total = len(ids) if total is None else total
    shown_lines = lines[offset : offset + PAGE]
    event_ids = ids[offset : offset + PAGE] if len(ids) == len(lines) else ids
    event = Event("list_shown", {"customer_ids": event_ids, "filter": filters, "total": total})
    if not lines:
        return Reply(t("list_none", ctx.lang, filter=_filter_words(ctx, filters)), (event,))
    text = [t(key, ctx.lang, total=total, **values)] if offset == 0 else []
    text += shown_lines
    more = len(lines) - offset - len(shown_lines)
    if more > 0:
        text.append(t("list_more", ctx.lang, more=more))
        _remember_page(ctx, args, offset + PAGE)
    return Reply("\n".join(text), (event,))


def _remember_page(ctx: Context, args: dict[str, str], offset: int) -> None:
    conversation.remember(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.PAGE,
        payload={"args": args, "offset": offset},
        expires_at=ctx.now + PAGE_KEPT_FOR,
    )


async def next_page(ctx: Context) -> Reply:
    """'更多': the next page of the last list."""
    state = conversation.recall(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.PAGE,
        now=ctx.now,
    )
    conversation.forget(
        ctx.session, channel=ctx.channel, staff_id=ctx.actor.staff_id, kind=conversation.PAGE
    )
    if state is None:
        more = await more_of_today(ctx)
        if more is not None:
            return more
        return Reply(t("no_more", ctx.lang), (Event("list_shown", {"customer_ids": []}),))
    args = dict(state["args"])
    if args.get("kind") == "question":
        from handlers.question import answer_question

        return await answer_question(ctx, args["text"], offset=int(state["offset"]))
    return await list_customers(ctx, args, int(state["offset"]))


def remember_more(ctx: Context, more: dict[str, object]) -> None:
    """Keep where '更多' goes on from (an open question's next notes)."""
    args = {"kind": str(more["kind"]), "text": str(more["text"])}
    _remember_page(ctx, args, int(str(more["offset"])))


def _birthdays(ctx: Context, args: dict[str, str]) -> tuple[list[str], list[str], Any]:
    start, end, words = _period(args, ctx.today, BIRTHDAY_DAYS)
    rows = birthdays_between(ctx.session, actor=ctx.actor, start=start, end=end, limit=_SCAN)
    if args.get("segment"):
        keep = of_segment(ctx.session, [b.customer_id for b in rows], args["segment"])
        rows = [b for b in rows if b.customer_id in keep]
    lines = [
        t(
            "list_birthday_line_lunar" if b.calendar == "lunar" else "list_birthday_line",
            ctx.lang,
            index=n,
            name=b.customer_name,
            on=day_text(b.on, ctx.today, ctx.lang),
        )
        for n, b in enumerate(rows, 1)
    ]
    filters = {"kind": "birthdays", "from": start.isoformat(), "to": end.isoformat()}
    if args.get("segment"):
        filters["segment"] = args["segment"]
    values = {"words": words, "start": start.isoformat(), "end": end.isoformat()}
    return lines, [b.customer_id for b in rows], ("list_birthdays", values, filters)


def _maturities(ctx: Context, args: dict[str, str]) -> tuple[list[str], list[str], Any]:
    start, end, _ = _period(args, ctx.today, MATURITY_DAYS)
    start = max(start, ctx.today) if end >= ctx.today else start
    products = [p for p in args.get("products", "").split(",") if p]
    rows = maturities_between(ctx.session, actor=ctx.actor, start=start, end=end, limit=_SCAN)
    rows = [m for m in rows if not products or m.product_type in products]
    if args.get("segment"):
        keep = of_segment(ctx.session, [m.customer_id for m in rows], args["segment"])
        rows = [m for m in rows if m.customer_id in keep]
    lines = [numbered_maturity(ctx, n, m) for n, m in enumerate(rows, 1)]
    kinds = "、".join(product_text(p, ctx.lang) for p in products)
    filters: dict[str, Any] = {
        "kind": "maturities",
        "from": start.isoformat(),
        "to": end.isoformat(),
    }
    if products:
        filters["products"] = products
    if args.get("segment"):
        filters["segment"] = args["segment"]
    values = {"kinds": kinds, "start": start.isoformat(), "end": end.isoformat()}
    ids = [m.customer_id for m in rows]
    return lines, ids, ("list_maturities", values, filters)


def _followups(ctx: Context) -> tuple[list[str], list[str], Any]:
    until = ctx.today + timedelta(days=FOLLOWUP_DAYS)
    rows = followups_until(ctx.session, actor=ctx.actor, today=ctx.today, until=until)
    lines = []
    for n, f in enumerate(rows, 1):
        late = (ctx.today - f.due_on).days
        when = (
            t("overdue_days", ctx.lang, days=late)
            if late > 0
            else day_text(f.due_on, ctx.today, ctx.lang)
        )
        lines.append(
            t(
                "list_followup_line",
                ctx.lang,
                index=n,
                name=f.customer_name,
                summary=f.summary,
                when=when,
            )
        )
    filters = {"kind": "followups", "to": until.isoformat()}
    return lines, [f.customer_id for f in rows], ("list_followups", {}, filters)


def _customers(ctx: Context, args: dict[str, str], offset: int) -> Reply:
    """Customers by segment, tag and AUM bounds (all of them when none is given)."""
    at_least = Decimal(args["aum_at_least"]) if args.get("aum_at_least") else None
    below = Decimal(args["aum_below"]) if args.get("aum_below") else None
    page = filtered_customers(
        ctx.session,
        actor=ctx.actor,
        today=ctx.today,
        segment=args.get("segment"),
        tag=args.get("tag"),
        aum_at_least=at_least,
        aum_below=below,
        owner=args.get("owner"),
        silent_since=_silent_since(ctx, args),
        silent_past=_cadence(ctx) if args.get("past_cadence") else None,
        noted_between=_noted_between(ctx, args),
        offset=offset,
        limit=min(int(args["top"]), PAGE) if args.get("top") else PAGE,
    )
    if args.get("top"):  # "资产最多的前五个": those alone, no next page
        page = replace(page, total=min(page.total, len(page.rows)))
    filters: dict[str, Any] = {"kind": "customers"}
    if "owner" in args:  # "" too: a name that owns no customer in the asker's scope
        filters |= {"owner": args["owner"], "owner_name": args["owner_name"]}
    keys = ("segment", "tag", "aum_at_least", "aum_below", "silent_days", "past_cadence")
    for key in (*keys, "noted_from", "noted_to", "noted_words", "top"):
        if args.get(key):
            filters[key] = args[key]
    filters["count_only"] = bool(args.get("count_only"))
    words = _filter_words(ctx, filters)
    if args.get("count_only"):
        event = Event("list_shown", {"customer_ids": [], "filter": filters, "total": page.total})
        return Reply(t("list_count", ctx.lang, filter=words, total=page.total), (event,))
    lines = [
        t(
            "list_line",
            ctx.lang,
            index=offset + n,
            name=c.name,
            aum=money_text(c.aum, lang=ctx.lang) if c.aum is not None else "-",
            phone=c.phone_masked or t("no_phone", ctx.lang),
        )
        for n, c in enumerate(page.rows, 1)
    ]
    ids = [c.id for c in page.rows]
    event = Event("list_shown", {"customer_ids": ids, "filter": filters, "total": page.total})
    if not lines:
        return Reply(t("list_none", ctx.lang, filter=words), (event,))
    text = [t("list_customers", ctx.lang, filter=words, total=page.total)] if offset == 0 else []
    text += lines
    more = page.total - offset - len(lines)
    if more > 0:
        text.append(t("list_more", ctx.lang, more=more))
        _remember_page(ctx, args, offset + PAGE)
    return Reply("\n".join(text), (event,))


def _silent_since(ctx: Context, args: dict[str, str]) -> datetime | None:
    """ "一个月没联系的": the start of the business day that many days ago."""
    if not args.get("silent_days"):
        return None
    return ctx.midnight(ctx.today - timedelta(days=int(args["silent_days"])))


def tag_or_owner(ctx: Context, word: str) -> dict[str, str]:
    """ "王磊的客户有哪些": the staff member's customers in the asker's scope (none when they
    own none there), unless the word is a tag; else the tag ("高净值客户有哪些")."""
    if word in visible_tags(ctx.session, actor=ctx.actor, today=ctx.today):
        return {"tag": word}
    if not ctx.session.scalar(select(Staff.id).where(Staff.name == word).limit(1)):
        return {"tag": word}
    owners = visible_owners(ctx.session, actor=ctx.actor, today=ctx.today)
    owner = next((staff_id for staff_id, name in owners if name == word), "")
    return {"owner": owner, "owner_name": word}


def _noted_between(ctx: Context, args: dict[str, str]) -> tuple[datetime, datetime] | None:
    """ "上周联系了哪些客户": from the period's first business day to the end of its last."""
    typed = typed_days(args, "noted_")
    if typed is None:
        return None
    first, last, _ = typed
    if first == ctx.today < last:  # "近三天", read ahead for maturities: here the days past
        first, last = ctx.today - (last - first), ctx.today
    return ctx.span(first, last)


def _cadence(ctx: Context) -> dict[str, datetime]:
    """ "很久没联系的": per segment, the start of the business day its contact cadence ago."""
    return {
        segment: ctx.midnight(ctx.today - timedelta(days=days))
        for segment, days in ctx.config.retention_cadence_days.items()
    }


def _filter_words(ctx: Context, filters: dict[str, Any]) -> str:
    """The filter in words: "VIP、资产500.00万以上的"."""
    parts = []
    if filters.get("segment"):
        parts.append(segment_text(str(filters["segment"]), ctx.lang).removesuffix("客户"))
    if filters.get("tag"):
        parts.append(t("filter_tag", ctx.lang, tag=filters["tag"]))
    for key in ("aum_at_least", "aum_below"):
        if filters.get(key):
            amount = money_text(filters[key], lang=ctx.lang)
            parts.append(t(f"filter_{key}", ctx.lang, amount=amount))
    if filters.get("silent_days"):
        parts.append(t("filter_silent", ctx.lang, days=filters["silent_days"]))
    if filters.get("past_cadence"):
        cadence = t("filter_join", ctx.lang).join(
            t(
                "filter_cadence_segment",
                ctx.lang,
                segment=segment_text(segment, ctx.lang),
                days=days,
            )
            for segment, days in ctx.config.retention_cadence_days.items()
        )
        parts.append(t("filter_past_cadence", ctx.lang, cadence=cadence))
    if filters.get("top"):
        one = str(filters["top"]) == "1"
        parts.append(t("filter_top_one" if one else "filter_top", ctx.lang, n=filters["top"]))
    if filters.get("noted_from"):
        parts.append(t("filter_noted", ctx.lang, period=filters.get("noted_words", "")))
    if filters.get("from") and filters.get("to"):
        parts.append(f"{filters['from']}~{filters['to']}")
    words = t("filter_join", ctx.lang).join(parts) if parts else ""
    if filters.get("owner_name"):  # a prefix: "李娜名下的VIP"
        return t("filter_owner", ctx.lang, name=filters["owner_name"]) + words
    return words or t("filter_all", ctx.lang)


async def vip_customers(ctx: Context) -> Reply:
    """'我的VIP客户': the VIP list."""
    return await list_customers(ctx, {"kind": "customers", "segment": "vip"})


async def maturing_customers(ctx: Context, which: str = "下个月") -> Reply:
    """'下个月到期的客户' (or this month): the maturities list for that month."""
    from handlers.understanding.periods import find_period

    period = find_period(which or "下个月", ctx.now)
    args = {"kind": "maturities"}
    if period is not None:
        args |= {
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "words": period.words,
        }
    return await list_customers(ctx, args)
