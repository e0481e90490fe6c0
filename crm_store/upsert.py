"""The dialect's INSERT, which knows ON CONFLICT, for the engine a session is bound to."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine


def insert_for(session: Session, table: Any) -> Any:
    """`INSERT` for `table` with `on_conflict_do_nothing/update` on SQLite and PostgreSQL."""
    # Imported here: the PostgreSQL dialect package loads every driver's module (~50 ms),
    # which a CLI start on the embedded default never needs.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def rows_inserted(session: Session, statement: Any, key: Any) -> int:
    """Run an `INSERT ... SELECT ... ON CONFLICT DO NOTHING`; how many rows it added.

    SQLite is asked with changes(): Python's sqlite3 reports -1 for INSERT ... SELECT, and
    shipping every new `key` back with RETURNING took a third of planning's time for 5k
    birthday rows. PostgreSQL counts the RETURNING rows (the driver's rowcount for this
    statement reaches SQLAlchemy as -1).
    """
    if session.get_bind().dialect.name == "postgresql":
        return len(session.execute(statement.returning(key)).all())
    session.execute(statement)
    return int(session.execute(text("SELECT changes()")).scalar_one())


# psycopg parses a query's placeholders afresh at every execution once it has more than
# this many parameters (its MAX_CACHED_STATEMENT_PARAMS): a callback batch of 50 inbox rows,
# 500 parameters, took 2.3 ms of the client's CPU as one VALUES list and 0.5 ms as one array
# per column through unnest(), which keeps the same short SQL text for every row count.
PSYCOPG_CACHED_PARAMS = 50


def insert_new(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: tuple[str, ...],
    returning: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    """`INSERT ... VALUES (...), (...) ON CONFLICT (key) DO NOTHING RETURNING ...` of `rows`
    (all with the same keys, each a column of `table`); the `returning` values of the rows
    added, unconverted (plain strings and integers only).

    SQLAlchemy never caches the dialects' INSERT (`inherit_cache = False`: its ON CONFLICT
    clause is not part of the cache key), so every such statement compiles afresh, 0.4 ms
    a time; the callbacks' inbox rows wait for it. Here the SQL text is built once per
    dialect, table, columns and row count, and each value goes through its column type's
    bind processor, as SQLAlchemy would convert it.
    """
    if not rows:
        return []
    dialect = conn.dialect
    columns = tuple(rows[0])
    converters = _bind_processors(dialect, table, columns)
    if dialect.name == "postgresql" and len(rows) * len(columns) > PSYCOPG_CACHED_PARAMS:
        return _insert_unnest(conn, table, rows, columns, converters, key, returning)
    sql = _insert_sql(dialect, table, columns, len(rows), key, returning)
    params: list[Any] = []
    for row in rows:
        params.extend(
            value if convert is None else convert(value)
            for convert, value in zip(converters, (row[c] for c in columns), strict=True)
        )
    return [tuple(found) for found in conn.exec_driver_sql(sql, tuple(params))]


def _insert_unnest(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    columns: tuple[str, ...],
    converters: tuple[Callable[[Any], Any] | None, ...],
    key: tuple[str, ...],
    returning: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    """PostgreSQL, many rows: one array per column, in binary, through unnest()."""
    arrays = tuple(
        [row[name] if convert is None else convert(row[name]) for row in rows]
        for name, convert in zip(columns, converters, strict=True)
    )
    sql = _unnest_sql(conn.dialect, table, columns, key, returning)
    return [tuple(found) for found in conn.exec_driver_sql(sql, arrays)]


@functools.lru_cache(maxsize=64)
def _unnest_sql(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    returning: tuple[str, ...],
) -> str:
    quote = dialect.identifier_preparer.quote
    # %b: psycopg sends the array in binary; text arrays it would quote element by element.
    arrays = ", ".join(f"%b::{_array_of(table.c[name].type, dialect)}" for name in columns)
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "
        f"SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({', '.join(map(quote, key))}) DO NOTHING "
        f"RETURNING {', '.join(map(quote, returning))}"
    )


def _array_of(column_type: TypeEngine[Any], dialect: Dialect) -> str:
    """The array type of a column's type without its length or precision: an explicit cast
    to VARCHAR(16) would cut a longer value short, where the INSERT's own assignment to the
    column refuses it, as a VALUES list's does."""
    return re.sub(r"\(.*\)", "", column_type.compile(dialect)) + "[]"


@functools.lru_cache(maxsize=512)
def _insert_sql(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    count: int,
    key: tuple[str, ...],
    returning: tuple[str, ...],
) -> str:
    marks = {"qmark": "?", "format": "%s", "pyformat": "%s"}  # sqlite3's, psycopg's
    quote = dialect.identifier_preparer.quote
    one = "(" + ", ".join([marks[dialect.paramstyle]] * len(columns)) + ")"
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) "
        f"VALUES {', '.join([one] * count)} "
        f"ON CONFLICT ({', '.join(map(quote, key))}) DO NOTHING "
        f"RETURNING {', '.join(map(quote, returning))}"
    )


@functools.lru_cache(maxsize=64)
def _bind_processors(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[Callable[[Any], Any] | None, ...]:
    return tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    )
