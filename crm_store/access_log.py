"""Who saw one customer, and whom one staff member saw: the audit rows that disclosed
customers in a period, newest first.

The audit log names every customer a request disclosed (`customer_ids`, comma-separated), so
this is a read of that log alone; what compliance then sees is itself audited like any reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from crm_store.models import AuditLog, Staff

LIMIT = 20  # a phone screen's worth; the count says how many there were in all


@dataclass(frozen=True)
class Access:
    """One request that disclosed the customer."""

    at: datetime  # the request's clock (as the audit summary counts it)
    staff_id: str | None
    staff_name: str | None
    channel: str
    intent: str
    decision: str


@dataclass(frozen=True)
class StaffAccess:
    """One request of a staff member that disclosed customers."""

    at: datetime
    channel: str
    intent: str
    decision: str
    customer_ids: list[str]


@dataclass(frozen=True)
class AccessLog:
    """The newest accesses (at most LIMIT) and how many there were in the period."""

    accesses: list[Access]
    total: int


def customer_access(
    session: Session, customer_id: str, start: datetime, end: datetime, *, limit: int = LIMIT
) -> AccessLog:
    """The requests that disclosed `customer_id` from `start` (inclusive) to `end`."""
    when = func.coalesce(AuditLog.as_of, AuditLog.at)
    # ",c1,c2," holds ",c1,": a whole id, never a prefix of another.
    listed = (literal(",") + AuditLog.customer_ids + literal(",")).contains(
        f",{customer_id},", autoescape=True
    )
    where = (listed, when >= start, when < end)
    total = session.scalar(select(func.count(AuditLog.id)).where(*where)) or 0
    query = (
        select(
            when,
            AuditLog.actor_staff_id,
            Staff.name,
            AuditLog.channel,
            AuditLog.intent,
            AuditLog.decision,
        )
        .outerjoin(Staff, Staff.id == AuditLog.actor_staff_id)
        .where(*where)
        .order_by(when.desc(), AuditLog.id.desc())
        .limit(limit)
    )
    rows = [Access(*row) for row in session.execute(query)]
    return AccessLog(rows, int(total))


def staff_access(
    session: Session, staff_id: str, start: datetime, end: datetime, *, limit: int = LIMIT
) -> tuple[list[StaffAccess], int]:
    """The requests of `staff_id` from `start` (inclusive) to `end` that disclosed customers,
    newest first (at most `limit`), and how many there were."""
    when = func.coalesce(AuditLog.as_of, AuditLog.at)
    where = (
        AuditLog.actor_staff_id == staff_id,
        AuditLog.customer_ids != "",
        when >= start,
        when < end,
    )
    total = session.scalar(select(func.count(AuditLog.id)).where(*where)) or 0
    query = (
        select(when, AuditLog.channel, AuditLog.intent, AuditLog.decision, AuditLog.customer_ids)
        .where(*where)
        .order_by(when.desc(), AuditLog.id.desc())
        .limit(limit)
    )
    rows = [
        StaffAccess(at, channel, intent, decision, ids.split(","))
        for at, channel, intent, decision, ids in session.execute(query)
    ]
    return rows, int(total)
