"""'团队周报' / '/team': the week of a team (team lead), of a branch (branch head, with a
drill-down '团队周报 T01'), an RM's own figures, or compliance's audit summary."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from crm_store.models import Team
from crm_store.team_report import (
    RmFigures,
    audit_summary,
    report_week,
    rm_figures,
    team_totals,
)
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.retention_text import short_money
from handlers.texts import t

BAR = 5
NAMES_SHOWN = 3  # at-risk customers named per RM, in drill-downs only


def bar(value: Decimal, top: Decimal) -> str:
    """▇▇▇▁▁: `value` against `top` in BAR characters."""
    filled = 0 if top <= 0 else round(float(value / top) * BAR)
    filled = max(filled, 1) if value > 0 else 0
    return "▇" * filled + "▁" * (BAR - filled)


def _change(now: int, before: int) -> str:
    delta = now - before
    return f"{delta:+d}" if delta else "±0"


def figures_line(f: RmFigures, top: Decimal, lang: str) -> str:
    """One RM or team on one short line."""
    c = f.counts
    change = _change(c["notes"], c["notes_before"])
    return t("team_line", lang, name=f.name, bar=bar(f.at_risk, top),
             at_risk=short_money(f.at_risk, lang), warnings=c["warnings"], overdue=c["overdue"],
             vip=c["vip_silent"], notes=c["notes"], notes_change=change, done=c["done"],
             open=c["open"], unfollowed=c["maturing_unfollowed"],
             followed=c["maturing_followed"])  # fmt: skip


def _title(ctx: Context, who: str) -> str:
    w = report_week(ctx.today, ctx.config)
    last = w.end - timedelta(days=1)
    return t("team_title", ctx.lang, who=who, start=f"{w.start.month}月{w.start.day}日",
             end=f"{last.month}月{last.day}日")  # fmt: skip


def _total_line(rows: list[RmFigures], ctx: Context) -> str:
    total = RmFigures("", t("team_total", ctx.lang), "")
    for row in rows:
        total.add(row)
    c = total.counts
    return t("team_total_line", ctx.lang, notes=c["notes"],
             notes_change=_change(c["notes"], c["notes_before"]), done=c["done"],
             done_change=_change(c["done"], c["done_before"]), open=c["open"],
             overdue=c["overdue"], vip=c["vip_silent"],
             maturing=c["maturing_followed"] + c["maturing_unfollowed"],
             unfollowed=c["maturing_unfollowed"], warnings=c["warnings"],
             at_risk=short_money(total.at_risk, ctx.lang))  # fmt: skip


def _lines(rows: list[RmFigures], ctx: Context, *, names: bool) -> list[str]:
    top = max((r.at_risk for r in rows), default=Decimal(0))
    lines: list[str] = []
    for row in rows:
        lines.append(figures_line(row, top, ctx.lang))
        if names and row.at_risk_names:
            shown = sorted(row.at_risk_names, key=lambda x: -x[1])[:NAMES_SHOWN]
            who = "、".join(f"{n}({short_money(a, ctx.lang)})" for n, a in shown)
            lines.append(t("team_names", ctx.lang, names=who))
    return lines


async def team_report(ctx: Context, team_id: str | None = None) -> Reply:
    """The report for the asker's role; a drill-down by team id for branch heads."""
    role = ctx.actor.role
    if role == "compliance":
        return _compliance(ctx)
    if role not in ("rm", "team_lead", "branch_head"):
        return Reply(t("team_role", ctx.lang), (Event("refused", {"reason": "role"}),))
    drill = team_id if role == "branch_head" else None
    rows = rm_figures(ctx.session, ctx.config, ctx.actor, ctx.today, team_id=drill)
    event = {"role": role, "team": drill or ctx.actor.team_id or "", "rms": len(rows)}
    if role == "branch_head" and drill is None:
        teams = sorted(team_totals(rows).values(), key=lambda f: f.at_risk, reverse=True)
        lines = [_title(ctx, t("team_branch", ctx.lang)), _total_line(rows, ctx)]
        lines += _lines(teams, ctx, names=False)
        lines.append(t("team_drill_hint", ctx.lang))
        return Reply("\n".join(lines), (Event("team_report_shown", event),))
    if role == "branch_head" and drill is not None and ctx.session.get(Team, drill) is None:
        return Reply(t("team_unknown", ctx.lang, team=drill), (Event("not_found"),))
    who = drill or ctx.actor.team_id or ctx.actor.name
    if role == "rm":
        who = ctx.actor.name
    lines = [_title(ctx, who), _total_line(rows, ctx)]
    lines += _lines(rows, ctx, names=drill is not None)
    if drill is not None:  # names disclosed: in scope by construction, audited by id
        event["customer_names"] = sum(len(r.at_risk_names[:NAMES_SHOWN]) for r in rows)
    return Reply("\n".join(lines), (Event("team_report_shown", event),))


def _compliance(ctx: Context) -> Reply:
    s = audit_summary(ctx.session, ctx.config, ctx.today)
    lines = [_title(ctx, t("team_audit", ctx.lang))]
    top = max((n for _, n in s.disclosures), default=0)
    for name, n in s.disclosures[:10]:
        lines.append(f"{name} {bar(Decimal(n), Decimal(top))} {n}")
    lines.append(t("team_audit_line", ctx.lang, refusals=s.refusals, unknown=s.unknown_senders,
                   llm=s.llm_calls, exports=s.exports))  # fmt: skip
    return Reply("\n".join(lines), (Event("audit_summary_shown", {"staff": len(s.disclosures)}),))
