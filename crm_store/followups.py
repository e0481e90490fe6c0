"""Closing and snoozing follow-up tasks."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.models import FollowUp, Interaction, Reminder
from crm_store.text_cut import shorten


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
        summary=shorten(summary, 200),
        created_at=now,
    )
    session.add(task)
    session.flush()
    return task.id


def undo_followup(session: Session, *, followup_id: int, staff_id: str) -> bool:
    """Take back a follow-up its author just asked for (no note behind it): it disappears,
    and so does any reminder of it that has not been sent."""
    task = session.get(FollowUp, followup_id)
    if task is None or task.staff_id != staff_id or task.interaction_id is not None:
        return False
    session.execute(
        update(Reminder)
        .where(
            Reminder.kind == "followup",
            Reminder.entity_id == str(followup_id),
            Reminder.status == "pending",
        )
        .values(status="cancelled", note="undone")
    )
    session.delete(task)
    session.flush()
    return True


def last_note_at(session: Session, *, staff_id: str) -> datetime | None:
    """When the staff member's latest note still standing was written, if any."""
    query = (
        select(Interaction.created_at)
        .where(Interaction.staff_id == staff_id, Interaction.undone_at.is_(None))
        .order_by(Interaction.created_at.desc())
        .limit(1)
    )
    return session.scalar(query)
