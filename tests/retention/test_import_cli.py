"""`bankbot import customers PATH --as-of D`: the AUM history is dated D; a bad date is one line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from crm_store.models import CustomerAumHistory
from crm_store.settings import Settings
from crm_store.store import open_store
from tests.test_cli import env_for
from tests.test_importer import BRANCHES, CUSTOMERS, STAFF, write_csv

runner = CliRunner()


def test_import_as_of_dates_the_aum_row(settings: Settings, tmp_path: Path) -> None:
    env = env_for(settings)
    for kind, table in (("branches", BRANCHES), ("staff", STAFF)):
        path = write_csv(tmp_path / f"{kind}.csv", table)
        assert runner.invoke(app, ["import", kind, str(path)], env=env).exit_code == 0
    path = write_csv(tmp_path / "customers.csv", CUSTOMERS)
    done = runner.invoke(app, ["import", "customers", str(path), "--as-of", "2026-10-31"], env=env)
    assert done.exit_code == 0, done.output
    store = open_store(settings)
    with store.db.read() as s:
        rows = s.execute(select(CustomerAumHistory.as_of, CustomerAumHistory.aum)).all()
    store.close()
    assert sorted((d, Decimal(a)) for d, a in rows) == [
        (date(2026, 10, 31), Decimal("0.00")),
        (date(2026, 10, 31), Decimal("1000000.00")),
    ]
    bad = runner.invoke(app, ["import", "customers", str(path), "--as-of", "31/10"], env=env)
    assert bad.exit_code != 0 and "--as-of" in bad.stderr and "Traceback" not in bad.output
    assert len(bad.stderr.strip().splitlines()) == 1
