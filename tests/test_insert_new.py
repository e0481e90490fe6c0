"""`insert_new`, the inbox's batch insert: the same rows, ids and refusals whatever the batch
size, on SQLite and PostgreSQL (where a large batch goes as one array per column)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from bot.inbox import INBOX
from crm_store import upsert
from crm_store.store import Store
from crm_store.upsert import insert_new

KEY = ("channel", "msg_key")
SHANGHAI = timezone(timedelta(hours=8))


def _rows(first: int, count: int) -> list[dict[str, Any]]:
    """Inbox rows with text beyond ASCII, a zone other than UTC and NULLs among values."""
    return [
        {
            "channel": "wecom",
            "msg_key": str(n),
            "sender_id": f"user{n}",
            "chat_id": f"user{n}",
            "chat_type": "direct",
            "text": f"第{n}问：张伟上次聊了什么？'\"{{}},\\",
            "received_at": datetime(2026, 12, 8, 9, 30, n % 60, tzinfo=SHANGHAI),
            "voice": None if n % 2 else '{"media_id": "m", "format": "amr"}',
            "status": "pending",
            "attempts": n % 3,
        }
        for n in range(first, first + count)
    ]


def _insert(store: Store, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    with store.db.one_statement() as conn:
        return insert_new(conn, INBOX, rows, key=KEY, returning=(*KEY, "id"))


def _stored(store: Store) -> dict[str, dict[str, Any]]:
    with store.db.engine.connect() as conn:
        found = conn.execute(select(INBOX)).mappings().all()
    return {row["msg_key"]: dict(row) for row in found}


@pytest.mark.parametrize("count", [1, 5, 6, 50, 200])
def test_rows_are_stored_as_given_and_only_new_ones_return(store: Store, count: int) -> None:
    """5 rows of 10 columns are psycopg's cached 50 parameters; 6 and more go as arrays."""
    rows = _rows(1, count)
    added = _insert(store, rows)
    assert sorted(k for _, k, _ in added) == sorted(r["msg_key"] for r in rows)
    stored = _stored(store)
    for row in rows:
        got = stored[row["msg_key"]]
        assert {name: got[name] for name in row if name != "received_at"} == {
            name: value for name, value in row.items() if name != "received_at"
        }
        assert got["received_at"] == row["received_at"]
        assert got["received_at"].tzinfo is not None
    assert {inbox_id for _, _, inbox_id in added} == {stored[k]["id"] for _, k, _ in added}

    # Half of the next batch was stored already: only the new half is added and returned.
    again = _rows(1 + count // 2, count)
    added_again = _insert(store, again)
    fresh = {r["msg_key"] for r in again} - {r["msg_key"] for r in rows}
    assert {k for _, k, _ in added_again} == fresh
    assert len(_stored(store)) == len(rows) + len(fresh)


@pytest.mark.parametrize("count", [1, 50])
def test_a_value_too_long_for_its_column_is_refused_not_cut(store: Store, count: int) -> None:
    """PostgreSQL refuses a VARCHAR(16) value of 17 characters in a VALUES list; the array
    path must too, where an explicit cast to the column's type would cut it short."""
    if store.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no lengths")
    rows = _rows(1, count)
    rows[-1]["channel"] = "x" * 17
    with pytest.raises(DBAPIError):
        _insert(store, rows)
    assert _stored(store) == {}


def test_the_array_path_is_taken_past_psycopgs_cached_parameters() -> None:
    """The switch point is psycopg's own limit: past it, a VALUES list is parsed afresh."""
    from psycopg import _queries

    assert upsert.PSYCOPG_CACHED_PARAMS == _queries.MAX_CACHED_STATEMENT_PARAMS


def test_an_empty_batch_adds_nothing(store: Store) -> None:
    assert _insert(store, []) == []
    assert _stored(store) == {}


def test_received_at_is_kept_to_the_microsecond(store: Store) -> None:
    rows = _rows(1, 20)
    moment = datetime(2026, 12, 8, 1, 2, 3, 456789, tzinfo=UTC)
    for row in rows:
        row["received_at"] = moment
    _insert(store, rows)
    assert {r["received_at"] for r in _stored(store).values()} == {moment}
