"""'团队周报' / '/team': the week of a team (team lead), of a branch (branch head, with a
drill-down '团队周报 T01'), an RM's own figures, or compliance's audit summary."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from crm_store.models import Team
from crm_store.permissions import Actor
from crm_store.team_report import (
    AuditSummary,
    RmFigures,
    WeeklyReport,
    audit_summary,
    last_week_start,
    rm_figures,
    team_totals,
)
from handlers.context import Context, typed_days
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


def title(today: date, who: str, lang: str) -> str:
    """📊 T1周报（11月23日—11月29日）: the last full week."""
    start = last_week_start(today)
    last = start + timedelta(days=6)
    return t("team_title", lang, who=who, start=f"{start.month}月{start.day}日",
             end=f"{last.month}月{last.day}日")  # fmt: skip


def total_line(rows: list[RmFigures], lang: str) -> str:
    """The team's (or branch's) totals, on a few short lines."""
    total = RmFigures("", t("team_total", lang), "")
    for row in rows:
        total.add(row)
    c = total.counts
    return t("team_total_line", lang, notes=c["notes"],
             notes_change=_change(c["notes"], c["notes_before"]), done=c["done"],
             done_change=_change(c["done"], c["done_before"]), open=c["open"],
             overdue=c["overdue"], vip=c["vip_silent"],
             maturing=c["maturing_followed"] + c["maturing_unfollowed"],
             unfollowed=c["maturing_unfollowed"], warnings=c["warnings"],
             at_risk=short_money(total.at_risk, lang))  # fmt: skip


def rm_lines(rows: list[RmFigures], lang: str, *, names: bool) -> list[str]:
    """One entry per RM (or team), worst first; at-risk customer names only if `names`."""
    top = max((r.at_risk for r in rows), default=Decimal(0))
    lines: list[str] = []
    for row in rows:
        lines.append(figures_line(row, top, lang))
        if names and row.at_risk_names:
            shown = sorted(row.at_risk_names, key=lambda x: -x[1])[:NAMES_SHOWN]
            who = "、".join(f"{n}({short_money(a, lang)})" for n, a in shown)
            lines.append(t("team_names", lang, names=who))
    return lines


async def team_report(
    ctx: Context, team_id: str | None = None, period: dict[str, str] | None = None
) -> Reply:
    """The report for the asker's role; a drill-down by team id for branch heads. Compliance's
    audit summary covers the `period` typed ("今天有多少拒绝访问"), by default last week."""
    role = ctx.actor.role
    if role == "compliance":
        return _compliance(ctx, typed_days(period or {}))
    if role not in ("rm", "team_lead", "branch_head"):
        return Reply(t("team_role", ctx.lang), (Event("refused", {"reason": "role"}),))
    drill = team_id if role == "branch_head" else None
    if drill is not None and ctx.session.get(Team, drill) is None:
        return Reply(t("team_unknown", ctx.lang, team=drill), (Event("not_found"),))
    rows = rm_figures(ctx.session, ctx.config, ctx.actor, ctx.today, team_id=drill)
    event = {"role": role, "team": drill or ctx.actor.team_id or "", "rms": len(rows)}
    text = report_text(ctx.actor, rows, ctx.today, ctx.lang, drill=drill)
    return Reply(text, (Event("team_report_shown", event),))


def report_text(
    manager: Actor, rows: list[RmFigures], today: date, lang: str, *, drill: str | None = None
) -> str:
    """The report as a phone shows it: the branch by team, or a team (or an RM) by RM."""
    if manager.role == "branch_head" and drill is None:
        teams = sorted(team_totals(rows).values(), key=lambda f: f.at_risk, reverse=True)
        lines = [title(today, t("team_branch", lang), lang), total_line(rows, lang)]
        lines += rm_lines(teams, lang, names=False)
        lines.append(t("team_drill_hint", lang))
        return "\n".join(lines)
    who = manager.name if manager.role == "rm" else drill or manager.team_id or manager.name
    lines = [title(today, who, lang), total_line(rows, lang)]
    # Customer names only in a drill-down: in the manager's scope by construction.
    lines += rm_lines(rows, lang, names=drill is not None)
    return "\n".join(lines)


def _compliance(ctx: Context, period: tuple[date, date, str] | None) -> Reply:
    if period is None:
        s = audit_summary(ctx.session, ctx.config, ctx.today)
        text = audit_text(s, ctx.today, ctx.lang)
        return Reply(text, (Event("audit_summary_shown", {"staff": len(s.disclosures)}),))
    first, last, words = period
    s = audit_summary(ctx.session, ctx.config, ctx.today, (first, last))
    head = t("audit_title_period", ctx.lang, who=t("team_audit", ctx.lang), words=words)
    text = audit_text(s, ctx.today, ctx.lang, head=head)
    event = {"staff": len(s.disclosures), "from": first.isoformat(), "to": last.isoformat()}
    return Reply(text, (Event("audit_summary_shown", event),))


def audit_text(s: AuditSummary, today: date, lang: str, *, head: str | None = None) -> str:
    """Compliance's audit summary (by default the week's): disclosures by staff (bars), then
    the counts."""
    lines = [head or title(today, t("team_audit", lang), lang)]
    top = max((n for _, n in s.disclosures), default=0)
    for name, n in s.disclosures[:10]:
        lines.append(f"{name} {bar(Decimal(n), Decimal(top))} {n}")
    lines.append(t("team_audit_line", lang, refusals=s.refusals, unknown=s.unknown_senders,
                   llm=s.llm_calls, exports=s.exports))  # fmt: skip
    return "\n".join(lines)


def weekly_text(report: WeeklyReport, today: date, lang: str) -> str:
    """Monday's report inside the digest (no customer names: those are for drill-downs)."""
    if report.audit is not None:
        return audit_text(report.audit, today, lang)
    return report_text(report.manager, report.rows, today, lang)
