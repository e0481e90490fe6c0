"""Checks that need the database: references, branch cycles and channel identity conflicts.

They run over every row's parsed cells, bad rows included, so one pass reports them all.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from crm_store.importer.errors import ErrorList
from crm_store.importer.fields import shown
from crm_store.importer.kinds import Kind
from crm_store.importer.lookups import existing_ids, lookup
from crm_store.importer.parse import Parsed
from crm_store.importer.rowmaps import BRANCH, IDENTITY

# (channel, key in Built.extra, header column)
IDENTITY_COLUMNS = (
    ("wecom", "wecom", "wecom_userid"),
    ("telegram", "telegram", "telegram_user_id"),
)


def check_rows(
    conn: Connection, kind: Kind, rows: list[Parsed], file_ids: set[str], errors: ErrorList
) -> None:
    """Record every reference, cycle or identity problem of the file's rows."""
    check_references(conn, kind, rows, file_ids, errors)
    if kind.name == "branches":
        check_branch_cycles(conn, rows, errors)
    if kind.name == "staff":
        check_identities(conn, rows, errors)


def check_references(
    conn: Connection, kind: Kind, rows: list[Parsed], file_ids: set[str], errors: ErrorList
) -> None:
    """Each reference must name a row in the database or, for the file's own table, the file."""
    for ref in kind.refs:
        same_file = file_ids if ref.table is kind.table else set()
        cited: set[str] = {row.values[ref.column] for row in rows if row.values.get(ref.column)}
        wanted = cited - same_file
        known = existing_ids(conn, ref.table, wanted) | same_file
        for row in rows:
            value = row.values.get(ref.column)
            if value is not None and value not in known:
                errors.add(row.row, ref.column, f"unknown {ref.label} {shown(value)}")


def check_branch_cycles(conn: Connection, rows: list[Parsed], errors: ErrorList) -> None:
    """A branch may not be its own ancestor once the file's parents are applied."""
    parents: dict[str, str | None] = {
        branch_id: parent_id
        for branch_id, parent_id in conn.execute(select(BRANCH.c.id, BRANCH.c.parent_id))
    }
    named = [row for row in rows if row.values.get("branch_id") is not None]
    for row in named:
        parents[row.values["branch_id"]] = row.values.get("parent_id")
    for row in named:
        start = row.values["branch_id"]
        path = [start]
        current = parents.get(start)
        while current is not None and current not in path:
            path.append(current)
            current = parents.get(current)
        if current == start:
            cycle = " -> ".join([*path, start])
            errors.add(row.row, "parent_id", f"cycle {cycle}")


def check_identities(conn: Connection, rows: list[Parsed], errors: ErrorList) -> None:
    """A WeCom or Telegram account may be bound to one staff member only."""
    rows = [row for row in rows if row.values.get("staff_id") is not None]
    for channel, _key, column in IDENTITY_COLUMNS:
        claimed: dict[str, tuple[str, int]] = {}
        for row in rows:
            external = row.values.get(column)
            if external is None:
                continue
            staff_id = row.values["staff_id"]
            earlier = claimed.setdefault(external, (staff_id, row.row))
            if earlier[0] != staff_id:
                errors.add(
                    row.row,
                    column,
                    f"{shown(external)} is also given to staff {earlier[0]} (row {earlier[1]})",
                )
        bound = bound_identities(conn, channel, claimed)
        for row in rows:
            external = row.values.get(column)
            owner = bound.get(external) if external is not None else None
            if external is not None and owner is not None and owner != row.values["staff_id"]:
                errors.add(row.row, column, f"{shown(external)} is already bound to staff {owner}")


def bound_identities(conn: Connection, channel: str, external_ids: Iterable[str]) -> dict[str, str]:
    """external id -> staff id of the existing bindings among `external_ids` on `channel`."""
    c = IDENTITY.c
    found = lookup(conn, c.external_id, external_ids, c.staff_id, where=c.channel == channel)
    return {external: staff for external, (staff,) in found.items()}
