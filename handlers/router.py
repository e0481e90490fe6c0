"""From a reading of the message to the one handler that does it."""

from __future__ import annotations

from datetime import date

from crm_store import conversation
from crm_store.customers import name_candidates
from handlers import intents as i
from handlers.access_log import access_log, show_access
from handlers.clarify import PENDING_FOR, forget, pending, take_choice
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.fields import field_answer
from handlers.followup import mark_item_done, snooze_item
from handlers.lists import (
    list_customers,
    maturing_customers,
    next_page,
    tag_or_owner,
    vip_customers,
)
from handlers.lookup import lookup_by_name, lookup_by_tail, lookup_customer, show_card
from handlers.note import note_from_text, save_note, undo_last_note
from handlers.note_count import count_notes
from handlers.question import answer_question
from handlers.remind import remind_request, save_reminder
from handlers.retention import explain, follow_up_warning, list_at_risk, why_at_risk
from handlers.tags import change_tag
from handlers.team_report import team_report
from handlers.texts import has_text, t
from handlers.today import today_agenda
from handlers.understanding.decide import Reading, read_message
from handlers.understanding.lexicon import SEGMENTS, words_in

_HELLO = ("你好", "您好", "hi", "hello", "早", "早上好")


def fixed_reply(text: str, *events: Event) -> Reply:
    """A reply of fixed wording only: its example names ("查一下张伟") are nobody's data."""
    return Reply(text, events, allowed_names=frozenset(name_candidates(text)))


def parse(ctx: Context) -> i.Intent:
    """Read the message, letting a pending clarification claim '1' / '第二个'."""
    return read(ctx).intent


def read(ctx: Context) -> Reading:
    """The full reading of the message (intent, how sure, the runner-up)."""
    return read_message(ctx, ctx.message.text, pending_choice=pending(ctx) is not None)


def chosen_question(ctx: Context, reading: Reading) -> Reading:
    """A number picking "question" from a pending "which did you mean?" as the question itself,
    so that it is answered like any question: outside the write transaction, which must not
    wait on the LLM. The pending choice is dropped by the caller, in its write transaction."""
    if reading.intent.name != i.CHOOSE:
        return reading
    state = pending(ctx)
    number = int(reading.intent.args["n"])
    if state is not None and state.get("action") == "question":  # "which 王芳?" answered
        candidates = state.get("candidates", [])
        if not 1 <= number <= len(candidates):
            return reading  # the choice's own "pick 1 to N" answer
        args = {"text": state["text"], "customer_id": candidates[number - 1]}
        return Reading(i.Intent(i.QUESTION, args), True, (), None, settles_choice=True)
    if state is None or state.get("action") != "intent":
        return reading
    options = state.get("options", [])
    if not 1 <= number <= len(options) or options[number - 1]["name"] != i.QUESTION:
        return reading
    chosen = i.Intent(i.QUESTION, dict(options[number - 1]["args"]))
    return Reading(chosen, True, (), None, reading.proposed, settles_choice=True)


async def respond(ctx: Context, reading: Reading) -> Reply:
    """Run the reading's handler, or ask which of its readings was meant."""
    if not reading.sure and len(reading.options) > 1:
        return ask_intent(ctx, list(reading.options))
    return await route(ctx, reading.intent, vector=reading.vector)


async def route(ctx: Context, intent: i.Intent, *, vector: object | None = None) -> Reply:
    """Run the handler for `intent`."""
    a = intent.args
    match intent.name:
        case i.HELP:
            return fixed_reply(t("help", ctx.lang), Event("help_shown"))
        case i.SMALL_TALK:
            hello = ctx.message.text.strip().lower().rstrip("!！。.") in _HELLO
            return fixed_reply(
                t("small_talk_hello" if hello else "small_talk", ctx.lang), Event("small_talk")
            )
        case i.NEED_NUMBER:
            return fixed_reply(t("need_number", ctx.lang), Event("item_number_needed"))
        case i.LOOKUP:
            return await lookup_customer(ctx, a)
        case i.LOOKUP_TAIL:
            return await lookup_by_tail(ctx, a["last4"])
        case i.FIELD:
            return await _field(ctx, a)
        case i.NOTE:
            return await note_from_text(
                ctx, a["content"], a.get("name"), a.get("followup"), a.get("customer_id")
            )
        case i.REMIND:
            return await remind_request(ctx, a)
        case i.UNDO:
            return await undo_last_note(ctx)
        case i.TODAY:
            on = date.fromisoformat(a["on"]) if a.get("on") else None
            return await today_agenda(ctx, on, bare_weekday=a.get("weekday") == "bare")
        case i.DONE:
            return await mark_item_done(ctx, int(a["n"]))
        case i.SNOOZE:
            return await snooze_item(ctx, int(a["n"]), a.get("when", ""))
        case i.LIST_VIP:
            return await vip_customers(ctx)
        case i.LIST_MATURING:
            return await maturing_customers(ctx, a.get("when", "下个月"))
        case i.LIST:
            return await list_customers(ctx, a)
        case i.MORE:
            return await next_page(ctx)
        case i.QUESTION:
            chosen = a.get("customer_id")
            return await answer_question(ctx, a["text"], vector=vector, customer_id=chosen)
        case i.CHOOSE:
            return await _continue(ctx, int(a["n"]))
        case i.CANCEL:  # only a pending choice can be cancelled: say so when there is none
            waiting = pending(ctx) is not None
            forget(ctx)
            return Reply(t("cancelled" if waiting else "nothing_to_cancel", ctx.lang))
        case i.RETENTION_LIST:
            owner = (a["owner"], a["owner_name"]) if "owner" in a else None
            return await list_at_risk(ctx, owner)
        case i.RETENTION_WHY:
            return await why_at_risk(ctx, a["name"], a.get("customer_id"))
        case i.RETENTION_FOLLOW:
            return await follow_up_warning(ctx, int(a["n"]))
        case i.TEAM_REPORT:
            return await team_report(ctx, a.get("team"), a)
        case i.ACCESS_LOG:
            return await access_log(ctx, a)
        case i.NOTE_COUNT:
            return await count_notes(ctx, a)
        case i.TAG_ADD | i.TAG_REMOVE:
            action = "add" if intent.name == i.TAG_ADD else "remove"
            return await change_tag(ctx, a["name"], a["tag"], action)
        case i.LIST_TAG:  # "高净值客户有哪些": a tag, a segment's own word, or a staff name
            word = a["tag"].removesuffix("的")
            segments = words_in(word + "客户", SEGMENTS)
            if segments:
                return await list_customers(ctx, {"kind": "customers", "segment": segments[0]})
            return await list_customers(ctx, {"kind": "customers", **tag_or_owner(ctx, word)})
    return fixed_reply(t("unsure", ctx.lang) + "\n\n" + t("help", ctx.lang), Event("help_shown"))


