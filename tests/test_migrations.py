"""Migrations that move data: down and up again on a database of its own, on both engines."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Date, column, select, table

from crm_store import schema
from crm_store.crypto import FieldCipher, decode_key
from crm_store.db import Database, make_engine
from crm_store.models import FollowUp, PlanRun, UtcDateTime
from crm_store.store import Store
from tests.conftest import TEST_KEY, make_settings, scratch_pg_database
from tests.scheduler.helpers import add_followup
from tests.world import build_world


@pytest.fixture
def own_url(engine_name: str, tmp_path: Path) -> Iterator[str]:
    """An empty database nobody else uses (migrating it down must not touch the shared one)."""
    if engine_name == "sqlite":
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with scratch_pg_database(f"bankbot_migrations_{worker}_{os.getpid()}") as url:
        yield url


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    engine = make_engine(url)
    config = schema.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
    engine.dispose()


def test_followup_owner_is_filled_in_for_existing_rows(own_url: str, tmp_path: Path) -> None:
    migrate(own_url, "head")
    settings = make_settings(tmp_path, own_url)
    store = Store(settings, Database(make_engine(own_url)), FieldCipher(decode_key(TEST_KEY)))
    build_world(store)
    first = add_followup(store, "c5", "rm1", date(2026, 11, 20), "rm1 的客户")
    second = add_followup(store, "c6", "rm9", date(2026, 11, 21), "rm9 的客户")
    store.db.dispose()

    migrate(own_url, "0005", down=True)  # the column and its triggers are gone...
    migrate(own_url, "head")  # ...and come back, filled in for the rows already there
    store = Store(settings, Database(make_engine(own_url)), FieldCipher(decode_key(TEST_KEY)))
    with store.db.read() as s:
        owners = dict(s.execute(select(FollowUp.id, FollowUp.owner_staff_id)).tuples().all())
    assert owners == {first: "rm1", second: "rm9"}
    third = add_followup(store, "c8", "rm2", date(2026, 11, 22), "触发器仍在")
    with store.db.read() as s:
        assert s.get(FollowUp, third).owner_staff_id == "rm2"  # type: ignore[union-attr]
    store.db.dispose()


def test_plans_made_before_0008_count_as_opened(own_url: str, tmp_path: Path) -> None:
    migrate(own_url, "0007")
    planned_at = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
    engine = make_engine(own_url)
    with engine.begin() as conn:  # as the planner before 0008 wrote it, digests included
        old_run = table(
            "reminder_plan_run",
            column("business_date", Date),
            column("planned_at", UtcDateTime()),
        )
        conn.execute(
            old_run.insert(), {"business_date": date(2026, 11, 27), "planned_at": planned_at}
        )
    engine.dispose()

    migrate(own_url, "head")

    settings = make_settings(tmp_path, own_url)
    store = Store(settings, Database(make_engine(own_url)), FieldCipher(decode_key(TEST_KEY)))
    with store.db.read() as s:
        run = s.get(PlanRun, date(2026, 11, 27))
    assert run is not None and not run.late and run.digests_opened_at == planned_at
    store.db.dispose()
