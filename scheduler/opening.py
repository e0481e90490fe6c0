"""Opening the morning digests of a planned day: one digest row per staff member.

Planning writes what is due; digests are delivery's envelopes. `plan_day` opens them right
after its plan commits, and every sender opens those of any plan a crash left unopened, so
a bankbot that died between the two still sends that morning. Opening is idempotent: a digest
is unique per (recipient, business date).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, distinct, literal, select, true, update
from sqlalchemy.orm import Session

from crm_store.models import Digest, FollowUp, PlanRun, Reminder, UtcDateTime
from crm_store.settings import Settings
from crm_store.upsert import insert_for, rows_inserted


def send_from(business_date: date, now: datetime, settings: Settings | None) -> datetime:
    """When a digest of `business_date` may go out: never before that date's digest time
    (a date planned ahead waits for its morning)."""
    if settings is None:
        return now
    return max(now, datetime.combine(business_date, settings.digest_at, settings.tz))


def open_day(
    session: Session,
    *,
    business_date: date,
    now: datetime,
    late: bool,
    settings: Settings | None = None,
) -> int:
    """One digest row per staff member with something pending or overdue; the new ones.
    With `settings`, none is due before the business date's digest time."""
    pending = select(distinct(Reminder.recipient_staff_id)).where(
        Reminder.status == "pending", Reminder.digest_id.is_(None)
    )
    # Straight from the follow-up index: owner_staff_id is the customer's owner (triggers).
    overdue = select(distinct(FollowUp.owner_staff_id)).where(
        FollowUp.status != "done", FollowUp.due_on < business_date
    )
    staff = pending.union(overdue).subquery()
    query = select(
        staff.c[0],
        literal(business_date, Date),
        literal("pending"),
        literal(0),
        literal(send_from(business_date, now, settings), UtcDateTime()),
        literal(late),
        literal(0),
        literal(""),
        literal(now, UtcDateTime()),
    )
    columns = ["recipient_staff_id", "business_date", "status", "attempts", "next_attempt_at"]
    columns += ["late", "item_count", "last_error", "created_at"]
    statement = insert_for(session, Digest).from_select(columns, query.where(true()))
    keys = ["recipient_staff_id", "business_date"]
    statement = statement.on_conflict_do_nothing(index_elements=keys)
    return rows_inserted(session, statement, Digest.id)


def open_digests(session: Session, *, now: datetime, settings: Settings | None = None) -> int:
    """Open the digests of the latest plan not yet opened; the number of new digests.

    Older unopened plans are superseded, not opened: their reminders ride along in the
    latest digest (a digest takes every pending reminder up to its date), so a staff member
    never gets two digests in one morning.
    """
    runs = session.execute(
        select(PlanRun.business_date, PlanRun.late)
        .where(PlanRun.digests_opened_at.is_(None))
        .order_by(PlanRun.business_date.desc())
    ).all()
    if not runs:
        return 0
    latest, late = runs[0]
    opened = open_day(session, business_date=latest, now=now, late=late, settings=settings)
    session.execute(
        update(PlanRun)
        .where(PlanRun.business_date.in_([day for day, _ in runs]))
        .values(digests_opened_at=now)
    )
    return opened
