"""The dialect's INSERT, which knows ON CONFLICT, for the engine a session is bound to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session


def insert_for(session: Session | Connection, table: Any) -> Any:
    """`INSERT` for `table` with `on_conflict_do_nothing/update` on SQLite and PostgreSQL."""
    # Imported here: the PostgreSQL dialect package loads every driver's module (~50 ms),
    # which a CLI start on the embedded default never needs.
    bind = session if isinstance(session, Connection) else session.get_bind()
    if bind.dialect.name == "postgresql":
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
