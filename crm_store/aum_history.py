"""AUM history: one as-of row per customer whenever an import changes `aum`.

Churn rule 2 compares today's AUM with the AUM some days ago, so the customer row's single
`aum` is not enough. The importer calls `record_aum_changes` inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from crm_store.models import CustomerAumHistory

HISTORY: Table = CustomerAumHistory.__table__  # type: ignore[assignment]
CHUNK = 500


def _with_history(conn: Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        batch = ids[start : start + CHUNK]
        query = select(HISTORY.c.customer_id).where(HISTORY.c.customer_id.in_(batch)).distinct()
        found.update(conn.scalars(query))
    return found


def _before_date(updated_at: Any, as_of: date) -> date | None:
    if not isinstance(updated_at, datetime):
        return None
    day = updated_at.date()
    return day if day < as_of else None


def record_aum_changes(
    conn: Connection,
    rows: Iterable[dict[str, Any]],
    before: dict[str, tuple[Any, ...]],
    as_of: date,
) -> int:
    """Write an as-of row for every row whose `aum` is new or changed; the number written.

    `before` is id -> (aum, updated_at) as stored before the import. A customer without any
    history keeps its old value too, as of its last update, so nothing the bank knew is lost.
    """
    changed = [
        row
        for row in rows
        if row["aum"] is not None
        and (row["id"] not in before or _differs(before[row["id"]][0], row["aum"]))
    ]
    if not changed:
        return 0
    known = _with_history(conn, [row["id"] for row in changed if row["id"] in before])
    values: list[dict[str, Any]] = []
    for row in changed:
        old = before.get(row["id"])
        if old is not None and old[0] is not None and row["id"] not in known:
            old_day = _before_date(old[1], as_of)
            if old_day is not None:
                values.append({"customer_id": row["id"], "as_of": old_day, "aum": old[0]})
        values.append({"customer_id": row["id"], "as_of": as_of, "aum": row["aum"]})
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(HISTORY)
    stmt = stmt.on_conflict_do_update(
        index_elements=["customer_id", "as_of"], set_={"aum": stmt.excluded.aum}
    )
    conn.execute(stmt, values)
    return len(values)


def _differs(old: Any, new: Any) -> bool:
    if old is None:
        return True
    return Decimal(str(old)) != Decimal(str(new))
