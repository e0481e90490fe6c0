"""Look up a customer by name or phone tail and show the card."""

from __future__ import annotations

from crm_store.cards import customer_card
from crm_store.customer_filters import near_misses
from crm_store.customers import CustomerSummary, find_by_name, find_by_phone_tail, name_candidates
from handlers.clarify import ask_to_choose
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.render import card_text
from handlers.texts import t


async def lookup_by_name(ctx: Context, name: str) -> Reply:
    """'查一下张伟' -> the card of the one visible 张伟, or a choice, or not found; a near miss
    ("张玮" when only 张伟 is visible) is asked about, never shown silently."""
    matches = find_by_name(ctx.session, actor=ctx.actor, today=ctx.today, name=name)
    exact = [m for m in matches if m.name == name]
    if exact or not name_candidates(name):
        return _answer(ctx, exact or matches, t("not_found", ctx.lang))
    close = near_misses(ctx.session, actor=ctx.actor, today=ctx.today, name=name)
    if close:
        return ask_to_choose(ctx, close, {"action": "lookup", "near_miss": True})
    return _answer(ctx, [], t("not_found", ctx.lang))


async def lookup_customer(ctx: Context, args: dict[str, str]) -> Reply:
    """A look-up by name or by phone tail, whichever the message gave (a customer id only
    when the reader told namesakes apart by their phone tail; the card checks access)."""
    if args.get("customer_id"):
        return show_card(ctx, args["customer_id"])
    if args.get("name"):
        return await lookup_by_name(ctx, args["name"])
    if args.get("last4"):
        return await lookup_by_tail(ctx, args["last4"])
    return Reply(t("not_found", ctx.lang), (Event("not_found"),))


async def lookup_by_tail(ctx: Context, last4: str) -> Reply:
    """'尾号5678的客户' -> the visible customers whose phone ends so."""
    matches = find_by_phone_tail(ctx.session, actor=ctx.actor, today=ctx.today, last4=last4)
    return _answer(ctx, matches, t("not_found_tail", ctx.lang, last4=last4))


def _answer(ctx: Context, matches: list[CustomerSummary], not_found: str) -> Reply:
    # Not found and not permitted are the same answer, with the same (empty) events.
    if not matches:
        return Reply(not_found, (Event("not_found"),))
    if len(matches) > 1:
        return ask_to_choose(ctx, matches, {"action": "lookup"})
    return show_card(ctx, matches[0].id)


def show_card(ctx: Context, customer_id: str) -> Reply:
    """The card of one customer the actor may see."""
    card = customer_card(ctx.session, actor=ctx.actor, today=ctx.today, customer_id=customer_id)
    if card is None:
        return Reply(t("not_found", ctx.lang), (Event("not_found"),))
    staff = {card.owner_name, card.branch_name, *(n.staff_name for n in card.notes)}
    return Reply(
        card_text(card, ctx.today, ctx.lang, tz=ctx.tz),
        (Event("customer_shown", {"customer_id": card.id, "field": None}),),
        allowed_names=frozenset(staff),
    )
