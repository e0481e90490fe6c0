"""Import keeps AUM history (as-of rows, old value never lost) and merges chat-added tags."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from crm_store.importer import import_file
from crm_store.models import Customer, CustomerAumHistory
from crm_store.store import Store
from crm_store.tags import edit_tag, merge_tags
from tests.test_importer import CUSTOMERS, NOW, load, write_csv


def history(store: Store, customer_id: str) -> list[tuple[date, Decimal]]:
    with store.db.read() as s:
        query = (
            select(CustomerAumHistory.as_of, CustomerAumHistory.aum)
            .where(CustomerAumHistory.customer_id == customer_id)
            .order_by(CustomerAumHistory.as_of)
        )
        return [(d, Decimal(a)) for d, a in s.execute(query).tuples()]


def customers_with(aum: str, tags: str = "高净值; 退休;") -> tuple[list[str], list[list[str]]]:
    header, rows = CUSTOMERS
    first = [*rows[0][:10], aum, tags]
    return header, [first, *rows[1:]]


def test_import_writes_an_as_of_row_only_when_aum_changes(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff", "customers")
    assert history(store, "C1") == [(date(2026, 3, 1), Decimal("1000000.00"))]
    assert history(store, "C2") == []  # no AUM given: nothing to remember
    later = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    path = write_csv(tmp_path / "c2.csv", customers_with("600,000"))
    import_file(store, "customers", path, now=later, as_of=date(2026, 3, 31))
    import_file(store, "customers", path, now=later, as_of=date(2026, 4, 1))  # unchanged
    assert history(store, "C1") == [
        (date(2026, 3, 1), Decimal("1000000.00")),
        (date(2026, 3, 31), Decimal("600000.00")),
    ]


def test_an_old_value_without_history_is_kept_as_of_its_last_update(
    store: Store, tmp_path: Path
) -> None:
    load(store, tmp_path, "branches", "staff", "customers")
    with store.db.write() as s:  # a customer imported before history existed
        s.execute(CustomerAumHistory.__table__.delete())
    path = write_csv(tmp_path / "c2.csv", customers_with("700,000"))
    import_file(store, "customers", path, now=NOW, as_of=date(2026, 3, 20))
    assert history(store, "C1") == [
        (date(2026, 3, 1), Decimal("1000000.00")),
        (date(2026, 3, 20), Decimal("700000.00")),
    ]


def test_import_merges_tags_added_and_removed_in_chat(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff", "customers")
    with store.db.write() as s:
        assert edit_tag(s, "C1", "爱打高尔夫", "add", "S1", NOW)
        assert edit_tag(s, "C1", "退休", "remove", "S1", NOW)
    path = write_csv(tmp_path / "c2.csv", customers_with("1,000,000", "高净值;退休;新客"))
    import_file(store, "customers", path, now=NOW)
    with store.db.read() as s:
        customer = s.get(Customer, "C1")
        assert customer is not None
        assert customer.tags == "高净值;新客;爱打高尔夫"


def test_merge_rule() -> None:
    assert merge_tags("a;b", [("b", "remove"), ("c", "add"), ("a", "add")]) == "a;c"
    assert merge_tags("", [("x", "add"), ("x", "remove")]) == ""
