"""Closing and snoozing follow-up tasks."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from crm_store.models import FollowUp


def get_followup(session: Session, followup_id: int) -> FollowUp | None:
    """One follow-up task by id (the caller checks permission on its customer)."""
    return session.get(FollowUp, followup_id)


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
