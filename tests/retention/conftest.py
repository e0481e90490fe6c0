"""Retention tests run with churn warnings on (the shared fixtures turn them off)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_store.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test database, churn warnings on."""
    return make_settings(tmp_path, db_url, RETENTION_ENABLED="true", TEAM_REPORT_WEEKLY="true")
