"""ID numbers cannot be rebuilt from what the customer table keeps in clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from crm_store.crypto import FieldCipher, decode_key
from crm_store.db import Database, make_engine
from crm_store.models import Customer
from crm_store.personal import id_number_columns, id_number_shown
from crm_store.store import Store
from tests.conftest import TEST_KEY
from tests.test_migrations import migrate, own_url  # noqa: F401  (fixture)
from tests.world import build_world

ID = "31010119800101123X"


@pytest.mark.parametrize(
    ("typed", "shown"),
    [(ID, "**************123X"), ("310101-19800101-123x", "**************123X"), ("1234", "1234")],
)
def test_the_shown_form_keeps_the_last_4_only(typed: str, shown: str) -> None:
    assert id_number_shown(typed) == shown


def test_the_table_keeps_no_prefix_and_no_birth_year(store: Store) -> None:
    build_world(store)
    columns = {c["name"] for c in inspect(store.db.engine).get_columns("customer")}
    assert "birth_year" not in columns
    with store.db.read() as s:
        for c in s.scalars(select(Customer)):
            clear = [v for k, v in vars(c).items() if not k.endswith("_enc") and k[0] != "_"]
            assert not any(isinstance(v, str) and "310101" in v for v in clear)
            assert c.id_number_masked == "**************123X"
            assert not any(isinstance(v, str) and "1980" in v for v in clear)


def test_migration_rewrites_masks_and_drops_the_birth_year(own_url: str, tmp_path: Path) -> None:  # noqa: F811
    migrate(own_url, "0010")
    cipher = FieldCipher(decode_key(TEST_KEY))
    engine = make_engine(own_url)
    enc = id_number_columns(cipher, ID)["id_number_enc"]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO branch (id, name) VALUES ('B1', 'b')"))
        conn.execute(
            text("INSERT INTO staff (id, name, role, active) VALUES ('S1', 's', 'rm', true)")
        )
        conn.execute(
            text(
                "INSERT INTO customer (id, name, name_pinyin, owner_staff_id, branch_id, segment,"
                " birth_year, birth_month, birth_day, birthday_calendar, birthday_leap_month,"
                " id_number_enc, id_number_masked, id_number_last4, tags, updated_at) VALUES"
                " ('C1', '张伟', 'zhangwei', 'S1', 'B1', 'vip', 1980, 1, 1, 'solar', false,"
                " :enc, '310***********123X', '123X', '', CURRENT_TIMESTAMP)"
            ),
            {"enc": enc},
        )
    engine.dispose()
    migrate(own_url, "head")
    db = Database(make_engine(own_url))
    try:
        columns = {c["name"] for c in inspect(db.engine).get_columns("customer")}
        assert "birth_year" not in columns
        with db.read() as s:
            row = s.get(Customer, "C1")
            assert row is not None
            assert (row.id_number_masked, row.birth_month, row.birth_day) == (
                "**************123X",
                1,
                1,
            )
            assert cipher.decrypt(row.id_number_enc or b"") == ID
    finally:
        db.dispose()
