"""The weekly team report in the morning plan: on the first plan covering a Monday, one
`team_report` reminder per team lead, branch head and compliance officer (no customer).

Same outbox, same unique key (kind, staff id, that Monday, lead 0, recipient): planned once,
sent once, inside that morning's digest. The figures are computed when the digest is sent.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Date, String, literal, null, select, true
from sqlalchemy.orm import Session

from crm_store.models import Reminder, Staff, UtcDateTime
from crm_store.upsert import insert_for, rows_inserted

KIND = "team_report"
MANAGERS = ("team_lead", "branch_head", "compliance")
REMINDER_KEY = ["kind", "entity_id", "occurs_on", "lead_days", "recipient_staff_id"]


def monday_in(since: date, until: date) -> date | None:
    """The latest Monday in (since, until], if any."""
    day = until
    while day > since:
        if day.weekday() == 0:
            return day
        day -= timedelta(days=1)
    return None


def plan_team_reports(session: Session, *, since: date, until: date, now: datetime) -> int:
    """A report for every active manager when the plan covers a Monday; rows added."""
    monday = monday_in(since, until)
    if monday is None:
        return 0
    query = select(
        literal(KIND),
        Staff.id,
        null().cast(String),
        literal(monday, Date),
        literal(0),
        Staff.id,
        literal(until, Date),
        literal("pending"),
        literal(now, UtcDateTime()),
    ).where(Staff.active.is_(True), Staff.role.in_(MANAGERS), true())
    columns = ["kind", "entity_id", "customer_id", "occurs_on", "lead_days"]
    columns += ["recipient_staff_id", "business_date", "status", "created_at"]
    statement = insert_for(session, Reminder).from_select(columns, query)
    statement = statement.on_conflict_do_nothing(index_elements=REMINDER_KEY)
    return rows_inserted(session, statement, Reminder.id)


def report_rows(session: Session, digest_id: int) -> list[int]:
    """Ids of the pending team-report reminders a digest holds."""
    query = select(Reminder.id).where(
        Reminder.digest_id == digest_id, Reminder.status == "pending", Reminder.kind == KIND
    )
    return list(session.scalars(query))
