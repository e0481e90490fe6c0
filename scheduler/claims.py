"""Claiming a digest atomically, so two senders never deliver the same one.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` then a conditional UPDATE. SQLite: the write
session starts with `BEGIN IMMEDIATE` (one writer at a time) and the same conditional UPDATE.
A digest left in "sending" past its lease (its sender died) is claimed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select, update

from crm_store.db import Database
from crm_store.models import Digest, Reminder


@dataclass(frozen=True)
class Claimed:
    digest_id: int
    recipient_staff_id: str
    business_date: date
    attempt: int
    late: bool
    reclaimed: bool  # its previous sender died mid-flight: this may be a resend


def _claimable(now: datetime) -> object:
    return or_(
        and_(Digest.status == "pending", Digest.next_attempt_at <= now),
        and_(Digest.status == "sending", Digest.lease_until < now),
    )


def claim_next(db: Database, *, now: datetime, worker: str, lease: timedelta) -> Claimed | None:
    """Take the next due digest and attach its pending reminders, or None when none is due."""
    for _ in range(10):  # a lost race just means: look again
        with db.write() as session:
            row = session.execute(
                select(Digest)
                .where(_claimable(now))  # type: ignore[arg-type]
                .order_by(Digest.next_attempt_at, Digest.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if row is None:
                return None
            reclaimed = row.status == "sending"
            taken = session.execute(
                update(Digest)
                .where(Digest.id == row.id, Digest.attempts == row.attempts)
                .values(
                    status="sending",
                    claimed_by=worker,
                    lease_until=now + lease,
                    attempts=row.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue
            attach(session, row.id, row.recipient_staff_id, row.business_date)
            return Claimed(
                row.id,
                row.recipient_staff_id,
                row.business_date,
                row.attempts + 1,
                row.late,
                reclaimed,
            )
    return None


def attach(session: object, digest_id: int, recipient: str, business_date: date) -> None:
    """Give the digest every pending reminder of its recipient not yet in another digest."""
    session.execute(  # type: ignore[attr-defined]
        update(Reminder)
        .where(
            Reminder.recipient_staff_id == recipient,
            Reminder.status == "pending",
            Reminder.digest_id.is_(None),
            Reminder.business_date <= business_date,
        )
        .values(digest_id=digest_id)
        .execution_options(synchronize_session=False)
    )
