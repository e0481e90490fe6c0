"""Weekly team figures per RM, in SQL aggregates over exactly the manager's visible customers.

Every figure is one GROUP BY query restricted by `customer_scope(manager)`: notes written and
follow-ups done in the week (and the week before, for the change), follow-ups open and
overdue now, VIPs not contacted within their cadence, maturities in the next 30 days with and
without an open follow-up, and the open churn warnings with their amount at risk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, distinct, exists, func, select
from sqlalchemy.orm import Session

from crm_store.models import AuditLog, Customer, FollowUp, Holding, Interaction, Staff
from crm_store.permissions import Actor, customer_scope
from crm_store.retention import warnings
from crm_store.retention_rules import LEAVING_TYPES
from crm_store.settings import Settings

FIGURES = (
    "notes", "notes_before", "done", "done_before", "open", "overdue", "vip_silent",
    "maturing_followed", "maturing_unfollowed", "warnings",
)  # fmt: skip
MATURITY_DAYS = 30


@dataclass
class RmFigures:
    """One RM's week; `at_risk` is the sum of their warnings' amounts at risk."""

    staff_id: str
    name: str
    team_id: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIGURES, 0))
    at_risk: Decimal = Decimal(0)
    at_risk_names: list[tuple[str, Decimal]] = field(default_factory=list)

    def add(self, other: RmFigures) -> None:
        """Fold another RM's figures into these (team totals)."""
        for key in FIGURES:
            self.counts[key] += other.counts[key]
        self.at_risk += other.at_risk


@dataclass(frozen=True)
class Week:
    """The report's week [start, end) and the one before, as dates and UTC-aware instants."""

    today: date
    start: date
    settings: Settings

    def at(self, day: date) -> datetime:
        """Midnight of `day` in the business time zone."""
        return datetime.combine(day, time(0), tzinfo=self.settings.tz)

    @property
    def end(self) -> date:
        """The day after the week."""
        return self.start + timedelta(days=7)


def last_week_start(today: date) -> date:
    """The Monday of the last full week (Monday to Sunday) before `today`."""
    return today - timedelta(days=today.weekday() + 7)


def report_week(today: date, settings: Settings) -> Week:
    """The last full week before `today`."""
    return Week(today, last_week_start(today), settings)


def _count_by(
    session: Session, owner: Any, scope: ColumnElement[bool], *where: Any, counted: Any = None
) -> dict[str, int]:
    query = (
        select(owner, func.count(counted if counted is not None else distinct(Customer.id)))
        .select_from(Customer)
        .where(scope, *where)
        .group_by(owner)
    )
    return {str(k): int(v) for k, v in session.execute(query) if k is not None}


def _notes(
    session: Session, scope: ColumnElement[bool], start: datetime, end: datetime
) -> dict[str, int]:
    query = (
        select(Interaction.staff_id, func.count(Interaction.id))
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(scope, Interaction.undone_at.is_(None), Interaction.occurred_at >= start,
               Interaction.occurred_at < end)
        .group_by(Interaction.staff_id)
    )  # fmt: skip
    return {str(k): int(v) for k, v in session.execute(query)}


def _followups(session: Session, scope: ColumnElement[bool], *where: Any) -> dict[str, int]:
    query = (
        select(FollowUp.owner_staff_id, func.count(FollowUp.id))
        .join(Customer, Customer.id == FollowUp.customer_id)
        .where(scope, *where)
        .group_by(FollowUp.owner_staff_id)
    )
    return {str(k): int(v) for k, v in session.execute(query) if k is not None}


def _maturing(
    session: Session, scope: ColumnElement[bool], w: Week, followed: bool
) -> dict[str, int]:
    has_followup = exists().where(
        FollowUp.customer_id == Holding.customer_id, FollowUp.status.in_(("open", "snoozed"))
    )
    query = (
        select(Customer.owner_staff_id, func.count(Holding.id))
        .join(Customer, Customer.id == Holding.customer_id)
        .where(scope, Holding.product_type.in_(LEAVING_TYPES), Holding.maturity_date >= w.today,
               Holding.maturity_date <= w.today + timedelta(days=MATURITY_DAYS),
               has_followup if followed else ~has_followup)
        .group_by(Customer.owner_staff_id)
    )  # fmt: skip
    return {str(k): int(v) for k, v in session.execute(query)}


def _vip_silent(session: Session, scope: ColumnElement[bool], w: Week) -> dict[str, int]:
    cadence = w.settings.retention_cadence_days.get("vip", 30)
    since = w.at(w.today - timedelta(days=cadence))
    contacted = exists().where(
        Interaction.customer_id == Customer.id,
        Interaction.undone_at.is_(None),
        Interaction.occurred_at >= since,
    )
    return _count_by(session, Customer.owner_staff_id, scope, Customer.segment == "vip", ~contacted)


