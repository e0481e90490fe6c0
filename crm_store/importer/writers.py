"""Per-kind writing of checked rows, in foreign-key order, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection

from crm_store.aum_history import record_aum_changes
from crm_store.importer.checks import IDENTITY_COLUMNS
from crm_store.importer.kinds import Built, Kind
from crm_store.importer.lookups import stored
from crm_store.importer.rowmaps import (
    BRANCH,
    CUSTOMER,
    FOLLOWUP,
    HOLDING,
    IDENTITY,
    INTERACTION,
    STAFF,
    TEAM,
    Context,
    Values,
    followup,
    seal_customer,
)
from crm_store.importer.upsert import (
    Counter,
    Tick,
    differs,
    execute_batches,
    insert_new,
    updatable,
    upsert,
    write_table,
)
from crm_store.index_outbox import enqueue_customers, enqueue_many, enqueue_owners
from crm_store.tags import apply_chat_edits

FOLLOWUP_DUE = ("due_on", "summary", "staff_id", "customer_id")
Writer = Callable[[Connection, list[Built], Context, Counter, Tick], None]


def write_rows(
    conn: Connection, kind: Kind, rows: list[Built], ctx: Context, tick: Tick
) -> Counter:
    """Write one kind's checked rows; how many were inserted and how many changed."""
    counter = Counter()
    WRITERS[kind.name](conn, rows, ctx, counter, tick)
    return counter


def _ids(values: list[Values]) -> list[str]:
    return [row["id"] for row in values]


def parents_first(values: list[Values]) -> list[Values]:
    """Branches ordered so a parent defined in the same file is written before its children."""
    by_id = {row["id"]: row for row in values}
    ordered: list[Values] = []
    placed: set[str] = set()
    for row in values:
        chain: list[Values] = []
        current: Values | None = row
        while current is not None and current["id"] not in placed:
            chain.append(current)
            placed.add(current["id"])
            current = by_id.get(current["parent_id"])
        ordered.extend(reversed(chain))
    return ordered


def _branches(
    conn: Connection, rows: list[Built], ctx: Context, counter: Counter, tick: Tick
) -> None:
    values = parents_first([row.values for row in rows])
    write_table(conn, BRANCH, values, stored(conn, BRANCH, _ids(values)), counter, tick)


def _staff(conn: Connection, rows: list[Built], ctx: Context, counter: Counter, tick: Tick) -> None:
    teams: dict[str, Values] = {}
    for row in rows:
        team_id = row.values["team_id"]
        if team_id is not None and team_id not in teams:
            teams[team_id] = {"id": team_id, "name": team_id, "branch_id": row.values["branch_id"]}
    execute_batches(conn, insert_new(conn, TEAM, ["id"]), list(teams.values()), Counter())
    values = [row.values for row in rows]
    teams_before = stored(conn, STAFF, _ids(values), "team_id")
    write_table(conn, STAFF, values, teams_before, counter, tick)
    enqueue_owners(conn, _moved(values, teams_before, "team_id"), now=ctx.now)
    identities = [
        {
            "channel": channel,
            "external_id": row.extra[key],
            "staff_id": row.values["id"],
            "bound_at": ctx.now,
        }
        for channel, key, _column in IDENTITY_COLUMNS
        for row in rows
        if row.extra[key] is not None
    ]
    execute_batches(
        conn, insert_new(conn, IDENTITY, ["channel", "external_id"]), identities, Counter()
    )


