"""Handing an RM's customers to someone else when they leave or change desk.

One transaction moves the customers, their open follow-ups and their pending reminders, and
queues their notes for the index (new owner in the metadata). Notes keep their authors: who
wrote a note is history, not ownership. Permissions are computed from SQL on every request, so
the new owner sees the customers from the commit on, and the old one no longer does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm_store.audit import write_audit
from crm_store.errors import StoreError, UnknownStaff
from crm_store.index_outbox import enqueue_customers
from crm_store.models import Customer, FollowUp, Reminder, Staff
from crm_store.upsert import insert_for

OWNER_ROLES = ("rm", "team_lead", "branch_head")  # roles that may own customers
CHUNK = 500  # ids per statement, well under every driver's parameter limit
REMINDER_KEY = ["kind", "entity_id", "occurs_on", "lead_days", "recipient_staff_id"]


@dataclass(frozen=True)
class Reassigned:
    """What a reassignment moved."""

    customers: list[str]
    followups: int
    reminders: int


def reassign(
    session: Session,
    *,
    from_staff: str,
    to_staff: str,
    now: datetime,
    customer_ids: Sequence[str] | None = None,
    actor_staff_id: str | None = None,
    operator: str | None = None,
) -> Reassigned:
    """Move `from_staff`'s customers (all, or `customer_ids`) to `to_staff`, audited.

    Raises StoreError, with every problem at once, before anything is written."""
    _check_people(session, from_staff, to_staff)
    moved = _customers_to_move(session, from_staff, customer_ids)
    followups = reminders = 0
    for start in range(0, len(moved), CHUNK):
        chunk = moved[start : start + CHUNK]
        session.execute(
            update(Customer)
            .where(Customer.id.in_(chunk), Customer.owner_staff_id == from_staff)
            .values(owner_staff_id=to_staff, updated_at=now)
        )
        followups += _move_followups(session, chunk, from_staff, to_staff)
        reminders += _move_reminders(session, chunk, from_staff, to_staff, now)
    enqueue_customers(session, moved, now=now)
    write_audit(
        session,
        at=now,
        actor_staff_id=actor_staff_id,
        channel="cli",
        sender_id=operator,
        chat_type="cli",
        intent="staff_reassign",
        customer_ids=moved,
        decision="allowed",
        text_masked=f"staff reassign {from_staff} {to_staff}",
        detail=f"customers={len(moved)} followups={followups} reminders={reminders}",
    )
    return Reassigned(moved, followups, reminders)


def _check_people(session: Session, from_staff: str, to_staff: str) -> None:
    if from_staff == to_staff:
        raise StoreError(f"{from_staff} and {to_staff} are the same staff member")
    _staff(session, from_staff)
    target = _staff(session, to_staff)
    if not target.active:
        raise StoreError(f"{to_staff} is deactivated; reactivate them or choose someone else")
    if target.role not in OWNER_ROLES:
        raise StoreError(
            f"{to_staff} is {target.role}; customers go to one of {', '.join(OWNER_ROLES)}"
        )


def _staff(session: Session, staff_id: str) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise UnknownStaff(f"unknown staff id {staff_id!r}")
    return staff


def _customers_to_move(
    session: Session, from_staff: str, customer_ids: Sequence[str] | None
) -> list[str]:
    """The ids to move: all of `from_staff`'s, or the listed ones, each owned by them."""
    owned = select(Customer.id).where(Customer.owner_staff_id == from_staff)
    if customer_ids is None:
        moved = list(session.scalars(owned.order_by(Customer.id)))
        if not moved:
            raise StoreError(f"{from_staff} owns no customers")
        return moved
    wanted = list(dict.fromkeys(customer_ids))
    if not wanted:
        raise StoreError("the customer list is empty")
    found: dict[str, str] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(Customer.id, Customer.owner_staff_id).where(
            Customer.id.in_(wanted[start : start + CHUNK])
        )
        found.update(session.execute(query).tuples().all())
    problems = [
        f"{cid}: unknown customer" if cid not in found else f"{cid}: owned by {found[cid]}"
        for cid in wanted
        if found.get(cid) != from_staff
    ]
    if problems:
        shown = "; ".join(problems[:20]) + ("; ..." if len(problems) > 20 else "")
        raise StoreError(f"{len(problems)} listed customers are not {from_staff}'s: {shown}")
    return wanted


def _move_followups(session: Session, chunk: list[str], from_staff: str, to_staff: str) -> int:
    """The old owner's open and snoozed follow-ups of these customers go to the new owner;
    done ones stay, and so do those of colleagues on the customer's team."""
    result = session.execute(
        update(FollowUp)
        .where(
            FollowUp.customer_id.in_(chunk),
            FollowUp.staff_id == from_staff,
            FollowUp.status != "done",
        )
        .values(staff_id=to_staff)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _move_reminders(
    session: Session, chunk: list[str], from_staff: str, to_staff: str, now: datetime
) -> int:
    """Pending reminders for the old owner are cancelled and planned again for the new one,
    outside any digest: they ride along in the new owner's next digest."""
    pending = session.scalars(
        select(Reminder).where(
            Reminder.customer_id.in_(chunk),
            Reminder.recipient_staff_id == from_staff,
            Reminder.status == "pending",
        )
    ).all()
    for row in pending:
        session.execute(
            insert_for(session, Reminder)
            .values(
                kind=row.kind,
                entity_id=row.entity_id,
                customer_id=row.customer_id,
                occurs_on=row.occurs_on,
                lead_days=row.lead_days,
                recipient_staff_id=to_staff,
                business_date=row.business_date,
                status="pending",
                note="",
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=REMINDER_KEY)
        )
        row.status = "cancelled"
        row.note = f"reassigned to {to_staff}"
    session.flush()
    return len(pending)


def owned_count(session: Session, staff_id: str) -> int:
    """How many customers `staff_id` owns."""
    query = select(func.count()).select_from(Customer).where(Customer.owner_staff_id == staff_id)
    return int(session.scalar(query) or 0)
