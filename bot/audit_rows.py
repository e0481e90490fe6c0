"""The audit row of one incoming message: who sent it, where, and what was decided."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crm_store.audit import write_audit
from crm_store.permissions import Actor
from handlers.contracts import IncomingMessage


def audit_message(
    session: Session,
    message: IncomingMessage,
    *,
    at: datetime,
    actor: Actor | None,
    intent: str,
    decision: str,
    text_masked: str,
    customer_ids: Sequence[str] = (),
    detail: str = "",
) -> None:
    """Append the audit row of `message` (the sender's identity comes from the message)."""
    write_audit(
        session,
        at=at,
        actor_staff_id=actor.staff_id if actor else None,
        channel=message.channel,
        sender_id=message.sender_id,
        chat_type=message.chat_type,
        intent=intent,
        customer_ids=customer_ids,
        decision=decision,
        text_masked=text_masked,
        detail=detail,
    )
