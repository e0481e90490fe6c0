"""Who saw a customer, and whom a staff member saw, for compliance in chat: "今天谁查看过张伟",
"张伟被谁看过", "李娜今天看了哪些客户".

Only compliance may read it, as only compliance gets the audit summary; anyone else is told
so and nothing is looked up. The customer is found as everywhere (namesakes: which one?). The
reply lists the newest requests that disclosed that customer in the period typed (the last 7
days by default): when, who, what for, refused or not, and on which channel. The reply names
the customer, so the dispatcher audits this look-up like any other disclosure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from crm_store.access_log import Access, StaffAccess, customer_access, staff_access
from crm_store.customers import find_by_name
from crm_store.models import Customer, Staff
from handlers.clarify import ask_to_choose
from handlers.context import Context, typed_days
from handlers.contracts import Event, Reply
from handlers.texts import t

DEFAULT_DAYS = 7
# What each request was, in the bank's words (the audit log keeps the intent's name).
WHAT = {
    "zh": {
        "lookup": "查看资料", "lookup_tail": "按尾号查找", "field": "查询信息", "note": "记录跟进",
        "remind": "设提醒", "question": "问沟通记录", "list": "客户列表", "list_vip": "VIP列表",
        "list_maturing": "到期列表", "list_tag": "客户列表", "more": "列表下一页",
        "today": "待办", "choose": "选择客户", "retention_follow": "流失跟进",
        "retention_list": "流失预警", "retention_why": "流失原因", "team_report": "团队报告",
        "tag_add": "加标签", "tag_remove": "去标签", "reminder_digest": "每日提醒推送",
        "export": "导出", "access_log": "查访问记录", "staff_reassign": "客户移交",
    },
    "en": {
        "lookup": "profile", "field": "field look-up", "note": "note", "question": "question",
        "list": "list", "list_tag": "list", "more": "next page", "today": "agenda",
        "reminder_digest": "morning digest",
        "export": "export", "access_log": "access look-up",
    },
}  # fmt: skip
CHANNELS = {"zh": {"wecom": "企业微信", "telegram": "Telegram", "console": "控制台"}}


async def access_log(ctx: Context, args: dict[str, str]) -> Reply:
    """Compliance's look-up of who saw the customer named; refused for any other role."""
    if ctx.actor.role != "compliance":
        return _refused(ctx)
    if args.get("staff_name"):
        return _staff_log(ctx, args)
    matches = find_by_name(ctx.session, actor=ctx.actor, today=ctx.today, name=args["name"])
    matches = [m for m in matches if m.id == args.get("customer_id")] or matches
    if not matches:
        return Reply(t("not_found", ctx.lang), (Event("not_found"),))
    period: dict[str, Any] = {k: args[k] for k in ("from", "to", "words") if k in args}
    if len(matches) > 1:
        return ask_to_choose(ctx, matches, {"action": "access_log", **period})
    return show_access(ctx, matches[0].id, period)


def show_access(ctx: Context, customer_id: str, period: dict[str, Any]) -> Reply:
    """The access log of one customer for the period (`from`, `to`, `words`); checked
    again here, as a choice answered later reaches it directly (the role may have changed)."""
    if ctx.actor.role != "compliance":
        return _refused(ctx)
    customer = ctx.session.get(Customer, customer_id)
    if customer is None:
        return Reply(t("not_found", ctx.lang), (Event("not_found"),))
    start, end, words = _period(ctx, period)
    log = customer_access(ctx.session, customer_id, start, end)
    event = Event("access_log_shown", {"customer_id": customer_id, "rows": log.total})
    if not log.accesses:
        return Reply(t("access_log_none", ctx.lang, name=customer.name, period=words), (event,))
    shown = t("access_log_shown", ctx.lang, count=len(log.accesses))
    lines = [t("access_log_title", ctx.lang, name=customer.name, period=words, total=log.total,
               shown=shown if log.total > len(log.accesses) else "")]  # fmt: skip
    lines += [_line(ctx, n, a) for n, a in enumerate(log.accesses, 1)]
    staff = frozenset(a.staff_name for a in log.accesses if a.staff_name)
    return Reply("\n".join(lines), (event,), allowed_names=staff)


