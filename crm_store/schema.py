"""Create or upgrade the schema with Alembic; safe to run any number of times.

Alembic loads only to upgrade. Checking that the schema is current (every command does it)
reads the revision ids from the migration files' headers: importing alembic cost a CLI
start 0.15-0.3 s.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
_HEADER = re.compile(r"^(revision|down_revision)\b[^=]*=\s*(?:[\"']([\w-]+)[\"']|None)", re.M)


def alembic_config() -> Config:
    """An Alembic config pointing at our migrations folder (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision: the one no other migration names as its down_revision."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((m.group(1), m.group(2)) for m in _HEADER.finditer(path.read_text("utf-8")))
        if found.get("revision"):
            revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must have one head, not {sorted(heads)}")
    return heads.pop()


def is_current(engine: Engine) -> bool:
    """Whether the schema exists and is at the newest revision."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return False
        current = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    return len(current) == 1 and current[0][0] == head_revision()
