"""Shared fixtures: every store test runs on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from crm_store import schema
from crm_store.crypto import FieldCipher, decode_key
from crm_store.db import Database, make_engine
from crm_store.models import Base
from crm_store.settings import Settings
from crm_store.store import Store

TEST_KEY = "q1Vh0mQ4cC0yCwZ6iY1a2b3c4d5e6f7g8h9i0j1k2l8="
PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENGINES = ("sqlite", "postgresql")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "bankbot.db"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test worker, dropped at the end."""
    # The pid keeps two test runs on one machine (a developer's and CI's) apart.
    with scratch_pg_database(f"bankbot_test_{_worker()}_{os.getpid()}") as url:
        engine = make_engine(url)
        schema.upgrade(engine)
        engine.dispose()
        yield url


@contextmanager
def scratch_pg_database(name: str) -> Iterator[str]:
    """An empty PostgreSQL database `name` (made afresh) for the block; dropped after it."""
    admin = make_url(PG_ADMIN_URL)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError as exc:  # the PostgreSQL half must run, never skip
        pytest.fail(f"PostgreSQL is not reachable at {admin.host}:{admin.port}: {exc}")
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_all(db: Database) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def make_settings(home: Path, url: str, **extra: str) -> Settings:
    """Settings for a test: nothing read from a developer's `.env`."""
    values = {"BANKBOT_HOME": str(home), "DATABASE_URL": url, "BANKBOT_DATA_KEY": TEST_KEY}
    # Churn warnings would add a reminder for nearly every test customer (none has notes):
    # only the retention tests turn them on.
    values["RETENTION_ENABLED"] = "false"
    values["TEAM_REPORT_WEEKLY"] = "false"  # likewise a Monday report for every manager
    return Settings(_env_file=None, **{**values, **extra})  # type: ignore[call-arg]


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    """Which database engine this test runs on."""
    return str(request.param)


@pytest.fixture
def db_url(engine_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of the requested engine."""
    if engine_name == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "bankbot.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    _truncate_all(Database(engine))
    engine.dispose()
    return url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test database and a temp data folder."""
    return make_settings(tmp_path, db_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """An open store on an empty database."""
    db = Database(make_engine(settings.db_url))
    yield Store(settings, db, FieldCipher(decode_key(TEST_KEY)))
    db.dispose()
