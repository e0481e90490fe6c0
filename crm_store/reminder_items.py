"""Reminder rows as people act on them: what one digest holds, acknowledging, rerouting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.models import Customer, FollowUp, Holding, Reminder
from crm_store.upsert import insert_for


@dataclass(frozen=True)
class ReminderLine:
    reminder_id: int
    kind: str
    entity_id: str
    customer_id: str
    customer_name: str
    owner_staff_id: str
    occurs_on: date
    lead_days: int
    detail: str  # product name and amount, or the follow-up summary
    birthday_calendar: str


def digest_reminders(session: Session, digest_id: int) -> list[ReminderLine]:
    """The pending reminders a digest holds, with what the message needs to say."""
    rows = session.execute(
        select(
            Reminder.id,
            Reminder.kind,
            Reminder.entity_id,
            Reminder.customer_id,
            Customer.name,
            Customer.owner_staff_id,
            Reminder.occurs_on,
            Reminder.lead_days,
            Customer.birthday_calendar,
        )
        .join(Customer, Customer.id == Reminder.customer_id)
        .where(Reminder.digest_id == digest_id, Reminder.status == "pending")
        .order_by(Reminder.occurs_on, Reminder.kind, Reminder.id)
    ).all()
    return [ReminderLine(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], "", r[8]) for r in rows]


def holding_detail(session: Session, holding_id: str) -> tuple[str, str, object, str] | None:
    """(product type, product name, amount, currency) of a holding."""
    row = session.execute(
        select(Holding.product_type, Holding.product_name, Holding.amount, Holding.currency).where(
            Holding.id == holding_id
        )
    ).first()
    return (row[0], row[1], row[2], row[3]) if row else None


def followup_state(session: Session, followup_id: str) -> tuple[str, str] | None:
    """(status, summary) of a follow-up task."""
    try:
        key = int(followup_id)
    except ValueError:
        return None
    row = session.execute(
        select(FollowUp.status, FollowUp.summary).where(FollowUp.id == key)
    ).first()
    return (row[0], row[1]) if row else None


def close_reminder(session: Session, reminder_id: int, *, status: str, note: str = "") -> None:
    """Take one reminder out of its digest for good (cancelled, or sent elsewhere)."""
    session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id, Reminder.status == "pending")
        .values(status=status, note=note[:200])
    )


def reroute(session: Session, line: ReminderLine, *, business_date: date, now: datetime) -> None:
    """The customer changed hands since planning: the same reminder goes to the new owner."""
    close_reminder(session, line.reminder_id, status="cancelled", note="reassigned")
    statement = insert_for(session, Reminder).values(
        kind=line.kind,
        entity_id=line.entity_id,
        customer_id=line.customer_id,
        occurs_on=line.occurs_on,
        lead_days=line.lead_days,
        recipient_staff_id=line.owner_staff_id,
        business_date=business_date,
        status="pending",
        note="",
        created_at=now,
    )
    keys = ["kind", "entity_id", "occurs_on", "lead_days", "recipient_staff_id"]
    session.execute(statement.on_conflict_do_nothing(index_elements=keys))


def acknowledge(session: Session, reminder_id: int) -> Reminder | None:
    """'完成 N' on a birthday or maturity: this occurrence is handled, later leads are not sent."""
    row = session.get(Reminder, reminder_id)
    if row is None:
        return None
    session.execute(
        update(Reminder)
        .where(
            Reminder.kind == row.kind,
            Reminder.entity_id == row.entity_id,
            Reminder.occurs_on == row.occurs_on,
            Reminder.status.in_(("pending", "sent")),
        )
        .values(status="acked")
    )
    return row


def acknowledged(session: Session, line: ReminderLine) -> bool:
    """Whether this occurrence was already acknowledged from an earlier digest."""
    query = select(Reminder.id).where(
        Reminder.kind == line.kind,
        Reminder.entity_id == line.entity_id,
        Reminder.occurs_on == line.occurs_on,
        Reminder.status == "acked",
    )
    return session.scalar(query.limit(1)) is not None


def acknowledge_occurrence(
    session: Session,
    *,
    kind: str,
    entity_id: str,
    customer_id: str,
    occurs_on: date,
    staff_id: str,
    today: date,
    now: datetime,
) -> None:
    """'完成 N' on a birthday or maturity of today's list: the occurrence is handled, so no
    reminder of it is sent later (an acked row stands for it, planned or not)."""
    statement = insert_for(session, Reminder).values(
        kind=kind,
        entity_id=entity_id,
        customer_id=customer_id,
        occurs_on=occurs_on,
        lead_days=max(0, (occurs_on - today).days),
        recipient_staff_id=staff_id,
        business_date=today,
        status="acked",
        note="handled from chat",
        created_at=now,
    )
    keys = ["kind", "entity_id", "occurs_on", "lead_days", "recipient_staff_id"]
    session.execute(statement.on_conflict_do_update(index_elements=keys, set_={"status": "acked"}))
    session.execute(
        update(Reminder)
        .where(
            Reminder.kind == kind,
            Reminder.entity_id == entity_id,
            Reminder.occurs_on == occurs_on,
            Reminder.status.in_(("pending", "sent")),
        )
        .values(status="acked")
    )
