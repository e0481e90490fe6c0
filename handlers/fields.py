"""Focused answers about one customer: "张伟资产多少", "张伟的定期哪天到期", then the card."""

from __future__ import annotations

from crm_store.cards import CustomerCard, customer_card
from crm_store.customer_filters import HoldingRow, customer_holdings
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.render import card_text, product_text, segment_text
from handlers.texts import day_text, money_text, t

FIELDS = ("aum", "phone", "birthday", "risk", "holdings", "maturity", "segment")


def field_answer(ctx: Context, customer_id: str, field: str, products: list[str]) -> Reply:
    """The one fact asked for first, then the card; `field` is one of FIELDS."""
    card = customer_card(ctx.session, actor=ctx.actor, today=ctx.today, customer_id=customer_id)
    if card is None:
        return Reply(t("not_found", ctx.lang), (Event("not_found"),))
    head = _lead(ctx, card, field, products)
    staff = {card.owner_name, card.branch_name, *(n.staff_name for n in card.notes)}
    return Reply(
        head + "\n\n" + card_text(card, ctx.today, ctx.lang, tz=ctx.tz),
        (Event("customer_shown", {"customer_id": card.id, "field": field}),),
        allowed_names=frozenset(staff),
    )


def _lead(ctx: Context, card: CustomerCard, field: str, products: list[str]) -> str:
    lang, unknown = ctx.lang, t("unknown_value", ctx.lang)
    match field:
        case "aum":
            aum = money_text(card.aum, lang=lang) if card.aum is not None else unknown
            return t("field_aum", lang, name=card.name, aum=aum)
        case "phone":
            if not card.phone_masked:  # nothing on file: nothing was masked either
                return t("field_phone_none", lang, name=card.name)
            return t("field_phone", lang, name=card.name, phone=card.phone_masked)
        case "birthday":
            on = day_text(card.next_birthday, ctx.today, lang) if card.next_birthday else unknown
            calendar = t(f"calendar_{card.birthday_calendar}", lang)
            return t("field_birthday", lang, name=card.name, on=on, calendar=calendar)
        case "risk":
            return t("field_risk", lang, name=card.name, risk=card.risk_level or unknown)
        case "segment":
            return t(
                "field_segment", lang, name=card.name, segment=segment_text(card.segment, lang)
            )
    return _holdings_lead(ctx, card, products, maturing=field == "maturity")


def _holdings_lead(ctx: Context, card: CustomerCard, products: list[str], maturing: bool) -> str:
    rows = customer_holdings(
        ctx.session, actor=ctx.actor, today=ctx.today, customer_id=card.id, products=products
    )
    if maturing:
        rows = [r for r in rows if r.maturity_date is not None and r.maturity_date >= ctx.today]
    kinds = "、".join(product_text(p, ctx.lang) for p in products) if products else ""
    if not rows:
        return t("field_holdings_none", ctx.lang, name=card.name, kinds=kinds)
    lines = [t("field_holdings_head", ctx.lang, name=card.name, kinds=kinds, count=len(rows))]
    lines += [_holding_line(ctx, r) for r in rows[:10]]
    if len(rows) > 10:
        lines.append(t("today_more", ctx.lang, more=len(rows) - 10))
    return "\n".join(lines)


def _holding_line(ctx: Context, r: HoldingRow) -> str:
    due = (
        t("field_due", ctx.lang, due=day_text(r.maturity_date, ctx.today, ctx.lang))
        if r.maturity_date
        else t("field_no_due", ctx.lang)
    )
    return t(
        "field_holding",
        ctx.lang,
        kind=product_text(r.product_type, ctx.lang),
        product=r.product_name,
        amount=money_text(r.amount, r.currency, ctx.lang),
        due=due,
    )
