"""Rule 4's per-note signals in SQL: written when a note is indexed, read by the rule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import Interaction, NoteSignal
from crm_store.sql_lists import one_of
from crm_store.upsert import insert_for

SignalRow = tuple[str, bool, float, str]  # note id, complaint, score, matched


def save_signals(session: Session, rows: Sequence[SignalRow], now: datetime) -> int:
    """Write (or replace) the signals of notes that still exist; the number written."""
    if not rows:
        return 0
    live = set(
        session.scalars(
            select(Interaction.id).where(one_of(session, Interaction.id, [r[0] for r in rows]))
        )
    )
    values = [
        {"interaction_id": nid, "complaint": flag, "score": score, "matched": matched[:100],
         "classified_at": now}
        for nid, flag, score, matched in rows
        if nid in live
    ]  # fmt: skip
    if not values:
        return 0
    stmt = insert_for(session, NoteSignal)
    update = {k: stmt.excluded[k] for k in ("complaint", "score", "matched", "classified_at")}
    session.execute(
        stmt.on_conflict_do_update(index_elements=["interaction_id"], set_=update), values
    )
    return len(values)
