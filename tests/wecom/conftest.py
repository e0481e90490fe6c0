"""Fixtures for the WeCom tests: the fake API on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.wecom.fakes import FakeWeCom


@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    """A fake WeCom API, serving until the test ends."""
    server = FakeWeCom().start()
    yield server
    server.stop()