async def _field(ctx: Context, args: dict[str, str]) -> Reply:
    """A focused answer about the one customer named (a choice when two share the name)."""
    products = [p for p in args.get("products", "").split(",") if p]
    if args.get("customer_id"):  # namesakes told apart by a phone tail; the card checks access
        return field_answer(ctx, args["customer_id"], args["field"], products)
    if args.get("name"):
        found = await lookup_by_name(ctx, args["name"])
    else:
        found = await lookup_customer(ctx, args)
    shown = [e for e in found.events if e.type == "customer_shown"]
    if not shown:
        _keep_field_for_choice(ctx, args)
        return found
    return field_answer(ctx, shown[0].data["customer_id"], args["field"], products)


def _keep_field_for_choice(ctx: Context, args: dict[str, str]) -> None:
    """When the look-up asked "which 王芳?", the answer to it should be the field, not the card."""
    state = pending(ctx)
    if state is not None and state.get("action") == "lookup":
        state = {**state, "field": args["field"], "products": args.get("products", "")}
        conversation.remember(
            ctx.session,
            channel=ctx.channel,
            staff_id=ctx.actor.staff_id,
            kind=conversation.CLARIFY,
            payload=state,
            expires_at=ctx.now + PENDING_FOR,
        )


def ask_intent(ctx: Context, options: list[i.Intent]) -> Reply:
    """ "要记录为跟进记录，还是查看张伟的资料？" with numbered choices; nothing is done yet."""
    options = options[:4]
    payload = {
        "action": "intent",
        "options": [{"name": o.name, "args": o.args} for o in options],
        "candidates": [],
    }
    conversation.remember(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.CLARIFY,
        payload=payload,
        expires_at=ctx.now + PENDING_FOR,
    )
    lines = [t("ask_intent", ctx.lang)]
    lines += [
        t("option_line", ctx.lang, index=n, label=_label(ctx, o)) for n, o in enumerate(options, 1)
    ]
    lines.append(t("ask_intent_hint", ctx.lang))
    event = Event("intent_choice", {"options": [o.name for o in options]})
    return Reply("\n".join(lines), (event,))


def _label(ctx: Context, option: i.Intent) -> str:
    name = option.args.get("name", "")
    if option.name == i.NOTE and not name:
        return t("intent_note_unnamed", ctx.lang)
    key = f"intent_{option.name}"
    return t(key if has_text(key) else "intent_other", ctx.lang, name=name, what=option.name)


async def _continue(ctx: Context, number: int) -> Reply:
    """Finish what the clarification question was about, for the chosen option or customer."""
    state = pending(ctx)
    if state is not None and state.get("action") == "intent":
        options = state.get("options", [])
        if not 1 <= number <= len(options):
            return Reply(t("bad_choice", ctx.lang, count=len(options)))
        forget(ctx)
        chosen = options[number - 1]
        return await route(ctx, i.Intent(chosen["name"], dict(chosen["args"])))
    action, customer_id, problem = take_choice(ctx, number)
    if problem is not None or action is None or customer_id is None:
        return problem or Reply(t("nothing_pending", ctx.lang))
    if action["action"] == "note":
        return save_note(ctx, customer_id, action)
    if action["action"] == "remind":
        return save_reminder(ctx, customer_id, action)
    if action["action"] == "why_at_risk":
        return explain(ctx, customer_id)
    if action["action"] == "access_log":
        return show_access(ctx, customer_id, action)
    if action.get("field"):
        products = [p for p in str(action.get("products", "")).split(",") if p]
        return field_answer(ctx, customer_id, str(action["field"]), products)
    return show_card(ctx, customer_id)
