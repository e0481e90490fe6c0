"""`bankbot export`: the round trip of import, masked unless revealed by an admin (audited),
formulas neutralised. On both engines."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from crm_store.cells import neutralised, restored
from crm_store.importer import import_file
from crm_store.models import AuditLog
from crm_store.settings import Settings
from crm_store.store import Store, open_store
from tests.test_cli import env_for
from tests.test_importer import (
    BRANCHES,
    CUSTOMER_HEADER,
    CUSTOMERS,
    HOLDINGS,
    INTERACTIONS,
    NOW,
    STAFF,
    rejected,
    snapshot,
    write_csv,
)

runner = CliRunner()
KINDS = ("branches", "staff", "customers", "holdings", "interactions")
ADMIN = ["S9", "管理员", "admin", "SZ", "", "", "", ""]
FORMULA = '=HYPERLINK("http://evil.example","点我")'


@pytest.mark.parametrize(
    "cell", ["=1+1", "+86", "-5", "@SUM(A1)", "'=x", "''+y", "'plain", "plain", "", "a=b"]
)
def test_neutralising_is_reversed_exactly(cell: str) -> None:
    assert neutralised(cell)[:1] not in ("=", "+", "-", "@")
    assert restored(neutralised(cell)) == cell


def bank(settings: Settings, tmp_path: Path) -> Store:
    """The importer's sample bank plus an admin, and a customer named like a formula."""
    store = open_store(settings)
    customers = [list(row) for row in CUSTOMERS[1]]
    customers[2][1] = FORMULA
    customers[1][11] = "-VIP;@团队"
    staff = [*STAFF[1], ADMIN]
    tables = {
        "branches": BRANCHES,
        "staff": (STAFF[0], staff),
        "customers": (CUSTOMER_HEADER, customers),
        "holdings": HOLDINGS,
        "interactions": INTERACTIONS,
    }
    for kind in KINDS:
        import_file(store, kind, write_csv(tmp_path / f"in-{kind}.csv", tables[kind]), now=NOW)
    return store


def export(settings: Settings, *args: str) -> str:
    result = runner.invoke(app, ["export", *args], env=env_for(settings))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_round_trip_gives_identical_data(settings: Settings, tmp_path: Path) -> None:
    store = bank(settings, tmp_path)
    before = snapshot(store)
    store.close()
    files: dict[str, Path] = {}
    for kind in KINDS:
        files[kind] = tmp_path / f"out-{kind}.csv"
        args = [kind, "--out", str(files[kind])]
        if kind == "customers":
            args += ["--reveal", "--as", "S9"]
        export(settings, *args)
    xlsx = tmp_path / "out-customers.xlsx"
    export(settings, "customers", "--format", "xlsx", "--out", str(xlsx), "--reveal", "--as", "S9")
    store = open_store(settings)
    try:
        for kind in KINDS:
            report = import_file(store, kind, files[kind])
            assert (report.inserted, report.updated, report.unchanged) == (0, 0, report.rows), kind
        again = import_file(store, "customers", xlsx)
        assert (again.updated, again.unchanged) == (0, 3)
        after = snapshot(store)
        assert {t: rows for t, rows in after.items() if t != "audit_log"} == {
            t: rows for t, rows in before.items() if t != "audit_log"
        }
    finally:
        store.close()
    assert stat.S_IMODE(files["customers"].stat().st_mode) == 0o600
    assert files["customers"].read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8


def test_masked_by_default_neutralised_and_audited(settings: Settings, tmp_path: Path) -> None:
    store = bank(settings, tmp_path)
    text = export(settings, "customers")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == CUSTOMER_HEADER
    c1, c2, c3 = rows[1:]
    assert c1[5:9] == ["08-15", "lunar", "138****5678", "**************123X"]
    assert "13812345678" not in text and "44030119750815123X" not in text
    assert c3[1] == "'" + FORMULA and c2[11] == "'-VIP;@团队"
    # A masked number never replaces a stored one: the import refuses it.
    masked = tmp_path / "masked.csv"
    masked.write_text(text, encoding="utf-8")
    assert rejected(store, "customers", masked) == [
        "masked.csv:2: phone: a masked number; export with --reveal to import numbers again",
        "masked.csv:2: id_number: a masked number; export with --reveal to import numbers again",
        "masked.csv:3: phone: a masked number; export with --reveal to import numbers again",
    ]
    with store.db.read() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.intent == "export")).one()
    store.close()
    assert (audit.actor_staff_id, audit.customer_ids, audit.text_masked) == (
        None, "C1,C2,C3", "export customers",
    )  # fmt: skip
    xlsx = tmp_path / "c.xlsx"
    export(settings, "customers", "--format", "xlsx", "--out", str(xlsx))
    sheet = load_workbook(xlsx).worksheets[0]
    assert sheet["B4"].value == "'" + FORMULA and sheet["B4"].data_type == "s"


def test_reveal_is_for_active_admins_only(settings: Settings, tmp_path: Path) -> None:
    bank(settings, tmp_path).close()
    env = env_for(settings)
    for args, message in (
        (["--reveal"], "error: --reveal needs --as STAFF, the id of an active admin"),
        (["--reveal", "--as", "S1"], "error: S1 is not an active admin"),
        (["--reveal", "--as", "S404"], "error: S404 is not an active admin"),
        (["--format", "xlsx"], "error: --format xlsx needs --out FILE"),
        (["--format", "pdf"], "error: unknown format 'pdf'; use csv or xlsx"),
    ):
        result = runner.invoke(app, ["export", "customers", *args], env=env)
        assert result.exit_code != 0 and result.stderr.startswith(message), args
        assert result.stdout == ""
    revealed = export(settings, "customers", "--reveal", "--as", "S9")
    assert "13812345678" in revealed and "44030119750815123X" in revealed
    store = open_store(settings)
    with store.db.read() as s:
        audits = s.scalars(select(AuditLog).where(AuditLog.intent == "export")).all()
    store.close()
    assert [(a.actor_staff_id, a.text_masked) for a in audits] == [
        ("S9", "export customers --reveal")
    ]
