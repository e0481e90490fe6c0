"""The audit log: one append-only row per request, naming every customer disclosed."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import AuditLog

WallClock = Callable[[], datetime]
# Control bytes (tab and line breaks aside) never go into a row: PostgreSQL refuses NUL, and the
# rest (ESC, the door's oversize marker) mean nothing to a reader.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def write_audit(
    session: Session,
    *,
    at: datetime,
    actor_staff_id: str | None,
    channel: str,
    sender_id: str | None,
    chat_type: str,
    intent: str,
    customer_ids: Sequence[str],
    decision: str,
    text_masked: str,
    detail: str = "",
    wall_clock: WallClock = _wall_clock,
) -> None:
    """Append one audit row (the database refuses updates and deletes).

    `at` is the request's clock, which `ask --now` and tests may set: it is kept as the row's
    `as_of`, while the row's `at` is always the real time of the write.
    """
    session.add(
        AuditLog(
            at=wall_clock(),
            as_of=at,
            actor_staff_id=actor_staff_id,
            channel=channel,
            sender_id=sender_id,
            chat_type=chat_type,
            intent=intent,
            customer_ids=",".join(customer_ids),
            decision=decision,
            text_masked=_CONTROL.sub("", text_masked)[:2000],
            detail=detail[:2000],
        )
    )
    session.flush()


def tail(session: Session, *, limit: int = 20, staff_id: str | None = None) -> list[AuditLog]:
    """The latest audit rows, newest last; a negative count is refused, never 'all'."""
    if limit < 0:
        raise ValueError("the number of rows must be 0 or more")
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if staff_id:
        query = query.where(AuditLog.actor_staff_id == staff_id)
    return list(reversed(session.scalars(query).all()))
