"""Writing checked rows: the dialect's INSERT ... ON CONFLICT, executemany in batches.

An upsert only touches a row whose values differ (customers: whose import hash differs), so
importing the same file twice changes nothing and the row counts say what changed.

Rows whose id is not stored yet go through ON CONFLICT DO NOTHING first: on SQLite with
foreign keys on, a DO UPDATE clause makes every insert about twice as slow even when nothing
conflicts (measured on the customer table). A batch that meets a conflict anyway (a row
inserted meanwhile by someone else) is simply run again through the upsert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, or_
from sqlalchemy.dialects import postgresql, sqlite

BATCH = 2_000
# SQLite's page cache during an import (KiB; the default is 2 MiB). Index pages stay in
# memory instead of being re-read: about 20% faster writes at 100k customers, more on
# larger databases (PITFALLS: 70k -> 180k rows/s at 1M customers with 256 MiB).
IMPORT_CACHE_KIB = 131_072
Tick = Callable[[int], None]
Values = dict[str, Any]


@contextmanager
def roomy_page_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a larger page cache for this connection while the block runs."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
    conn.exec_driver_sql(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:  # the pooled connection goes back with its usual cache (and memory)
        conn.exec_driver_sql(f"PRAGMA cache_size = {before}")


class Counter:
    """Rows inserted and rows changed, as the driver reports them.

    A driver that does not know a statement's rowcount (negative) is taken to have changed the
    whole batch: the report then overstates changes rather than calling them unchanged.
    """

    def __init__(self) -> None:
        self.inserted = 0
        self.updated = 0

    @staticmethod
    def _rows(rowcount: int, batch: int) -> int:
        return batch if rowcount < 0 else rowcount

    def add_inserted(self, rowcount: int, batch: int) -> None:
        """Add one insert statement's rowcount over `batch` rows."""
        self.inserted += self._rows(rowcount, batch)

    def add_updated(self, rowcount: int, batch: int) -> None:
        """Add one upsert statement's rowcount over `batch` rows (existing rows changed)."""
        self.updated += self._rows(rowcount, batch)


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The dialect's own insert(), which knows ON CONFLICT, keeping executemany rowcounts."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    # Without preserve_rowcount, psycopg executemany results report -1.
    return dialect.insert(table).execution_options(preserve_rowcount=True)


def differs(table: Table, excluded: Any, columns: Sequence[str]) -> ColumnElement[bool]:
    """True where the stored row and the incoming one differ in any of `columns`."""
    return or_(*(table.c[name].is_distinct_from(excluded[name]) for name in columns))


def upsert(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    update: Sequence[str],
    *,
    where: Callable[[Any], ColumnElement[bool]] | None = None,
) -> Any:
    """INSERT, or on a key conflict UPDATE `update` where they differ (or `where(excluded)`)."""
    stmt = dialect_insert(conn, table)
    excluded = stmt.excluded
    condition = differs(table, excluded, update) if where is None else where(excluded)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: excluded[name] for name in update}, where=condition
    )


def insert_new(conn: Connection, table: Table, keys: Sequence[str]) -> Any:
    """INSERT rows whose key is not taken yet; leave existing ones alone."""
    return dialect_insert(conn, table).on_conflict_do_nothing(index_elements=list(keys))


def updatable(table: Table, *skip: str) -> list[str]:
    """Every column but the id and `skip`."""
    return [column.name for column in table.c if column.name != "id" and column.name not in skip]


def execute_batches(
    conn: Connection, stmt: Any, rows: list[Values], counter: Counter, tick: Tick | None = None
) -> None:
    """Run `stmt` over `rows` in executemany batches."""
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        counter.add_updated(conn.execute(stmt, batch).rowcount, len(batch))
        if tick is not None:
            tick(len(batch))


def write_table(
    conn: Connection,
    table: Table,
    rows: list[Values],
    existing: Iterable[str],
    counter: Counter,
    tick: Tick | None = None,
    *,
    upsert_stmt: Any = None,
) -> None:
    """Insert the rows whose id is new, upsert the others (by default: changed columns only)."""
    if upsert_stmt is None:
        upsert_stmt = upsert(conn, table, ["id"], updatable(table))
    existing = set(existing)
    fresh = [row for row in rows if row["id"] not in existing]
    known = [row for row in rows if row["id"] in existing]
    plain = insert_new(conn, table, ["id"])
    for start in range(0, len(fresh), BATCH):
        batch = fresh[start : start + BATCH]
        inserted = conn.execute(plain, batch).rowcount
        counter.add_inserted(inserted, len(batch))
        if 0 <= inserted != len(batch):  # someone else inserted some of these ids meanwhile
            counter.add_updated(conn.execute(upsert_stmt, batch).rowcount, len(batch) - inserted)
        if tick is not None:
            tick(len(batch))
    execute_batches(conn, upsert_stmt, known, counter, tick)
