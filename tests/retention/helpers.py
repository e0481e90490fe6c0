"""Data for the retention tests: notes, AUM history, complaint signals, follow-ups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from crm_store.models import (
    Customer,
    CustomerAumHistory,
    FollowUp,
    Holding,
    Interaction,
    NoteSignal,
)
from crm_store.store import Store
from tests.scheduler.helpers import at
from tests.world import NOW, TODAY, holding

__all__ = ["NOW", "TODAY", "at"]


def add_note(
    store: Store,
    nid: str,
    cid: str,
    days_ago: int,
    text: str = "电话问候",
    *,
    complaint: bool = False,
) -> None:
    """A note `days_ago` days before TODAY, optionally flagged as a complaint."""
    when = at(TODAY - timedelta(days=days_ago), 10, 0)
    with store.db.write() as s:
        owner = s.get(Customer, cid)
        assert owner is not None
        s.add(
            Interaction(
                id=nid,
                customer_id=cid,
                staff_id=owner.owner_staff_id,
                occurred_at=when,
                channel="phone",
                content=text,
                created_at=when,
            )
        )
        s.flush()
        if complaint:
            s.add(
                NoteSignal(
                    interaction_id=nid, complaint=True, score=0.9, matched="转走", classified_at=NOW
                )
            )


def quiet_everyone(store: Store) -> None:
    """Every world customer had a note yesterday (so silence fires for nobody)."""
    with store.db.read() as s:
        ids = [c.id for c in s.query(Customer).all()]
    for cid in ids:
        add_note(store, f"q-{cid}", cid, 1)


def only_customers(store: Store, keep: set[str]) -> None:
    """Give every other customer a recent note, no AUM history and no holdings at risk."""
    with store.db.read() as s:
        ids = [c.id for c in s.query(Customer).all()]
    for cid in ids:
        if cid not in keep:
            add_note(store, f"q-{cid}", cid, 1)


def add_history(store: Store, cid: str, as_of: date, aum: str) -> None:
    with store.db.write() as s:
        s.add(CustomerAumHistory(customer_id=cid, as_of=as_of, aum=Decimal(aum)))


def set_aum(store: Store, cid: str, aum: str) -> None:
    with store.db.write() as s:
        customer = s.get(Customer, cid)
        assert customer is not None
        customer.aum = Decimal(aum)


def add_holding(
    store: Store,
    hid: str,
    cid: str,
    kind: str,
    amount: str,
    maturity: date,
    start: date | None = None,
) -> None:
    with store.db.write() as s:
        row: Holding = holding(hid, cid, kind, "测试产品", amount, maturity)
        if start is not None:
            row.start_date = start
        s.add(row)


def add_retention_followup(
    store: Store, cid: str, status: str, closed_days_ago: int | None = None
) -> int:
    with store.db.write() as s:
        owner = s.get(Customer, cid)
        assert owner is not None
        closed = None if closed_days_ago is None else NOW - timedelta(days=closed_days_ago)
        f = FollowUp(
            customer_id=cid, staff_id=owner.owner_staff_id, due_on=TODAY, status=status,
            summary="挽留", created_at=NOW, closed_at=closed, kind="retention",
        )  # fmt: skip
        s.add(f)
        s.flush()
        return int(f.id)


def utc(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)
