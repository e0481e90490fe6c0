"""What the reminder outbox holds, for `bankbot reminders status`, `/healthz` and `/metrics`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import Digest, Reminder


@dataclass(frozen=True)
class OutboxStatus:
    """Counts by status. Digests are messages (one per staff member and business date);
    reminders are their contents (one birthday, maturity or follow-up of one customer);
    items are a sent digest's numbered lines (its reminders, then overdue follow-ups)."""

    digests: dict[str, int]
    reminders: dict[str, int]
    cancelled: dict[str, int]  # cancelled reminders by reason
    empty: dict[str, int]  # empty digests by reason
    items_sent: int
    undeliverable: list[tuple[str, date]]  # (recipient, business date), newest first
    failed: list[Digest]


def _by(session: Session, column: object, *where: object) -> dict[str, int]:
    rows = session.execute(
        select(column, func.count()).where(*where).group_by(column)  # type: ignore[call-overload]
    ).all()
    return {str(key): int(n) for key, n in sorted(rows, key=lambda r: -r[1])}


def outbox_status(session: Session, *, undeliverable_shown: int = 20) -> OutboxStatus:
    """Everything `reminders status` prints, in a handful of grouped queries."""
    waiting = session.execute(
        select(Digest.recipient_staff_id, Digest.business_date)
        .where(Digest.status == "undeliverable")
        .order_by(Digest.business_date.desc(), Digest.recipient_staff_id)
        .limit(undeliverable_shown)
    ).all()
    failed = session.scalars(
        select(Digest).where(Digest.status == "failed").order_by(Digest.id)
    ).all()
    items = session.scalar(select(func.sum(Digest.item_count)).where(Digest.status == "sent"))
    return OutboxStatus(
        digests=_by(session, Digest.status),
        reminders=_by(session, Reminder.status),
        cancelled=_by(session, Reminder.note, Reminder.status == "cancelled"),
        empty=_by(session, Digest.last_error, Digest.status == "empty"),
        items_sent=int(items or 0),
        undeliverable=[(staff, day) for staff, day in waiting],
        failed=list(failed),
    )


def undeliverable_on(session: Session, business_date: date) -> int:
    """Digests of `business_date` that no channel reaches (sent if bound that day)."""
    return int(
        session.scalar(
            select(func.count()).where(
                Digest.status == "undeliverable", Digest.business_date == business_date
            )
        )
        or 0
    )


def digest_totals(session: Session) -> dict[str, int]:
    """Digests by status, all time (every process's deliveries, for `/metrics`)."""
    return _by(session, Digest.status)


def not_yet_due(session: Session, now: datetime) -> tuple[int, datetime | None]:
    """Pending digests whose time has not come (a date planned ahead, a retry's backoff),
    and when the first of them is due."""
    count, first = session.execute(
        select(func.count(), func.min(Digest.next_attempt_at)).where(
            Digest.status == "pending", Digest.next_attempt_at > now
        )
    ).one()
    return int(count or 0), first
