"""Retention follow-ups: opened on a churn warning, they quiet it while open and for the
snooze days after they are done, for the reasons they were opened on (`retention_ack`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import FollowUp, RetentionAck

OPEN = ("open", "snoozed")


def _working(day: date) -> bool:
    # The same rule as the reminder schedule: the official calendar, Monday-Friday beyond it.
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def add_working_days(day: date, days: int) -> date:
    """The `days`-th working day after `day`."""
    current = day
    left = days
    while left > 0:
        current += timedelta(days=1)
        if _working(current):
            left -= 1
    return current


def open_retention(session: Session, customer_id: str) -> int | None:
    """The id of the customer's open retention follow-up, if any."""
    query = select(FollowUp.id).where(
        FollowUp.customer_id == customer_id, FollowUp.kind == "retention", FollowUp.status.in_(OPEN)
    )
    return session.scalar(query.limit(1))


def open_retention_followup(
    session: Session,
    *,
    customer_id: str,
    staff_id: str,
    due_on: date,
    summary: str,
    reason_keys: Sequence[str],
    now: datetime,
) -> int:
    """Open a retention follow-up acknowledging `reason_keys`; its id."""
    task = FollowUp(
        customer_id=customer_id,
        staff_id=staff_id,
        interaction_id=None,
        due_on=due_on,
        status="open",
        summary=summary[:200],
        created_at=now,
        kind="retention",
    )
    session.add(task)
    session.flush()
    for key in dict.fromkeys(reason_keys):
        session.add(RetentionAck(followup_id=task.id, reason_key=key, customer_id=customer_id))
    session.flush()
    return task.id
