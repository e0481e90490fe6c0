"""The reminder jobs as plain functions: plan a day, send what is due, preview a day."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select

from crm_store.models import Digest
from crm_store.store import Store
from scheduler.claims import Claimed, attach
from scheduler.delivery import (
    Formatter,
    MemberRateLimit,
    Router,
    Sender,
    SendStats,
    reminder_count,
)
from scheduler.digest import collect
from scheduler.opening import open_day, open_digests
from scheduler.planning import PlanResult, plan

Clock = Callable[[], datetime]


def worker_name() -> str:
    """Who claimed a digest, as shown in `bankbot reminders status`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def plan_day(store: Store, business_date: date, *, now: datetime, late: bool = False) -> PlanResult:
    """Plan `business_date`, then open its digests: two short transactions, each safe to
    repeat (a crash between them leaves the opening to the next sender)."""
    with store.db.write() as session:
        result = plan(
            session, business_date=business_date, settings=store.settings, now=now, late=late
        )
    with store.db.write() as session:
        opened = open_digests(session, now=now, settings=store.settings)
        return replace(result, digests=opened)


async def send_due(
    store: Store, router: Router, formatter: Formatter, clock: Clock, *, worker: str | None = None
) -> SendStats:
    """Deliver every digest that is due now."""
    sender = Sender(store, router, formatter, clock, worker or worker_name(), MemberRateLimit())
    return await sender.run()


class _Preview(Exception):
    """Raised to roll a dry run back."""


@dataclass(frozen=True)
class PreviewedDigest:
    recipient_staff_id: str
    text: str
    items: int  # numbered lines
    reminders: int  # of which reminder rows; the rest are overdue follow-ups


def preview_day(
    store: Store, business_date: date, *, now: datetime, formatter: Formatter
) -> tuple[PlanResult, list[PreviewedDigest]]:
    """What planning and sending `business_date` would do; nothing is recorded or sent."""
    found: list[PreviewedDigest] = []
    result: PlanResult | None = None
    try:
        with store.db.write() as session:
            result = plan(session, business_date=business_date, settings=store.settings, now=now)
            opened = open_day(session, business_date=business_date, now=now, late=False)
            result = replace(result, digests=opened)
            digests = session.scalars(
                select(Digest).where(
                    Digest.business_date == business_date, Digest.status == "pending"
                )
            ).all()
            for d in digests:
                claimed = Claimed(d.id, d.recipient_staff_id, business_date, 1, d.late, False)
                attach(session, d.id, d.recipient_staff_id, business_date)
                content = collect(session, claimed, now, store.settings)
                if content is not None and not content.is_empty():
                    text = formatter(content, "console")
                    carried = reminder_count(content)
                    found.append(
                        PreviewedDigest(d.recipient_staff_id, text, len(content.entries), carried)
                    )
            raise _Preview
    except _Preview:
        pass
    assert result is not None
    return result, found