def _customers(
    conn: Connection, rows: list[Built], ctx: Context, counter: Counter, tick: Tick
) -> None:
    hashes = stored(conn, CUSTOMER, [row.values["id"] for row in rows], "import_hash")
    changed = [row for row in rows if hashes.get(row.values["id"]) != (row.values["import_hash"],)]
    tick(len(rows) - len(changed))
    # Encrypt only what will be written: a re-import of an unchanged file encrypts nothing.
    values = [seal_customer(row.values, row.extra, ctx.cipher) for row in changed]
    scope_before = stored(conn, CUSTOMER, _ids(values), "owner_staff_id", "branch_id")
    aum_before = stored(conn, CUSTOMER, _ids(values), "aum", "updated_at")
    apply_chat_edits(conn, values)  # tags added or removed in chat survive the import
    stmt = upsert(
        conn,
        CUSTOMER,
        ["id"],
        updatable(CUSTOMER),
        # Ciphertext differs on every encryption, so compare the keyed hash of the input.
        where=lambda excluded: CUSTOMER.c.import_hash.is_distinct_from(excluded.import_hash),
    )
    write_table(conn, CUSTOMER, values, hashes, counter, tick, upsert_stmt=stmt)
    moved = _moved(values, scope_before, "owner_staff_id", "branch_id")
    enqueue_customers(conn, moved, now=ctx.now)
    record_aum_changes(conn, values, aum_before, ctx.as_of or ctx.now.date())


def _holdings(
    conn: Connection, rows: list[Built], ctx: Context, counter: Counter, tick: Tick
) -> None:
    values = [row.values for row in rows]
    write_table(conn, HOLDING, values, stored(conn, HOLDING, _ids(values)), counter, tick)


def _interactions(
    conn: Connection, rows: list[Built], ctx: Context, counter: Counter, tick: Tick
) -> None:
    values = [row.values for row in rows]
    c = ("next_followup_on", "content", "staff_id", "customer_id", "undone_at", "occurred_at")
    notes = stored(conn, INTERACTION, _ids(values), *c)
    stmt = upsert(
        conn,
        INTERACTION,
        ["id"],
        updatable(INTERACTION, "created_at", "source_message_id", "undone_at"),
    )
    write_table(conn, INTERACTION, values, notes, counter, tick, upsert_stmt=stmt)
    enqueue_many(conn, _reindexed(values, notes), "upsert", now=ctx.now)
    due_changed: list[Values] = []
    other: list[Values] = []
    for note in values:
        due = note["next_followup_on"]
        before = notes.get(note["id"])
        if due is None or (before is not None and before[4] is not None):  # no date, or undone
            continue
        (due_changed if before is None or before[0] != due else other).append(
            followup(note, ctx.now)
        )
    for update, tasks in ((FOLLOWUP_DUE, due_changed), (FOLLOWUP_DUE[1:], other)):
        stmt = upsert(conn, FOLLOWUP, ["interaction_id"], update, where=_open_and_differs(update))
        execute_batches(conn, stmt, tasks, Counter())


def _moved(values: list[Values], before: dict[str, tuple[Any, ...]], *columns: str) -> list[str]:
    """Ids of existing rows whose `columns` change: their notes' index metadata goes stale."""
    return [
        v["id"]
        for v in values
        if v["id"] in before and before[v["id"]] != tuple(v[c] for c in columns)
    ]


def _reindexed(values: list[Values], notes: dict[str, tuple[Any, ...]]) -> list[str]:
    """Notes new, or with another text, author, customer or time: their index entry is stale."""
    wanted = ("content", "staff_id", "customer_id", "occurred_at")
    return [
        v["id"]
        for v in values
        if (before := notes.get(v["id"])) is None
        or (before[1], before[2], before[3], before[5]) != tuple(v[k] for k in wanted)
    ]


def _open_and_differs(columns: Sequence[str]) -> Callable[[Any], ColumnElement[bool]]:
    """A follow-up already done is never reopened or changed."""

    def condition(excluded: Any) -> ColumnElement[bool]:
        return (FOLLOWUP.c.status != "done") & differs(FOLLOWUP, excluded, columns)

    return condition


WRITERS: dict[str, Writer] = {
    "branches": _branches,
    "staff": _staff,
    "customers": _customers,
    "holdings": _holdings,
    "interactions": _interactions,
}