def _refused(ctx: Context) -> Reply:
    return Reply(t("access_log_role", ctx.lang), (Event("refused", {"reason": "role"}),))


def _period(ctx: Context, args: dict[str, Any]) -> tuple[datetime, datetime, str]:
    """The period typed, as instants and in words; by default the last DEFAULT_DAYS days."""
    default = ctx.today - timedelta(days=DEFAULT_DAYS - 1), ctx.today, ""
    first, last, words = typed_days(args) or default
    start, end = ctx.span(first, last)
    return start, end, words or t("access_log_default_period", ctx.lang)


def _line(ctx: Context, n: int, access: Access) -> str:
    """One request that disclosed the customer: when, who, what for, on which channel."""
    who = access.staff_id or t("access_log_unbound", ctx.lang)
    if access.staff_name:
        who = t("access_log_who", ctx.lang, name=access.staff_name, staff_id=access.staff_id)
    return t("access_log_line", ctx.lang, n=n, who=who, **_request(ctx, access))


def _request(ctx: Context, access: Access) -> dict[str, str]:
    """A request's time, purpose, refusal and channel, in the reader's words."""
    when = access.at.astimezone(ctx.tz)
    stamp = (
        f"{when:%m-%d %H:%M}" if ctx.lang != "zh" else f"{when.month}月{when.day}日 {when:%H:%M}"
    )
    return {
        "when": stamp,
        "what": WHAT.get(ctx.lang, {}).get(access.intent, access.intent),
        "refused": t("access_log_refused", ctx.lang) if access.decision == "refused" else "",
        "channel": CHANNELS.get(ctx.lang, {}).get(access.channel, access.channel),
    }


SHOWN_NAMES = 5  # customer names on one line of a staff member's log; the rest counted


def _staff_log(ctx: Context, args: dict[str, str]) -> Reply:
    """The requests of the staff member named that disclosed customers, in the period."""
    name = args["staff_name"]
    staff_id = ctx.session.scalar(
        select(Staff.id).where(Staff.name == name).order_by(Staff.active.desc(), Staff.id)
    )
    if staff_id is None:
        return Reply(t("access_log_no_staff", ctx.lang, name=name), (Event("not_found"),))
    start, end, words = _period(ctx, args)
    rows, total = staff_access(ctx.session, staff_id, start, end)
    ids = list(dict.fromkeys(cid for row in rows for cid in row.customer_ids))
    query = select(Customer.id, Customer.name).where(Customer.id.in_(ids))
    names = {str(cid): str(cname) for cid, cname in ctx.session.execute(query)}
    who = t("access_log_who", ctx.lang, name=name, staff_id=staff_id)
    event = Event("staff_access_shown", {"staff_id": staff_id, "rows": total, "customer_ids": ids})
    if not rows:
        return Reply(t("access_log_staff_none", ctx.lang, who=who, period=words), (event,))
    shown = t("access_log_shown", ctx.lang, count=len(rows)) if total > len(rows) else ""
    lines = [t("access_log_staff_title", ctx.lang, who=who, period=words, total=total, shown=shown)]
    lines += [_staff_line(ctx, n, row, names) for n, row in enumerate(rows, 1)]
    return Reply("\n".join(lines), (event,), allowed_names=frozenset({name}))


def _staff_line(ctx: Context, n: int, row: StaffAccess, names: dict[str, str]) -> str:
    """One request of the staff member: when, what for, which customers, on which channel."""
    listed = [names.get(cid, cid) for cid in row.customer_ids]
    customers = t("filter_join", ctx.lang).join(listed[:SHOWN_NAMES])
    if len(listed) > SHOWN_NAMES:
        customers += t("access_log_more_names", ctx.lang, count=len(listed))
    access = Access(row.at, None, None, row.channel, row.intent, row.decision)
    return t("access_log_staff_line", ctx.lang, n=n, customers=customers, **_request(ctx, access))
