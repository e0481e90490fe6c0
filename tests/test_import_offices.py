"""Imports as Chinese offices produce them: GB18030 and UTF-16 files, every error in one pass,
and a re-import that says what it left unchanged. On both engines."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select

from crm_store.importer import import_file
from crm_store.models import Customer
from crm_store.store import Store
from tests.test_importer import CUSTOMER_HEADER, CUSTOMERS, NOW, load, rejected, write_csv


def csv_text(table: tuple[list[str], list[list[str]]], delimiter: str = ",") -> str:
    """The table as CSV text with Windows line ends, as Excel writes it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(table[0])
    writer.writerows(table[1])
    return buffer.getvalue()


def names(store: Store) -> dict[str, str]:
    """Customer id -> name."""
    with store.db.read() as session:
        return dict(session.execute(select(Customer.id, Customer.name)).tuples().all())


def test_gb18030_csv_imports_and_says_so(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    path = tmp_path / "客户.csv"
    # 㐀 (U+3400) is outside GBK: only GB18030 encodes it, in four bytes.
    rows = [[*CUSTOMERS[1][0][:1], "张㐀", *CUSTOMERS[1][0][2:]], *CUSTOMERS[1][1:]]
    path.write_bytes(csv_text((CUSTOMER_HEADER, rows)).encode("gb18030"))
    report = import_file(store, "customers", path, now=NOW)
    assert (report.encoding, report.rows, report.inserted) == ("GB18030", 3, 3)
    assert names(store) == {"C1": "张㐀", "C2": "陈静", "C3": "刘洋"}
    assert report.summary() == (
        "客户.csv (read as GB18030): 3 customers rows: 3 imported, 0 updated, 0 unchanged"
    )


def test_gbk_csv_imports(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    path = tmp_path / "gbk.csv"
    path.write_bytes(csv_text(CUSTOMERS).encode("gbk"))
    assert import_file(store, "customers", path, now=NOW).encoding == "GB18030"
    assert names(store)["C1"] == "张伟"


def test_excel_unicode_text_is_utf16_with_tabs(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    path = tmp_path / "customers.txt"
    # Excel's "Unicode text": UTF-16LE with a byte-order mark, cells separated by tabs.
    path.write_bytes(csv_text(CUSTOMERS, delimiter="\t").encode("utf-16"))
    assert path.read_bytes()[:2] == b"\xff\xfe"
    report = import_file(store, "customers", path, now=NOW)
    assert (report.encoding, report.inserted) == ("UTF-16LE (BOM)", 3)
    with store.db.read() as session:
        c1 = session.get(Customer, "C1")
        assert c1 is not None and (c1.name, c1.tags) == ("张伟", "高净值;退休")
    big_endian = tmp_path / "be.tsv"
    big_endian.write_bytes(b"\xfe\xff" + csv_text(CUSTOMERS, delimiter="\t").encode("utf-16-be"))
    assert import_file(store, "customers", big_endian, now=NOW).encoding == "UTF-16BE (BOM)"


def test_utf8_with_and_without_bom_say_which(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches")
    plain = import_file(store, "staff", write_csv(tmp_path / "s.csv", _staff()), now=NOW)
    bom = import_file(store, "staff", write_csv(tmp_path / "s2.csv", _staff(), bom=True), now=NOW)
    assert (plain.encoding, bom.encoding) == ("UTF-8", "UTF-8 (BOM)")


def test_a_lying_byte_order_mark_is_refused(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"\xef\xbb\xbfbranch_id,name\nB1,\xff\xfe\n")
    assert rejected(store, "branches", path) == [
        "b.csv: not text in UTF-8, UTF-16 (with BOM) or GB18030/GBK; save it as one"
    ]


def test_every_error_in_one_pass(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    rows = [
        # a bad date AND an unknown owner: both at once, not one after the other
        ["C1", "张伟", "S404", "SZ01", "vip", "1975/13", "", "", "", "", "", ""],
        # a bad segment AND an unknown branch
        ["C2", "陈静", "S1", "NOWHERE", "gold", "", "", "", "", "", "", ""],
        ["C3", "刘洋", "S1", "SZ01", "regular", "", "", "", "", "C9", "", ""],
        ["C1", "张伟", "S1", "SZ01", "vip", "", "", "", "", "", "", ""],  # duplicate id
    ]
    errors = rejected(store, "customers", write_csv(tmp_path / "c.csv", (CUSTOMER_HEADER, rows)))
    assert errors == [
        'c.csv:2: birthday: "1975/13" is not a date (YYYY-MM-DD or MM-DD)',
        'c.csv:2: owner_staff_id: unknown staff "S404"',
        'c.csv:3: segment: "gold" is not one of vip, regular, prospect',
        'c.csv:3: branch_id: unknown branch "NOWHERE"',
        'c.csv:4: risk_level: "C9" is not one of C1, C2, C3, C4, C5',
        'c.csv:5: customer_id: duplicate id "C1" (first on row 2)',
    ]
    assert names(store) == {}


def test_identity_conflicts_on_rows_with_other_errors(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    header = ["staff_id", "name", "role", "branch_id", "wecom_userid"]
    rows = [["S7", "a", "manager", "NOWHERE", "lijingli"]]  # S1's WeCom id, in the database
    errors = rejected(store, "staff", write_csv(tmp_path / "s.csv", (header, rows)))
    assert errors == [
        's.csv:2: role: "manager" is not one of rm, team_lead, branch_head, compliance, admin',
        's.csv:2: branch_id: unknown branch "NOWHERE"',
        's.csv:2: wecom_userid: "lijingli" is already bound to staff S1',
    ]


def test_reimport_says_unchanged(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    path = write_csv(tmp_path / "customers.csv", CUSTOMERS)
    first = import_file(store, "customers", path, now=NOW)
    again = import_file(store, "customers", path, now=NOW)
    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert again.summary().endswith("3 customers rows: 0 imported, 0 updated, 3 unchanged")
    header, rows = CUSTOMERS
    changed = [list(row) for row in rows] + [["C4", "新客户", "S1", "SZ01", "vip"] + [""] * 7]
    changed[1][4] = "vip"
    mixed = import_file(store, "customers", write_csv(tmp_path / "c2.csv", (header, changed)))
    assert (mixed.inserted, mixed.updated, mixed.unchanged) == (1, 1, 2)
    branches = import_file(store, "branches", tmp_path / "branches.csv", now=NOW)
    assert (branches.inserted, branches.updated, branches.unchanged) == (0, 0, 2)


def _staff() -> tuple[list[str], list[list[str]]]:
    return (["staff_id", "name", "role", "branch_id"], [["S1", "李经理", "rm", "SZ01"]])


def test_birthday_without_a_year(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    rows = [
        ["C1", "张伟", "S1", "SZ01", "vip", "02-29", "", "", "", "", "", ""],
        ["C2", "陈静", "S1", "SZ01", "vip", "--08-30", "lunar", "", "", "", "", ""],
        ["C3", "刘洋", "S1", "SZ01", "vip", "02-30", "", "", "", "", "", ""],
    ]
    errors = rejected(store, "customers", write_csv(tmp_path / "c.csv", (CUSTOMER_HEADER, rows)))
    assert errors == ["c.csv:4: birthday: not a real date"]
    import_file(store, "customers", write_csv(tmp_path / "ok.csv", (CUSTOMER_HEADER, rows[:2])))
    with store.db.read() as session:
        got = (
            session.execute(
                select(
                    Customer.id,
                    Customer.birth_month,
                    Customer.birth_day,
                    Customer.birthday_calendar,
                )
            )
            .tuples()
            .all()
        )
    assert sorted(got) == [("C1", 2, 29, "solar"), ("C2", 8, 30, "lunar")]
    # The year is not stored, so a file that gives one is the same data: unchanged.
    rows[0][5], rows[1][5] = "1980-02-29", "1975-08-30"
    again = import_file(
        store, "customers", write_csv(tmp_path / "y.csv", (CUSTOMER_HEADER, rows[:2]))
    )
    assert (again.updated, again.unchanged) == (0, 2)
