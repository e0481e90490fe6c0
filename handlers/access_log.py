"""Who saw a customer, for compliance in chat: "今天谁查看过张伟", "张伟被谁看过".

Only compliance may read it, as only compliance gets the audit summary; anyone else is told
so and nothing is looked up. The customer is found as everywhere (namesakes: which one?). The
reply lists the newest requests that disclosed that customer in the period typed (the last 7
days by default): when, who, what for, refused or not, and on which channel. The reply names
the customer, so the dispatcher audits this look-up like any other disclosure.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from crm_store.access_log import Access, customer_access
from crm_store.customers import find_by_name
from crm_store.models import Customer
from handlers.clarify import ask_to_choose
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.texts import t

DEFAULT_DAYS = 7
# What each request was, in the bank's words (the audit log keeps the intent's name).
WHAT = {
    "zh": {
        "lookup": "查看资料", "lookup_tail": "按尾号查找", "field": "查询信息", "note": "记录跟进",
        "remind": "设提醒", "question": "问沟通记录", "list": "客户列表", "list_vip": "VIP列表",
        "list_maturing": "到期列表", "today": "待办", "choose": "选择客户",
        "retention_list": "流失预警", "retention_why": "流失原因", "team_report": "团队报告",
        "tag_add": "加标签", "tag_remove": "去标签", "reminder_digest": "每日提醒推送",
        "export": "导出", "access_log": "查访问记录", "staff_reassign": "客户移交",
    },
    "en": {
        "lookup": "profile", "field": "field look-up", "note": "note", "question": "question",
        "list": "list", "today": "agenda", "reminder_digest": "morning digest",
        "export": "export", "access_log": "access look-up",
    },
}  # fmt: skip
CHANNELS = {"zh": {"wecom": "企业微信", "telegram": "Telegram", "console": "控制台"}}


async def access_log(ctx: Context, args: dict[str, str]) -> Reply:
    """Compliance's look-up of who saw the customer named; refused for any other role."""
    if ctx.actor.role != "compliance":
        return Reply(t("access_log_role", ctx.lang), (Event("refused", {"reason": "role"}),))
    matches = find_by_name(ctx.session, actor=ctx.actor, today=ctx.today, name=args["name"])
    matches = [m for m in matches if m.id == args.get("customer_id")] or matches
    if not matches:
        return Reply(t("not_found", ctx.lang), (Event("not_found"),))
    period: dict[str, Any] = {k: args[k] for k in ("since", "until", "words") if k in args}
    if len(matches) > 1:
        return ask_to_choose(ctx, matches, {"action": "access_log", **period})
    return show_access(ctx, matches[0].id, period)


def show_access(ctx: Context, customer_id: str, period: dict[str, Any]) -> Reply:
    """The access log of one customer for the period (`since`, `until`, `words`)."""
    customer = ctx.session.get(Customer, customer_id)
    if customer is None:
        return Reply(t("not_found", ctx.lang), (Event("not_found"),))
    since, until = _days(ctx, period)
    start = datetime.combine(since, time.min, tzinfo=ctx.tz)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=ctx.tz)
    log = customer_access(ctx.session, customer_id, start, end)
    words = str(period.get("words") or t("access_log_default_period", ctx.lang))
    event = Event("access_log_shown", {"customer_id": customer_id, "rows": log.total})
    if not log.accesses:
        return Reply(t("access_log_none", ctx.lang, name=customer.name, period=words), (event,))
    shown = t("access_log_shown", ctx.lang, count=len(log.accesses))
    lines = [t("access_log_title", ctx.lang, name=customer.name, period=words, total=log.total,
               shown=shown if log.total > len(log.accesses) else "")]  # fmt: skip
    lines += [_line(ctx, n, a) for n, a in enumerate(log.accesses, 1)]
    staff = frozenset(a.staff_name for a in log.accesses if a.staff_name)
    return Reply("\n".join(lines), (event,), allowed_names=staff)


def _days(ctx: Context, period: dict[str, Any]) -> tuple[date, date]:
    """The period's first and last business day; by default the last DEFAULT_DAYS days."""
    if period.get("since") and period.get("until"):
        return date.fromisoformat(period["since"]), date.fromisoformat(period["until"])
    return ctx.today - timedelta(days=DEFAULT_DAYS - 1), ctx.today


def _line(ctx: Context, n: int, access: Access) -> str:
    when = access.at.astimezone(ctx.tz)
    stamp = (
        f"{when:%m-%d %H:%M}" if ctx.lang != "zh" else f"{when.month}月{when.day}日 {when:%H:%M}"
    )
    who = access.staff_id or t("access_log_unbound", ctx.lang)
    if access.staff_name:
        who = t("access_log_who", ctx.lang, name=access.staff_name, staff_id=access.staff_id)
    what = WHAT.get(ctx.lang, {}).get(access.intent, access.intent)
    refused = t("access_log_refused", ctx.lang) if access.decision == "refused" else ""
    channel = CHANNELS.get(ctx.lang, {}).get(access.channel, access.channel)
    return t("access_log_line", ctx.lang, n=n, when=stamp, who=who, what=what, refused=refused,
             channel=channel)  # fmt: skip
