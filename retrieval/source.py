"""Reading notes from SQL as index entries (SQL is the truth the index is rebuilt from)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from crm_store.db import Database
from crm_store.models import Customer, Interaction, Staff
from retrieval.entries import NoteEntry

ID_CHUNK = 500

_Owner = aliased(Staff, name="owner")


def business_day(moment: datetime, tz: ZoneInfo) -> int:
    """A moment's business date as YYYYMMDD."""
    day = moment.astimezone(tz).date()
    return day.year * 10_000 + day.month * 100 + day.day


def _live_notes() -> Select[Any]:
    """Notes not taken back, with their customer's owner, owner's team and branch."""
    return (
        select(
            Interaction.id,
            Interaction.customer_id,
            Interaction.staff_id,
            Interaction.occurred_at,
            Interaction.content,
            Customer.owner_staff_id,
            Customer.branch_id,
            _Owner.team_id,
        )
        .join(Customer, Customer.id == Interaction.customer_id)
        .outerjoin(_Owner, _Owner.id == Customer.owner_staff_id)
        .where(Interaction.undone_at.is_(None))
    )


def _entry(row: Any, tz: ZoneInfo) -> NoteEntry:
    return NoteEntry(
        note_id=row.id,
        customer_id=row.customer_id,
        owner_staff_id=row.owner_staff_id,
        team_id=row.team_id or "",
        branch_id=row.branch_id,
        staff_id=row.staff_id,
        occurred_on=business_day(row.occurred_at, tz),
        text=row.content,
    )


def note_entries(session: Session, tz: ZoneInfo, note_ids: Sequence[str]) -> list[NoteEntry]:
    """The live notes among `note_ids` (a note undone or deleted is simply absent)."""
    entries: list[NoteEntry] = []
    unique = list(dict.fromkeys(note_ids))
    for start in range(0, len(unique), ID_CHUNK):
        chunk = unique[start : start + ID_CHUNK]
        rows = session.execute(_live_notes().where(Interaction.id.in_(chunk)))
        entries.extend(_entry(row, tz) for row in rows)
    return entries


def note_pages(db: Database, tz: ZoneInfo, size: int) -> Iterator[list[NoteEntry]]:
    """Every live note, `size` at a time in id order: keyset paging, one short read
    transaction per page, so a long rebuild never holds a snapshot open."""
    after = ""
    while True:
        query = _live_notes().where(Interaction.id > after).order_by(Interaction.id).limit(size)
        with db.read() as session:
            page = [_entry(row, tz) for row in session.execute(query)]
        if not page:
            return
        yield page
        after = page[-1].note_id


def live_note_count(session: Session) -> int:
    """How many notes the index should hold."""
    query = select(func.count()).select_from(Interaction).where(Interaction.undone_at.is_(None))
    return int(session.execute(query).scalar_one())
