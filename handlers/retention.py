"""Churn warnings in chat: '哪些客户有流失风险', '张伟为什么有风险', '跟进 N' on a warning."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_

from crm_store import conversation
from crm_store.customers import find_by_name
from crm_store.models import Customer, Reminder
from crm_store.permissions import READ_ONLY_ROLES, can_write, customer_scope
from crm_store.reminder_items import acknowledge
from crm_store.retention import Warning, warning_for, warnings
from crm_store.retention_followup import (
    add_working_days,
    open_retention,
    open_retention_followup,
)
from handlers.clarify import ask_to_choose
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.retention_text import action_text, reasons_text, short_money, warning_line
from handlers.texts import day_text, t

LIST_LIMIT = 10
ITEMS_KEPT_FOR = timedelta(hours=24)
RETENTION_FILTER = "retention"


def _remember(ctx: Context, shown: list[Warning]) -> None:
    """'跟进 N' and '完成 N' act on this list (a warning has no reminder id: 完成 refuses)."""
    items = [{"kind": "warning", "id": 0, "customer_id": w.customer_id} for w in shown]
    conversation.remember(
        ctx.session,
        channel=ctx.channel,
        staff_id=ctx.actor.staff_id,
        kind=conversation.ITEMS,
        payload={"items": items},
        expires_at=ctx.now + ITEMS_KEPT_FOR,
    )


async def list_at_risk(ctx: Context, owner: tuple[str, str] | None = None) -> Reply:
    """Every visible customer with a churn warning, largest amount at risk first; `owner`
    (staff id, name): only that staff member's ("李娜名下哪些客户有流失风险")."""
    scope = customer_scope(ctx.actor, ctx.today)
    if owner is not None:
        scope = and_(scope, Customer.owner_staff_id == owner[0])
    found = warnings(ctx.session, ctx.config, ctx.today, scope)
    shown = found[:LIST_LIMIT]
    payload = {"customer_ids": [w.customer_id for w in shown], "filter": RETENTION_FILTER}
    if owner is not None:
        payload["owner"] = owner[0]
    event = Event("list_shown", payload)
    if not shown:
        return Reply(t("retention_none", ctx.lang), (event,))
    head = t("retention_list_head", ctx.lang, total=len(found))
    if owner is not None:
        head = t("retention_list_head_owner", ctx.lang, total=len(found), name=owner[1])
    lines = [head]
    lines += [f"{i}. " + warning_line(w, ctx.today, ctx.lang) for i, w in enumerate(shown, 1)]
    if len(found) > len(shown):
        lines.append(t("retention_list_more", ctx.lang, more=len(found) - len(shown)))
    lines.append(t("retention_list_hint", ctx.lang))
    _remember(ctx, shown)
    return Reply("\n".join(lines), (event,))


async def why_at_risk(ctx: Context, name: str, customer_id: str | None = None) -> Reply:
    """'张伟为什么有风险' -> the reasons of the one visible 张伟 (or a choice, or not found);
    `customer_id`: the one of the namesakes the message told apart ("王芳VIP为什么有风险")."""
    matches = find_by_name(ctx.session, actor=ctx.actor, today=ctx.today, name=name)
    matches = [m for m in matches if m.id == customer_id] or matches
    if not matches:
        return Reply(t("not_found", ctx.lang), (Event("not_found"),))
    if len(matches) > 1:
        return ask_to_choose(ctx, matches, {"action": "why_at_risk"})
    return explain(ctx, matches[0].id)


def explain(ctx: Context, customer_id: str) -> Reply:
    """The warning of one customer the actor may see, in words."""
    customer = ctx.session.get(Customer, customer_id)
    if customer is None:
        return Reply(t("not_found", ctx.lang), (Event("not_found"),))
    event = Event("customer_shown", {"customer_id": customer_id})
    found = warning_for(ctx.session, ctx.config, ctx.today, customer_id)
    if found is None:
        return Reply(t("retention_why_none", ctx.lang, name=customer.name), (event,))
    reasons = "\n".join(
        f"· {line}" for line in reasons_text(found, ctx.today, ctx.lang).split("；")
    )
    text = t("retention_why", ctx.lang, name=found.customer_name,
             amount=short_money(found.at_risk, ctx.lang), reasons=reasons,
             action=action_text(found, ctx.lang))  # fmt: skip
    _remember(ctx, [found])
    return Reply(text, (event,))


def _warned_customer(ctx: Context, number: int) -> tuple[str | None, int | None, Reply | None]:
    """(customer id, reminder id or None) of item `number` if it is a warning; else a reply."""
    state = conversation.recall(
        ctx.session, channel=ctx.channel, staff_id=ctx.actor.staff_id,
        kind=conversation.ITEMS, now=ctx.now,
    )  # fmt: skip
    items: list[dict[str, Any]] = (state or {}).get("items", [])
    if not state:
        return None, None, Reply(t("no_items", ctx.lang))
    if not 1 <= number <= len(items):
        return None, None, Reply(t("bad_item", ctx.lang, n=number))
    item = items[number - 1]
    if item.get("kind") == "warning":
        return str(item["customer_id"]), None, None
    if item.get("kind") == "reminder":
        reminder = ctx.session.get(Reminder, int(item["id"]))
        if reminder is not None and reminder.kind == "retention":
            return reminder.customer_id, reminder.id, None
    return None, None, Reply(t("retention_not_warning", ctx.lang, n=number))


async def follow_up_warning(ctx: Context, number: int) -> Reply:
    """'跟进 N': a retention follow-up due in a few working days, quieting the warning."""
    if ctx.actor.role in READ_ONLY_ROLES:
        return Reply(t("read_only", ctx.lang), (Event("refused", {"reason": "read_only"}),))
    customer_id, reminder_id, problem = _warned_customer(ctx, number)
    if problem is not None or customer_id is None:
        return problem or Reply(t("no_items", ctx.lang))
    # Permission again: the customer may have changed hands since the list was shown.
    if not can_write(ctx.session, ctx.actor, customer_id, ctx.today):
        return Reply(t("bad_item", ctx.lang, n=number))
    customer = ctx.session.get(Customer, customer_id)
    name = customer.name if customer else ""
    if open_retention(ctx.session, customer_id) is not None:
        return Reply(t("retention_followup_exists", ctx.lang, name=name))
    found = warning_for(ctx.session, ctx.config, ctx.today, customer_id)
    keys = found.reason_keys if found else []
    summary = t("retention_followup_summary", ctx.lang,
                reasons=reasons_text(found, ctx.today, ctx.lang) if found else "")  # fmt: skip
    due = add_working_days(ctx.today, ctx.config.retention_followup_workdays)
    followup_id = open_retention_followup(
        ctx.session, customer_id=customer_id, staff_id=ctx.actor.staff_id, due_on=due,
        summary=summary, reason_keys=keys, now=ctx.now,
    )  # fmt: skip
    if reminder_id is not None:
        acknowledge(ctx.session, reminder_id)
    data = {"customer_id": customer_id, "followup_id": followup_id}
    event = Event("retention_followup_opened", {**data, "due_on": due.isoformat(), "reasons": keys})
    text = t(
        "retention_followup_opened", ctx.lang, name=name, due=day_text(due, ctx.today, ctx.lang)
    )
    return Reply(text, (event,))
