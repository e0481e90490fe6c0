"""`import_file`: the five kinds from CSV and XLSX, all-or-nothing, idempotent, on both engines."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, update

from crm_store.importer import ImportRejected, import_file
from crm_store.models import (
    Base,
    Branch,
    ChannelIdentity,
    Customer,
    FollowUp,
    Holding,
    Interaction,
    Staff,
    Team,
)
from crm_store.store import Store

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

BRANCHES = (
    ["branch_id", "name", "parent_id"],
    [["SZ01", "深圳福田支行", "SZ"], ["SZ", "深圳分行", ""]],
)
STAFF = (
    [
        "staff_id",
        "name",
        "role",
        "branch_id",
        "team_id",
        "wecom_userid",
        "telegram_user_id",
        "active",
    ],
    [
        ["S1", "李经理", "rm", "SZ01", "T1", "lijingli", "1001", "是"],
        ["S2", "王主管", "team_lead", "SZ01", "T1", "", "", ""],
        ["S3", "赵前员工", "rm", "SZ", "", "", "", "no"],
    ],
)
CUSTOMER_HEADER = [
    "customer_id", "name", "owner_staff_id", "branch_id", "segment", "birthday",
    "birthday_calendar", "phone", "id_number", "risk_level", "aum", "tags",
]  # fmt: skip
CUSTOMERS = (
    CUSTOMER_HEADER,
    [
        ["C1", "张伟", "S1", "SZ01", "vip", "1975-08-15", "lunar", "+86 138-1234-5678",
         "44030119750815123x", "C3", "1,000,000.00", "高净值; 退休;"],
        ["C2", "陈静", "S2", "SZ01", "regular", "1990-02-28", "", "13900001111", "", "", "", ""],
        ["C3", "刘洋", "S1", "SZ", "prospect", "1980-02-30", "lunar", "", "", "C1", "0", "企业主"],
    ],
)  # fmt: skip
HOLDINGS = (
    ["holding_id", "customer_id", "product_type", "product_name", "amount", "currency",
     "start_date", "maturity_date"],
    [
        ["H1", "C1", "large_cd", "大额存单3年", "500,000.00", "", "2024-01-10", "2027-01-10"],
        ["H2", "C2", "fund", "沪深300指数", "12345.6", "usd", "", ""],
    ],
)  # fmt: skip
INTERACTIONS = (
    ["interaction_id", "customer_id", "staff_id", "occurred_at", "channel", "content",
     "next_followup_on"],
    [
        ["I1", "C1", "S1", "2026-02-27 09:30", "phone",
         "客户想了解大额存单到期续存，电话13812345678", "2026-03-05"],
        ["I2", "C2", "S2", "2026-02-27T10:00:00+00:00", "", "送生日礼物", ""],
    ],
)  # fmt: skip


def write_csv(path: Path, table: tuple[list[str], list[list[str]]], *, bom: bool = False) -> Path:
    """A CSV file with a header row."""
    header, rows = table
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: Sequence[Sequence[Any]]) -> Path:
    """An XLSX workbook whose first sheet holds the header and rows as typed cells."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def load(store: Store, tmp_path: Path, *kinds: str) -> None:
    """Import the sample files of `kinds`, in order."""
    tables = {
        "branches": BRANCHES,
        "staff": STAFF,
        "customers": CUSTOMERS,
        "holdings": HOLDINGS,
        "interactions": INTERACTIONS,
    }
    for kind in kinds:
        import_file(store, kind, write_csv(tmp_path / f"{kind}.csv", tables[kind]), now=NOW)


def count(store: Store, model: Any) -> int:
    """Rows in a table."""
    with store.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with store.db.read() as session:
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            tables[table.name] = [tuple(row) for row in session.execute(query)]
    return tables


def rejected(store: Store, kind: str, path: Path, **options: Any) -> list[str]:
    """The error lines of an import that must fail."""
    with pytest.raises(ImportRejected) as caught:
        import_file(store, kind, path, now=NOW, **options)
    assert str(caught.value) == "\n".join(caught.value.errors)
    return caught.value.errors


