"""Recording follow-up notes and taking them back; a note with a next date opens a follow-up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm_store.index_outbox import enqueue
from crm_store.models import FollowUp, Interaction
from crm_store.redaction import clean_text
from crm_store.text_cut import shorten

SUMMARY_CHARS = 60


@dataclass(frozen=True)
class SavedNote:
    interaction_id: str
    customer_id: str
    next_followup_on: date | None
    followup_id: int | None
    created: bool  # False when the same message was already recorded


def new_note_id() -> str:
    """A fresh interaction id for a note typed in chat."""
    return f"N{uuid.uuid4().hex[:24]}"


def clean_content(content: str) -> str:
    """Personal numbers and passwords never reach the notes table in plain text."""
    return clean_text(content.strip())


def record_note(
    session: Session,
    *,
    staff_id: str,
    customer_id: str,
    content: str,
    occurred_at: datetime,
    channel: str,
    source_message_id: str | None,
    next_followup_on: date | None,
) -> SavedNote:
    """Save one note (once per source message) and open its follow-up if it has a date."""
    if source_message_id:
        existing = session.scalar(
            select(Interaction).where(
                Interaction.channel == channel, Interaction.source_message_id == source_message_id
            )
        )
        if existing is not None:
            task_id = session.scalar(
                select(FollowUp.id).where(FollowUp.interaction_id == existing.id)
            )
            return SavedNote(
                existing.id, existing.customer_id, existing.next_followup_on, task_id, False
            )
    note = Interaction(
        id=new_note_id(),
        customer_id=customer_id,
        staff_id=staff_id,
        occurred_at=occurred_at,
        channel=channel,
        content=clean_content(content),
        next_followup_on=next_followup_on,
        source_message_id=source_message_id,
        created_at=occurred_at,
    )
    session.add(note)
    session.flush()
    enqueue(session, note.id, "upsert")
    followup_id = None
    if next_followup_on is not None:
        task = FollowUp(
            customer_id=customer_id,
            staff_id=staff_id,
            interaction_id=note.id,
            due_on=next_followup_on,
            status="open",
            summary=shorten(note.content, SUMMARY_CHARS),
            created_at=occurred_at,
        )
        session.add(task)
        session.flush()
        followup_id = task.id
    return SavedNote(note.id, customer_id, next_followup_on, followup_id, True)


def undo_note(session: Session, *, staff_id: str, interaction_id: str, now: datetime) -> bool:
    """Take back a note its author just wrote: it disappears and so does its follow-up."""
    note = session.get(Interaction, interaction_id)
    if note is None or note.staff_id != staff_id or note.undone_at is not None:
        return False
    note.undone_at = now
    enqueue(session, interaction_id, "delete", now=now)
    session.execute(delete(FollowUp).where(FollowUp.interaction_id == interaction_id))
    session.flush()
    return True
