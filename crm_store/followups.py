"""Closing and snoozing follow-up tasks."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from crm_store.models import FollowUp


def mark_done(session: Session, *, followup_id: int, now: datetime) -> bool:
    """Close a follow-up; False if it was already done or does not exist."""
    task = session.get(FollowUp, followup_id)
    if task is None or task.status == "done":
        return False
    task.status = "done"
    task.closed_at = now
    session.flush()
    return True


def snooze(session: Session, *, followup_id: int, until: date) -> bool:
    """Move a follow-up to a later day; False if it is done or does not exist."""
    task = session.get(FollowUp, followup_id)
    if task is None or task.status == "done":
        return False
    task.status = "snoozed"
    task.due_on = until
    session.flush()
    return True


def open_followup(
    session: Session, *, customer_id: str, staff_id: str, due_on: date, summary: str, now: datetime
) -> int:
    """Open a follow-up task not tied to a note (e.g. a snoozed birthday reminder)."""
    task = FollowUp(
        customer_id=customer_id,
        staff_id=staff_id,
        interaction_id=None,
        due_on=due_on,
        status="open",
        summary=summary[:200],
        created_at=now,
    )
    session.add(task)
    session.flush()
    return task.id