def test_all_five_kinds(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff", "customers", "holdings", "interactions")
    with store.db.read() as session:
        assert session.get(Branch, "SZ01").parent_id == "SZ"  # type: ignore[union-attr]
        team = session.get(Team, "T1")
        assert team is not None and (team.name, team.branch_id) == ("T1", "SZ01")
        staff = session.scalars(select(Staff).order_by(Staff.id))
        assert [(s.id, s.team_id, s.active) for s in staff] == [
            ("S1", "T1", True), ("S2", "T1", True), ("S3", None, False),
        ]  # fmt: skip
        bindings = session.execute(
            select(ChannelIdentity.channel, ChannelIdentity.external_id, ChannelIdentity.staff_id)
        ).all()
        assert sorted(bindings) == [("telegram", "1001", "S1"), ("wecom", "lijingli", "S1")]

        c1 = session.get(Customer, "C1")
        assert c1 is not None
        assert (c1.name_pinyin, c1.segment, c1.risk_level) == ("zhangwei", "vip", "C3")
        assert (c1.birth_month, c1.birth_day, c1.birthday_calendar) == (
            8,
            15,
            "lunar",
        )
        assert c1.phone_enc is not None and store.cipher.decrypt(c1.phone_enc) == "13812345678"
        assert (c1.phone_masked, c1.phone_last4) == ("138****5678", "5678")
        assert c1.id_number_enc is not None
        assert store.cipher.decrypt(c1.id_number_enc) == "44030119750815123X"
        assert (c1.id_number_masked, c1.id_number_last4) == ("**************123X", "123X")
        assert c1.aum == Decimal("1000000.00") and c1.tags == "高净值;退休"
        assert c1.import_hash and c1.updated_at == NOW
        c2 = session.get(Customer, "C2")
        assert c2 is not None
        assert (c2.birthday_calendar, c2.id_number_enc, c2.risk_level, c2.aum, c2.tags) == (
            "solar", None, None, None, "",
        )  # fmt: skip
        c3 = session.get(Customer, "C3")
        assert c3 is not None and (c3.birth_month, c3.birth_day, c3.phone_enc) == (2, 30, None)

        h1, h2 = session.get(Holding, "H1"), session.get(Holding, "H2")
        assert h1 is not None and h2 is not None
        assert (h1.amount, h1.currency, h1.maturity_date) == (
            Decimal("500000.00"),
            "CNY",
            date(2027, 1, 10),
        )
        assert (h2.amount, h2.currency, h2.start_date) == (Decimal("12345.60"), "USD", None)

        i1, i2 = session.get(Interaction, "I1"), session.get(Interaction, "I2")
        assert i1 is not None and i2 is not None
        assert i1.occurred_at == datetime(2026, 2, 27, 1, 30, tzinfo=UTC)  # 09:30 Asia/Shanghai
        assert i1.channel == "phone" and "13812345678" not in i1.content
        assert (i2.channel, i2.occurred_at) == ("import", datetime(2026, 2, 27, 10, 0, tzinfo=UTC))
        task = session.scalars(select(FollowUp)).one()
        assert (task.interaction_id, task.staff_id, task.customer_id) == ("I1", "S1", "C1")
        assert (task.due_on, task.status) == (date(2026, 3, 5), "open")
        assert task.summary == i1.content[:60]


def test_report(store: Store, tmp_path: Path) -> None:
    report = import_file(store, "branches", write_csv(tmp_path / "b.csv", BRANCHES))
    assert (report.kind, report.file, report.rows, report.inserted_or_updated) == (
        "branches", "b.csv", 2, 2,
    )  # fmt: skip
    assert not report.dry_run


def test_csv_with_bom(store: Store, tmp_path: Path) -> None:
    import_file(store, "branches", write_csv(tmp_path / "bom.csv", BRANCHES, bom=True))
    assert count(store, Branch) == 2


def test_xlsx(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    customers = write_xlsx(
        tmp_path / "customers.xlsx",
        CUSTOMER_HEADER,
        [
            ["C1", "张伟", "S1", "SZ01", "VIP", date(1975, 8, 15), "solar", 13812345678,
             "440301197508151234", "C2", 1234.5, None],
            [1002, "陈静", "S2", "SZ01", "regular", datetime(1990, 2, 28), None, None, None, None,
             1000000, "a;b"],
        ],
    )  # fmt: skip
    assert import_file(store, "customers", customers).rows == 2
    holdings = write_xlsx(
        tmp_path / "holdings.xlsx",
        HOLDINGS[0],
        [["H1", "C1", "fund", "基金", 100, None, datetime(2024, 1, 1), date(2025, 1, 1)]],
    )
    import_file(store, "holdings", holdings)
    notes = write_xlsx(
        tmp_path / "notes.xlsx",
        INTERACTIONS[0],
        [["I1", "1002", "S2", datetime(2026, 2, 27, 9, 30), None, "回访", date(2026, 3, 9)]],
    )
    import_file(store, "interactions", notes)
    with store.db.read() as session:
        c1, c2 = session.get(Customer, "C1"), session.get(Customer, "1002")
        assert c1 is not None and c2 is not None
        assert (c1.segment, c1.birth_month, c1.aum, c1.phone_last4) == (
            "vip",
            8,
            Decimal("1234.50"),
            "5678",
        )
        assert (c2.aum, c2.tags) == (Decimal("1000000.00"), "a;b")
        holding = session.get(Holding, "H1")
        assert holding is not None and holding.start_date == date(2024, 1, 1)
        note = session.get(Interaction, "I1")
        assert note is not None and note.occurred_at == datetime(2026, 2, 27, 1, 30, tzinfo=UTC)
    assert count(store, FollowUp) == 1


def test_reimport_changes_nothing(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff", "customers", "holdings", "interactions")
    before = snapshot(store)
    for kind in ("branches", "staff", "customers", "holdings", "interactions"):
        report = import_file(store, kind, tmp_path / f"{kind}.csv", now=LATER)
        assert report.inserted_or_updated == 0, kind
    assert snapshot(store) == before  # ciphertext, updated_at, bound_at and follow-ups included


def test_changed_row_is_updated(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff", "customers")
    with store.db.read() as session:
        old_phone = session.scalars(select(Customer.phone_enc).where(Customer.id == "C1")).one()
    header, rows = CUSTOMERS
    changed = [row.copy() for row in rows]
    changed[1][4] = "vip"  # C2 becomes a VIP
    report = import_file(
        store, "customers", write_csv(tmp_path / "c2.csv", (header, changed)), now=LATER
    )
    assert report.inserted_or_updated == 1
    with store.db.read() as session:
        stamps = dict(session.execute(select(Customer.id, Customer.updated_at)).tuples().all())
        assert stamps == {"C1": NOW, "C2": LATER, "C3": NOW}
        assert session.scalars(select(Customer.segment).where(Customer.id == "C2")).one() == "vip"
        assert (
            session.scalars(select(Customer.phone_enc).where(Customer.id == "C1")).one()
            == old_phone
        )


def test_unknown_and_missing_columns(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "b.csv", (["branch_id", "name", "colour"], [["B", "b", "red"]]))
    assert rejected(store, "branches", path) == ["b.csv:1: colour: unknown column"]
    path = write_csv(tmp_path / "s.csv", (["staff_id", "name", "branch_id"], [["S", "s", ""]]))
    assert rejected(store, "staff", path) == ["s.csv:1: role: missing column"]
    assert count(store, Branch) == 0


def test_bad_values_are_all_reported_and_nothing_written(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    good = [
        "C1",
        "张伟",
        "S1",
        "SZ01",
        "vip",
        "1975-08-15",
        "solar",
        "13812345678",
        "",
        "C3",
        "10",
        "",
    ]

    def variant(**changes: str) -> list[str]:
        row = good.copy()
        for column, value in changes.items():
            row[CUSTOMER_HEADER.index(column)] = value
        return row

    rows = [
        good,
        variant(customer_id="C2", phone="12345"),
        variant(customer_id="C3", segment="gold"),
        variant(customer_id="C4", birthday="1990-02-30"),
        variant(customer_id="C5", risk_level="C9", aum="-5"),
        variant(customer_id="C6", aum="1.005", birthday_calendar="lunar", birthday="1975-13-01"),
        variant(customer_id="C7", id_number="12345", name=""),
        variant(customer_id="C8", birthday="15/08/1975", aum="lots"),
    ]
    errors = rejected(store, "customers", write_csv(tmp_path / "name.csv", (CUSTOMER_HEADER, rows)))
    assert errors == [
        "name.csv:3: phone: not a mainland mobile number (11 digits starting 13-19)",
        'name.csv:4: segment: "gold" is not one of vip, regular, prospect',
        "name.csv:5: birthday: not a real date",
        'name.csv:6: risk_level: "C9" is not one of C1, C2, C3, C4, C5',
        "name.csv:6: aum: must be >= 0",
        "name.csv:7: aum: more than 2 decimal places",
        "name.csv:8: name: required",
        "name.csv:8: id_number: not an 18-character ID number (17 digits and a digit or X)",
        'name.csv:9: birthday: "15/08/1975" is not a date (YYYY-MM-DD or MM-DD)',
        'name.csv:9: aum: "lots" is not an amount',
    ]
    assert all("12345" not in line for line in errors if "phone" in line or "id_number" in line)
    assert count(store, Customer) == 0
    # C6's lunar month 13 is reported once its amount is fixed
    fixed = [variant(customer_id="C6", birthday_calendar="lunar", birthday="1975-13-01")]
    errors = rejected(store, "customers", write_csv(tmp_path / "l.csv", (CUSTOMER_HEADER, fixed)))
    assert errors == ["l.csv:2: birthday: not a lunar date (month 1-12, day 1-30)"]


def test_bad_holding_values(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff", "customers")
    rows = [
        ["H1", "C1", "stocks", "x", "abc", "CNYY", "2024-13-01", "2023-01-01"],
        ["H2", "C1", "fund", "x", "", "", "2024-02-01", "2024-01-01"],
    ]
    errors = rejected(store, "holdings", write_csv(tmp_path / "h.csv", (HOLDINGS[0], rows)))
    assert errors == [
        'h.csv:2: product_type: "stocks" is not one of time_deposit, large_cd, '
        "wealth_management, fund, insurance, loan",
        'h.csv:2: amount: "abc" is not an amount',
        'h.csv:2: currency: "CNYY" is not a 3-letter currency code',
        'h.csv:2: start_date: "2024-13-01" is not a real date',
        "h.csv:3: amount: required",
    ]
    rows = [["H2", "C1", "fund", "x", "1", "", "2024-02-01", "2024-01-01"]]
    errors = rejected(store, "holdings", write_csv(tmp_path / "h2.csv", (HOLDINGS[0], rows)))
    assert errors == ["h2.csv:2: maturity_date: before start_date"]
    assert count(store, Holding) == 0


def test_a_bad_row_late_in_a_large_file_writes_nothing(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    rows = [
        [f"C{n:05d}", "客户", "S1", "SZ01", "regular", "", "", f"138{n:08d}", "", "", "", ""]
        for n in range(3_000)
    ]
    rows[2_990][7] = "999"
    errors = rejected(store, "customers", write_csv(tmp_path / "big.csv", (CUSTOMER_HEADER, rows)))
    assert errors == [
        "big.csv:2992: phone: not a mainland mobile number (11 digits starting 13-19)"
    ]
    assert count(store, Customer) == 0


def test_a_failure_while_writing_rolls_everything_back(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm_store.importer import upsert, writers

    load(store, tmp_path, "branches", "staff")
    rows = [
        [f"C{n:05d}", "客户", "S1", "SZ01", "vip", "", "", "", "", "", "", ""] for n in range(3_000)
    ]
    real_write_table = writers.write_table

    def write_then_fail(*args: Any, **kwargs: Any) -> None:
        real_write_table(*args, **kwargs)  # six batches of 500 reach the database...
        raise RuntimeError("disk full")  # ...and then something goes wrong

    monkeypatch.setattr(upsert, "BATCH", 500)
    monkeypatch.setattr(writers, "write_table", write_then_fail)
    with pytest.raises(RuntimeError):
        import_file(store, "customers", write_csv(tmp_path / "c.csv", (CUSTOMER_HEADER, rows)))
    assert count(store, Customer) == 0


def test_error_list_is_capped(store: Store, tmp_path: Path) -> None:
    rows = [[f"B{n}", "", ""] for n in range(250)]
    errors = rejected(store, "branches", write_csv(tmp_path / "b.csv", (BRANCHES[0], rows)))
    assert len(errors) == 201 and errors[0] == "b.csv:2: name: required"
    assert errors[-1] == "... and 50 more"


def test_dangling_references(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff", "customers")
    rows = [["C9", "某人", "S404", "SZ01", "vip", "", "", "", "", "", "", ""],
            ["C10", "某人", "S1", "NOWHERE", "vip", "", "", "", "", "", "", ""]]  # fmt: skip
    errors = rejected(store, "customers", write_csv(tmp_path / "c.csv", (CUSTOMER_HEADER, rows)))
    assert errors == [
        'c.csv:2: owner_staff_id: unknown staff "S404"',
        'c.csv:3: branch_id: unknown branch "NOWHERE"',
    ]
    rows = [["H1", "C404", "fund", "x", "1", "", "", ""]]
    errors = rejected(store, "holdings", write_csv(tmp_path / "h.csv", (HOLDINGS[0], rows)))
    assert errors == ['h.csv:2: customer_id: unknown customer "C404"']
    rows = [["I1", "C1", "S404", "2026-01-01", "", "x", ""]]
    errors = rejected(store, "interactions", write_csv(tmp_path / "i.csv", (INTERACTIONS[0], rows)))
    assert errors == ['i.csv:2: staff_id: unknown staff "S404"']
    rows = [["S9", "x", "rm", "NOWHERE", "", "", "", ""]]
    errors = rejected(store, "staff", write_csv(tmp_path / "s.csv", (STAFF[0], rows)))
    assert errors == ['s.csv:2: branch_id: unknown branch "NOWHERE"']
    assert count(store, Customer) == 3 and count(store, Staff) == 3


def test_branch_cycles(store: Store, tmp_path: Path) -> None:
    rows = [["A", "a", "B"], ["B", "b", "A"], ["C", "c", "C"], ["D", "d", "A"]]
    errors = rejected(store, "branches", write_csv(tmp_path / "b.csv", (BRANCHES[0], rows)))
    assert errors == [
        "b.csv:2: parent_id: cycle A -> B -> A",
        "b.csv:3: parent_id: cycle B -> A -> B",
        "b.csv:4: parent_id: cycle C -> C",
    ]
    load(store, tmp_path, "branches")  # SZ01 -> SZ in the database
    rows = [["SZ", "深圳分行", "SZ01"]]
    errors = rejected(store, "branches", write_csv(tmp_path / "b2.csv", (BRANCHES[0], rows)))
    assert errors == ["b2.csv:2: parent_id: cycle SZ -> SZ01 -> SZ"]


def test_duplicate_ids_and_identity_conflicts(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff")
    rows = [
        ["S7", "a", "rm", "SZ01", "", "lijingli", "", ""],  # WeCom id of S1 in the database
        ["S8", "b", "rm", "SZ01", "", "new.one", "42", ""],
        ["S9", "c", "rm", "SZ01", "", "", "42", ""],  # the same Telegram id as S8
        ["S8", "b", "rm", "SZ01", "", "", "", ""],
    ]
    errors = rejected(store, "staff", write_csv(tmp_path / "s.csv", (STAFF[0], rows)))
    assert errors == [
        's.csv:2: wecom_userid: "lijingli" is already bound to staff S1',
        's.csv:4: telegram_user_id: "42" is also given to staff S8 (row 3)',
        's.csv:5: staff_id: duplicate id "S8" (first on row 3)',
    ]


def test_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "branches.csv", BRANCHES)
    report = import_file(store, "branches", path, dry_run=True)
    assert report.dry_run and report.rows == 2 and report.inserted_or_updated == 0
    assert count(store, Branch) == 0
    staff = write_csv(tmp_path / "staff.csv", STAFF)
    assert (
        rejected(store, "staff", staff, dry_run=True)[0]
        == 'staff.csv:2: branch_id: unknown branch "SZ01"'
    )
    load(store, tmp_path, "branches")
    assert import_file(store, "staff", staff, dry_run=True).rows == 3
    assert (
        count(store, Staff) == 0 and count(store, Team) == 0 and count(store, ChannelIdentity) == 0
    )


def test_followup_opened_once_and_never_reopened(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff", "customers", "interactions")
    import_file(store, "interactions", tmp_path / "interactions.csv", now=LATER)
    with store.db.read() as session:
        task = session.scalars(select(FollowUp)).one()
        assert (task.status, task.due_on, task.created_at) == ("open", date(2026, 3, 5), NOW)
    header, rows = INTERACTIONS
    moved = [row.copy() for row in rows]
    moved[0][6] = "2026-03-10"
    import_file(store, "interactions", write_csv(tmp_path / "moved.csv", (header, moved)))
    with store.db.read() as session:
        assert session.scalars(select(FollowUp.due_on)).one() == date(2026, 3, 10)
    with store.db.write() as session:
        session.execute(update(FollowUp).values(status="done", closed_at=LATER))
    moved[0][6] = "2026-04-01"
    moved[0][5] = "改了内容"
    import_file(store, "interactions", write_csv(tmp_path / "again.csv", (header, moved)))
    with store.db.read() as session:
        task = session.scalars(select(FollowUp)).one()
        assert (task.status, task.due_on) == ("done", date(2026, 3, 10))
        assert (
            session.scalars(select(Interaction.content).where(Interaction.id == "I1")).one()
            == "改了内容"
        )


def test_a_customer_moved_by_import_takes_its_followups_along(store: Store, tmp_path: Path) -> None:
    # The planner reads the owner from the follow-up; the import's upsert must keep it true.
    load(store, tmp_path, "branches", "staff", "customers", "interactions")
    with store.db.read() as session:
        assert session.scalars(select(FollowUp.owner_staff_id)).one() == "S1"
    header, rows = CUSTOMERS
    moved = [row.copy() for row in rows]
    moved[0][2] = "S2"  # C1 (with the open follow-up) goes to S2
    import_file(store, "customers", write_csv(tmp_path / "moved.csv", (header, moved)), now=LATER)
    with store.db.read() as session:
        assert session.scalars(select(FollowUp.owner_staff_id)).one() == "S2"


@pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)
def test_no_plaintext_personal_numbers_on_disk(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, "branches", "staff", "customers")
    db_file = Path(store.settings.db_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in (db_file, Path(f"{db_file}-wal")) if p.exists())
    assert len(raw) > 0 and "张伟".encode() in raw  # the names are there, in plain UTF-8
    for secret in ("13812345678", "13900001111", "44030119750815123X", "44030119750815123x"):
        assert secret.encode() not in raw
        assert secret.encode("utf-16-le") not in raw
    with store.db.engine.connect() as conn:  # the import's larger page cache was given back
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -2000


def test_unreadable_inputs(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "b.csv", BRANCHES)
    assert rejected(store, "bankers", path) == [
        'unknown kind "bankers" (use one of branches, staff, customers, holdings, interactions)'
    ]
    (tmp_path / "b.doc").write_text("branch_id\n")
    assert rejected(store, "branches", tmp_path / "b.doc") == [
        'b.doc: unsupported file type ".doc" (use .csv, .tsv, .txt or .xlsx)'
    ]
    assert rejected(store, "branches", tmp_path / "none.csv") == ["none.csv: no such file"]
    (tmp_path / "empty.csv").write_bytes(b"")
    assert rejected(store, "branches", tmp_path / "empty.csv") == ["empty.csv: empty file"]
    (tmp_path / "header.csv").write_text("branch_id,name\n\n")
    assert rejected(store, "branches", tmp_path / "header.csv") == [
        "header.csv: no data rows below the header"
    ]
    (tmp_path / "latin.csv").write_bytes("branch_id,name\nB1,caf\xe9\n".encode("latin-1"))
    assert rejected(store, "branches", tmp_path / "latin.csv") == [
        "latin.csv: not text in UTF-8, UTF-16 (with BOM) or GB18030/GBK; save it as one"
    ]
    (tmp_path / "fake.xlsx").write_text("not a workbook")
    assert rejected(store, "branches", tmp_path / "fake.xlsx")[0].startswith(
        "fake.xlsx: not a readable .xlsx file"
    )
    (tmp_path / "wide.csv").write_text("branch_id,name\nB1,b,extra\n")
    assert rejected(store, "branches", tmp_path / "wide.csv") == [
        "wide.csv:2: (extra cells): more cells than header columns"
    ]


def test_progress_bar_on_large_files(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import crm_store.importer as importer

    monkeypatch.setattr(importer, "PROGRESS_MIN_ROWS", 1)
    import_file(store, "branches", write_csv(tmp_path / "b.csv", BRANCHES), progress=True)
    assert "b.csv" in capsys.readouterr().err
    import_file(store, "branches", write_csv(tmp_path / "c.csv", BRANCHES))  # silent by default
    assert capsys.readouterr().err == ""
