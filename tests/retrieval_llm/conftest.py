"""Fixtures for the LLM layer: a loopback OpenAI-compatible stub and models pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel

from retrieval.llm import LlmSettings, make_chat_model
from tests.retrieval_llm.stub_llm import StubLLM

ModelFactory = Callable[..., BaseChatModel]


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    """A running stub server, stopped after the test."""
    server = StubLLM().start()
    yield server
    server.stop()


def llm_settings(**values: Any) -> LlmSettings:
    """LLM settings from explicit values only: nothing from the environment's `.env`."""
    return LlmSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def chat_model(stub: StubLLM) -> ModelFactory:
    """A real `ChatOpenAI` for the stub, its behaviour picked by the model name."""

    def make(mode: str, *, timeout: float = 5.0, retries: int = 0) -> BaseChatModel:
        settings = llm_settings(
            LLM_BASE_URL=stub.url,
            LLM_MODEL=f"stub-{mode}",
            LLM_API_KEY="test-key",
            LLM_TIMEOUT_SECONDS=timeout,
            LLM_MAX_RETRIES=retries,
        )
        model = make_chat_model(settings)
        assert model is not None
        return model

    return make
