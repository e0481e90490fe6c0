"""The index change log: which notes' index entries changed, in the order ids were given.

A process that writes to a shared Chroma server logs each note it wrote or removed, after
Chroma took the change, in its own short transaction. Every other process reads the log
from the last id it applied and refreshes those notes in its vector cache. Ids are
monotonic but may commit out of order on PostgreSQL, so readers track gaps
(retrieval/change_feed.py). Rows are pruned after a day: a process that was down longer
loads its cache afresh at start-up anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from crm_store.models import IndexChange

KEEP = timedelta(days=1)


def record_notes(session: Session, note_ids: Iterable[str]) -> int:
    """Log that these notes' entries changed (written or removed); how many rows."""
    at = datetime.now(UTC)
    rows = [{"note_id": n, "created_at": at} for n in dict.fromkeys(note_ids)]
    if rows:
        session.execute(insert(IndexChange), rows)
    return len(rows)


def record_rebuild(session: Session) -> None:
    """Log that the whole collection was dropped and rebuilt."""
    session.execute(insert(IndexChange), [{"note_id": None, "created_at": datetime.now(UTC)}])


def last_change_id(session: Session) -> int:
    """The highest id given so far (0 for an empty log)."""
    return int(session.scalar(select(func.max(IndexChange.id))) or 0)


def changes_after(session: Session, after: int, limit: int) -> list[tuple[int, str | None]]:
    """(id, note id or None for a rebuild) of the rows above `after`, in id order."""
    query = (
        select(IndexChange.id, IndexChange.note_id)
        .where(IndexChange.id > after)
        .order_by(IndexChange.id)
        .limit(limit)
    )
    return [(int(i), n) for i, n in session.execute(query)]


def prune_changes(session: Session, now: datetime | None = None) -> int:
    """Drop rows older than a day; how many."""
    cutoff = (now or datetime.now(UTC)) - KEEP
    result = session.execute(delete(IndexChange).where(IndexChange.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
