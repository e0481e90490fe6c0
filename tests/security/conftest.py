"""Fixtures for the adversarial tables: the real index (Chroma + bundled model) and LLM stub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.retrieval.conftest import e5, index  # noqa: F401  (fixtures, re-used here)
from tests.retrieval_llm.stub_llm import StubLLM


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    """The loopback OpenAI-compatible stub, recording every request it gets."""
    server = StubLLM().start()
    yield server
    server.stop()