def rm_figures(
    session: Session, settings: Settings, manager: Actor, today: date, *, team_id: str | None = None
) -> list[RmFigures]:
    """Per RM owning customers the manager may see (of `team_id` only, if given)."""
    w = report_week(today, settings)
    scope = customer_scope(manager, today)
    if manager.role == "rm":
        scope = and_(scope, Customer.owner_staff_id == manager.staff_id)
    if team_id is not None:
        members = select(Staff.id).where(Staff.team_id == team_id)
        scope = and_(scope, Customer.owner_staff_id.in_(members))
    before = w.start - timedelta(days=7)
    sources = {
        "notes": _notes(session, scope, w.at(w.start), w.at(w.end)),
        "notes_before": _notes(session, scope, w.at(before), w.at(w.start)),
        "done": _followups(session, scope, FollowUp.status == "done",
                           FollowUp.closed_at >= w.at(w.start), FollowUp.closed_at < w.at(w.end)),
        "done_before": _followups(session, scope, FollowUp.status == "done",
                                  FollowUp.closed_at >= w.at(before),
                                  FollowUp.closed_at < w.at(w.start)),
        "open": _followups(session, scope, FollowUp.status.in_(("open", "snoozed"))),
        "overdue": _followups(session, scope, FollowUp.status.in_(("open", "snoozed")),
                              FollowUp.due_on < today),
        "vip_silent": _vip_silent(session, scope, w),
        "maturing_followed": _maturing(session, scope, w, True),
        "maturing_unfollowed": _maturing(session, scope, w, False),
    }  # fmt: skip
    people = _people(session, scope, sources, manager)
    for key, values in sources.items():
        for sid, value in values.items():
            if sid in people:
                people[sid].counts[key] = value
    for warning in warnings(session, settings, today, scope):
        person = people.get(warning.owner_staff_id)
        if person is not None:
            person.counts["warnings"] += 1
            person.at_risk += warning.at_risk
            person.at_risk_names.append((warning.customer_name, warning.at_risk))
    return sorted(people.values(), key=badness, reverse=True)


def _people(
    session: Session, scope: ColumnElement[bool], sources: dict[str, dict[str, int]], manager: Actor
) -> dict[str, RmFigures]:
    owners = select(Customer.owner_staff_id).where(scope).distinct()
    ids = set(session.scalars(owners))
    if manager.role == "rm":
        ids = {manager.staff_id}
    query = select(Staff.id, Staff.name, Staff.team_id).where(Staff.id.in_(ids))
    return {sid: RmFigures(sid, name, team or "") for sid, name, team in session.execute(query)}


def badness(f: RmFigures) -> tuple[Decimal, int, int]:
    """Worst first: amount at risk, then overdue follow-ups, then silent VIPs."""
    return f.at_risk, f.counts["overdue"], f.counts["vip_silent"]


def team_totals(rows: list[RmFigures]) -> dict[str, RmFigures]:
    """Team id -> the team's totals (name = team id)."""
    teams: dict[str, RmFigures] = {}
    for row in rows:
        total = teams.setdefault(row.team_id, RmFigures(row.team_id, row.team_id, row.team_id))
        total.add(row)
    return teams


@dataclass(frozen=True)
class AuditSummary:
    """Compliance's week: what the audit log holds."""

    disclosures: list[tuple[str, int]]  # (staff name, requests that disclosed customers)
    refusals: int
    unknown_senders: int
    llm_calls: int
    exports: int


def audit_summary(
    session: Session, settings: Settings, today: date, days: tuple[date, date] | None = None
) -> AuditSummary:
    """The audit log's last full week, or the `days` given (first and last), in five
    aggregates."""
    w = report_week(today, settings)
    first, after = (days[0], days[1] + timedelta(days=1)) if days else (w.start, w.end)
    # The request's clock (as_of; the real time in production, set by tests and `ask --now`).
    when = func.coalesce(AuditLog.as_of, AuditLog.at)
    week = (when >= w.at(first), when < w.at(after))
    by_staff = session.execute(
        select(func.coalesce(Staff.name, AuditLog.actor_staff_id), func.count(AuditLog.id))
        .outerjoin(Staff, Staff.id == AuditLog.actor_staff_id)
        .where(*week, AuditLog.customer_ids != "")
        .group_by(Staff.name, AuditLog.actor_staff_id)
        .order_by(func.count(AuditLog.id).desc())
    ).all()

    def count(*where: Any) -> int:
        return int(session.scalar(select(func.count(AuditLog.id)).where(*week, *where)) or 0)

    return AuditSummary(
        [(str(name), int(n)) for name, n in by_staff],
        refusals=count(AuditLog.decision == "refused"),
        unknown_senders=count(AuditLog.actor_staff_id.is_(None)),
        llm_calls=count(AuditLog.detail.contains("model=")),
        exports=count(AuditLog.intent == "export"),
    )


@dataclass(frozen=True)
class WeeklyReport:
    """What Monday's digest carries for a manager: RM figures, or compliance's audit."""

    manager: Actor
    rows: list[RmFigures]
    audit: AuditSummary | None = None


def weekly_report(
    session: Session, settings: Settings, manager: Actor, today: date
) -> WeeklyReport:
    """The report of `manager`'s scope for the week before `today`."""
    if manager.role == "compliance":
        return WeeklyReport(manager, [], audit_summary(session, settings, today))
    return WeeklyReport(manager, rm_figures(session, settings, manager, today))
