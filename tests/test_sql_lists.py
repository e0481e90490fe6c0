"""Long value lists bound as one parameter, on both engines."""

from __future__ import annotations

from sqlalchemy import select

from crm_store.models import Customer
from crm_store.sql_lists import one_of
from crm_store.store import Store
from tests.world import build_world


def test_one_of_takes_more_values_than_sqlite_has_parameters(store: Store) -> None:
    # SQLite allows 32,766 bound parameters: an expanded IN of a large branch's customer ids
    # would fail there. One JSON (SQLite) or array (PostgreSQL) parameter has no such limit.
    build_world(store)
    wanted = [f"x{n}" for n in range(40_000)] + ["c1", "c8", "张伟"]
    with store.db.read() as s:
        found = set(s.scalars(select(Customer.id).where(one_of(s, Customer.id, wanted))))
        named = set(s.scalars(select(Customer.id).where(one_of(s, Customer.name, {"张伟"}))))
        none = list(s.scalars(select(Customer.id).where(one_of(s, Customer.id, []))))
    assert found == {"c1", "c8"} and named == {"c1", "c2"} and none == []
