"""From a parsed intent to the one handler that does it."""

from __future__ import annotations

from crm_store.customers import name_candidates
from handlers import intents as i
from handlers.clarify import forget, pending, take_choice
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.followup import mark_item_done, snooze_item
from handlers.lists import maturing_customers, vip_customers
from handlers.lookup import lookup_by_name, lookup_by_tail, show_card
from handlers.note import note_from_text, save_note, undo_last_note
from handlers.question import answer_question
from handlers.retention import explain, follow_up_warning, list_at_risk, why_at_risk
from handlers.tags import change_tag, list_by_tag
from handlers.team_report import team_report
from handlers.texts import t
from handlers.today import today_agenda


def fixed_reply(text: str, *events: Event) -> Reply:
    """A reply of fixed wording only: its example names ("查一下张伟") are nobody's data."""
    return Reply(text, events, allowed_names=frozenset(name_candidates(text)))


def parse(ctx: Context) -> i.Intent:
    """Parse the message, letting a pending clarification claim '1' / '第二个'."""
    return i.parse_intent(ctx.message.text, pending_choice=pending(ctx) is not None)


async def route(ctx: Context, intent: i.Intent) -> Reply:
    """Run the handler for `intent`."""
    a = intent.args
    match intent.name:
        case i.HELP:
            return fixed_reply(t("help", ctx.lang), Event("help_shown"))
        case i.LOOKUP:
            return await lookup_by_name(ctx, a["name"])
        case i.LOOKUP_TAIL:
            return await lookup_by_tail(ctx, a["last4"])
        case i.NOTE:
            return await note_from_text(ctx, a["content"], a.get("name"), a.get("followup"))
        case i.UNDO:
            return await undo_last_note(ctx)
        case i.TODAY:
            return await today_agenda(ctx)
        case i.DONE:
            return await mark_item_done(ctx, int(a["n"]))
        case i.SNOOZE:
            return await snooze_item(ctx, int(a["n"]), a.get("when", ""))
        case i.LIST_VIP:
            return await vip_customers(ctx)
        case i.LIST_MATURING:
            return await maturing_customers(ctx, a.get("when", "下个月"))
        case i.QUESTION:
            return await answer_question(ctx, a["text"])
        case i.CHOOSE:
            return await _continue(ctx, int(a["n"]))
        case i.CANCEL:
            forget(ctx)
            return Reply(t("cancelled", ctx.lang))
        case i.RETENTION_LIST:
            return await list_at_risk(ctx)
        case i.RETENTION_WHY:
            return await why_at_risk(ctx, a["name"])
        case i.RETENTION_FOLLOW:
            return await follow_up_warning(ctx, int(a["n"]))
        case i.TEAM_REPORT:
            return await team_report(ctx, a.get("team"))
        case i.TAG_ADD | i.TAG_REMOVE:
            action = "add" if intent.name == i.TAG_ADD else "remove"
            return await change_tag(ctx, a["name"], a["tag"], action)
        case i.LIST_TAG:
            return await list_by_tag(ctx, a["tag"])
    return fixed_reply(t("unknown", ctx.lang), Event("not_understood"))


async def _continue(ctx: Context, number: int) -> Reply:
    """Finish what the clarification question was about, for the chosen customer."""
    action, customer_id, problem = take_choice(ctx, number)
    if problem is not None or action is None or customer_id is None:
        return problem or Reply(t("nothing_pending", ctx.lang))
    if action["action"] == "note":
        return save_note(ctx, customer_id, action)
    if action["action"] == "why_at_risk":
        return explain(ctx, customer_id)
    return show_card(ctx, customer_id)
