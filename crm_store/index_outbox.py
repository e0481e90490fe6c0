"""The search-index outbox: note changes queued in their own transaction, applied after commit.

SQL is the source of truth. Whoever changes a note (or a customer's owner or branch) calls
`enqueue*` in the same transaction, so a rolled-back change queues nothing and a committed one
cannot be forgotten; `retrieval.sync.process_outbox` later reads each note as it then is and
writes or removes its index entry. The action is a hint: the current SQL row decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from crm_store.models import Customer, IndexOutbox, Interaction

ACTIONS = ("upsert", "delete")
CHUNK = 500  # ids per statement, well under every driver's parameter limit


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _check(action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"index outbox action must be one of {ACTIONS}, not {action!r}")


# Set once this context (one request, one thread) queued a row: the dispatcher then applies
# the outbox at once instead of waiting for its periodic look.
queued_here: ContextVar[bool] = ContextVar("index_outbox_queued_here", default=False)


def enqueue(
    session: Session | Connection, note_id: str, action: str, *, now: datetime | None = None
) -> None:
    """Queue one note's index entry to be written ("upsert") or removed ("delete")."""
    enqueue_many(session, [note_id], action, now=now)


def enqueue_many(
    session: Session | Connection,
    note_ids: Iterable[str],
    action: str,
    *,
    now: datetime | None = None,
) -> int:
    """Queue many notes at once (an import); the number of rows queued."""
    _check(action)
    at = _now(now)
    rows = [{"note_id": n, "action": action, "created_at": at} for n in note_ids]
    if rows:
        session.execute(insert(IndexOutbox), rows)
        queued_here.set(True)
    return len(rows)


def _enqueue_notes_where(
    session: Session | Connection, condition: ColumnElement[bool], now: datetime | None
) -> None:
    notes = select(
        Interaction.id, literal("upsert"), literal(_now(now), IndexOutbox.created_at.type)
    ).where(condition, Interaction.undone_at.is_(None))
    session.execute(insert(IndexOutbox).from_select(["note_id", "action", "created_at"], notes))
    queued_here.set(True)


def enqueue_customers(
    session: Session | Connection, customer_ids: Sequence[str], *, now: datetime | None = None
) -> None:
    """Queue every live note of these customers (owner or branch changed: new metadata)."""
    unique = list(dict.fromkeys(customer_ids))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        _enqueue_notes_where(session, Interaction.customer_id.in_(chunk), now)


def enqueue_owners(
    session: Session | Connection, staff_ids: Sequence[str], *, now: datetime | None = None
) -> None:
    """Queue every live note of the customers these staff own (an owner changed team)."""
    unique = list(dict.fromkeys(staff_ids))
    for start in range(0, len(unique), CHUNK):
        owned = select(Customer.id).where(
            Customer.owner_staff_id.in_(unique[start : start + CHUNK])
        )
        _enqueue_notes_where(session, Interaction.customer_id.in_(owned), now)


def enqueue_customer(
    session: Session | Connection, customer_id: str, *, now: datetime | None = None
) -> None:
    """Queue every live note of one customer, e.g. after it was reassigned to another RM."""
    enqueue_customers(session, [customer_id], now=now)


def pending(
    session: Session | Connection, limit: int, *, claim: bool = False
) -> list[tuple[int, str, str]]:
    """The oldest unprocessed rows as (row id, note id, action). `claim`: lock them until the
    transaction ends, skipping rows another transaction holds (PostgreSQL; SQLite has a single
    writer and ignores it)."""
    query = (
        select(IndexOutbox.id, IndexOutbox.note_id, IndexOutbox.action)
        .where(IndexOutbox.processed_at.is_(None))
        .order_by(IndexOutbox.id)
        .limit(limit)
    )
    if claim:
        query = query.with_for_update(skip_locked=True)
    return [(r.id, r.note_id, r.action) for r in session.execute(query)]


def pending_count(session: Session | Connection) -> int:
    """How many rows wait to be applied."""
    query = select(func.count()).select_from(IndexOutbox).where(IndexOutbox.processed_at.is_(None))
    return int(session.execute(query).scalar_one())


def mark_processed(
    session: Session | Connection, row_ids: Sequence[int], *, now: datetime | None = None
) -> None:
    """Mark rows as applied to the index."""
    if row_ids:
        stmt = update(IndexOutbox).where(
            IndexOutbox.id.in_(row_ids), IndexOutbox.processed_at.is_(None)
        )
        session.execute(stmt.values(processed_at=_now(now)))


def mark_processed_up_to(
    session: Session | Connection, last_id: int, *, now: datetime | None = None
) -> None:
    """Mark every pending row up to `last_id` as applied (a full rebuild covered them)."""
    stmt = update(IndexOutbox).where(IndexOutbox.id <= last_id, IndexOutbox.processed_at.is_(None))
    session.execute(stmt.values(processed_at=_now(now)))


def last_id(session: Session | Connection) -> int:
    """The newest row id, 0 when the outbox is empty."""
    return int(session.execute(select(func.coalesce(func.max(IndexOutbox.id), 0))).scalar_one())


def purge_processed(session: Session | Connection, before: datetime) -> int:
    """Delete rows applied before `before`; the number deleted."""
    stmt = delete(IndexOutbox).where(IndexOutbox.processed_at < before.astimezone(UTC))
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
