"""Planning: what is due for a business date, written into the reminder outbox.

Each kind is one `INSERT ... SELECT ... ON CONFLICT DO NOTHING` on indexed columns (birthday
month-day, maturity date, follow-up due date), so planning 1M customers stays close to the
cost of the SELECT alone and planning twice creates nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    Date,
    String,
    and_,
    cast,
    func,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from crm_store.models import (
    Customer,
    FollowUp,
    Holding,
    PlanRun,
    Reminder,
    UtcDateTime,
)
from crm_store.settings import Settings
from crm_store.upsert import insert_for, rows_inserted
from scheduler.candidates import birthday_keys_on
from scheduler.retention_plan import plan_retention
from scheduler.team_report_plan import plan_team_reports
from scheduler.workdays import previous_digest_day

REMINDER_KEY = ["kind", "entity_id", "occurs_on", "lead_days", "recipient_staff_id"]
_CTE_CHUNK = 200  # SQLite allows at most 500 terms in one compound SELECT


@dataclass(frozen=True)
class PlanResult:
    business_date: date
    since: date  # notify days in (since, business_date] were covered
    birthdays: int
    maturities: int
    followups: int
    digests: int = 0  # opened after the plan committed (`plan_day`)
    retention: int = 0  # churn warnings (`scheduler.retention_plan`)
    team_reports: int = 0  # weekly reports (`scheduler.team_report_plan`)

    @property
    def reminders(self) -> int:
        """Rows added to the outbox."""
        return (
            self.birthdays + self.maturities + self.followups + self.retention + self.team_reports
        )


def plan_window_start(session: Session, business_date: date, settings: Settings) -> date:
    """The day after which this plan starts: the last planned day, or the last digest day.

    A bankbot that was down for days covers the missed days once, in one catch-up digest.
    The catch-up cap never cuts into the days since the last scheduled digest day: a holiday
    longer than the cap (Spring Festival, National Day) is no outage.
    """
    last = session.scalar(
        select(func.max(PlanRun.business_date)).where(PlanRun.business_date < business_date)
    )
    scheduled = previous_digest_day(
        business_date, on_non_working_days=settings.digest_on_non_working_days
    )
    floor = min(scheduled, business_date - timedelta(days=settings.catchup_max_days))
    return max(scheduled if last is None else last, floor)


def _days(since: date, until: date, lead: int) -> list[date]:
    """Occurrence dates whose notify day (occurrence - lead) falls in (since, until]."""
    start = since + timedelta(days=lead + 1)
    return [start + timedelta(days=i) for i in range((until - since).days)]


def _insert(session: Session, query: Any) -> int:
    columns = ["kind", "entity_id", "customer_id", "occurs_on", "lead_days"]
    columns += ["recipient_staff_id", "business_date", "status", "created_at"]
    # SQLite needs a WHERE in INSERT ... SELECT ... ON CONFLICT to parse it unambiguously.
    statement = insert_for(session, Reminder).from_select(columns, query.where(true()))
    statement = statement.on_conflict_do_nothing(index_elements=REMINDER_KEY)
    return rows_inserted(session, statement, Reminder.id)


def _birthday_rows(since: date, until: date, leads: tuple[int, ...]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for lead in leads:
        for key, days in birthday_keys_on(_days(since, until, lead)).items():
            rows.extend((*key, on, lead) for on in days)
    return rows


def _candidates(rows: list[tuple[Any, ...]]) -> CTE:
    parts = [
        select(
            literal(cal).label("cal"),
            literal(month).label("month"),
            literal(day).label("day"),
            literal(leap).label("leap"),
            literal(on, Date).label("occurs_on"),
            literal(lead).label("lead"),
        )
        for cal, month, day, leap, on, lead in rows
    ]
    return union_all(*parts).cte("birthday_candidates")


def plan_birthdays(
    session: Session, *, since: date, until: date, settings: Settings, now: datetime
) -> int:
    """Birthdays whose reminder day falls in (since, until], for each customer's owner."""
    rows = _birthday_rows(since, until, settings.birthday_lead_days)
    added = 0
    for i in range(0, len(rows), _CTE_CHUNK):
        cand = _candidates(rows[i : i + _CTE_CHUNK])
        query = select(
            literal("birthday"),
            Customer.id,
            Customer.id,
            cand.c.occurs_on,
            cand.c.lead,
            Customer.owner_staff_id,
            literal(until, Date),
            literal("pending"),
            literal(now, UtcDateTime()),
        ).join(
            cand,
            and_(
                Customer.birth_month == cand.c.month,
                Customer.birth_day == cand.c.day,
                Customer.birthday_calendar == cand.c.cal,
                Customer.birthday_leap_month == cand.c.leap,
            ),
        )
        added += _insert(session, query)
    return added


def plan_maturities(
    session: Session, *, since: date, until: date, settings: Settings, now: datetime
) -> int:
    """Holdings whose maturity reminder day falls in (since, until], for each lead."""
    added = 0
    for lead in settings.maturity_lead_days:
        first = since + timedelta(days=lead + 1)
        last = until + timedelta(days=lead)
        query = (
            select(
                literal("maturity"),
                Holding.id,
                Holding.customer_id,
                Holding.maturity_date,
                literal(lead),
                Customer.owner_staff_id,
                literal(until, Date),
                literal("pending"),
                literal(now, UtcDateTime()),
            )
            .join(Customer, Customer.id == Holding.customer_id)
            .where(
                Holding.maturity_date >= first,
                Holding.maturity_date <= last,
                Holding.product_type.in_(settings.maturity_product_types),
            )
        )
        added += _insert(session, query)
    return added


def plan_followups(session: Session, *, since: date, until: date, now: datetime) -> int:
    """Follow-ups falling due in (since, until] that are still open or snoozed."""
    query = select(
        literal("followup"),
        cast(FollowUp.id, String),
        FollowUp.customer_id,
        FollowUp.due_on,
        literal(0),
        FollowUp.owner_staff_id,  # the customer's owner, kept by triggers
        literal(until, Date),
        literal("pending"),
        literal(now, UtcDateTime()),
    ).where(FollowUp.status != "done", FollowUp.due_on > since, FollowUp.due_on <= until)
    return _insert(session, query)


def plan(
    session: Session, *, business_date: date, settings: Settings, now: datetime, late: bool = False
) -> PlanResult:
    """Plan everything due for `business_date` (idempotent); the digests open afterwards
    (`scheduler.opening`)."""
    since = plan_window_start(session, business_date, settings)
    window = {"since": since, "until": business_date, "now": now}
    birthdays = plan_birthdays(session, settings=settings, **window)  # type: ignore[arg-type]
    maturities = plan_maturities(session, settings=settings, **window)  # type: ignore[arg-type]
    followups = plan_followups(session, **window)  # type: ignore[arg-type]
    retention = 0
    if settings.retention_enabled:
        retention = plan_retention(session, business_date=business_date, settings=settings, now=now)
    reports = 0
    if settings.team_report_weekly:
        reports = plan_team_reports(session, since=since, until=business_date, now=now)
    # Planning again asks for the digests again: a reminder added since may need one.
    reopen = {"late": late, "digests_opened_at": None}
    run = insert_for(session, PlanRun).values(business_date=business_date, planned_at=now, **reopen)
    session.execute(run.on_conflict_do_update(index_elements=["business_date"], set_=reopen))
    return PlanResult(
        business_date, since, birthdays, maturities, followups, retention=retention,
        team_reports=reports,
    )  # fmt: skip
