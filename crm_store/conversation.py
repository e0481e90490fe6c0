"""Per channel + staff memory between messages, kept in SQL so it survives a restart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm_store.models import ConversationState
from crm_store.upsert import insert_for

CLARIFY = "clarify"  # a pending "which 王芳 did you mean?"
ITEMS = "items"  # the last numbered list of follow-ups, for "完成 2"
UNDO = "undo"  # the last note or reminder request, which "撤销" may take back
PAGE = "page"  # the list "更多" continues


def remember(
    session: Session,
    *,
    channel: str,
    staff_id: str,
    kind: str,
    payload: dict[str, Any],
    expires_at: datetime,
) -> None:
    """Store (or replace) one kind of state; an upsert, so two racing requests both succeed."""
    statement = insert_for(session, ConversationState).values(
        channel=channel, staff_id=staff_id, kind=kind, payload=payload, expires_at=expires_at
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["channel", "staff_id", "kind"],
            set_={
                "payload": statement.excluded.payload,
                "expires_at": statement.excluded.expires_at,
            },
        )
    )


def recall(
    session: Session, *, channel: str, staff_id: str, kind: str, now: datetime
) -> dict[str, Any] | None:
    """The stored state, or None when there is none or it has expired."""
    row = session.scalar(
        select(ConversationState).where(
            ConversationState.channel == channel,
            ConversationState.staff_id == staff_id,
            ConversationState.kind == kind,
        )
    )
    if row is None:
        return None
    return None if row.expires_at <= now else dict(row.payload)


def forget(session: Session, *, channel: str, staff_id: str, kind: str) -> None:
    """Drop one kind of state."""
    session.execute(
        delete(ConversationState).where(
            ConversationState.channel == channel,
            ConversationState.staff_id == staff_id,
            ConversationState.kind == kind,
        )
    )
