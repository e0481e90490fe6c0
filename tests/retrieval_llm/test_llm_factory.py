"""The chat model factory: no LLM by default, one OpenAI-compatible client otherwise."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr, ValidationError

from retrieval.llm import NO_KEY, make_chat_model, model_name
from tests.retrieval_llm.conftest import llm_settings


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "LLM_ALLOWED_LINK_HOSTS"):
        monkeypatch.delenv(name, raising=False)


def test_no_base_url_means_no_llm() -> None:
    assert make_chat_model(llm_settings()) is None
    assert make_chat_model(llm_settings(LLM_BASE_URL="  ", LLM_MODEL="")) is None
    assert model_name(None) is None


def test_a_base_url_needs_a_model_and_an_http_scheme() -> None:
    with pytest.raises(ValidationError, match="LLM_MODEL is required"):
        llm_settings(LLM_BASE_URL="http://127.0.0.1:11434/v1")
    with pytest.raises(ValidationError, match="http"):
        llm_settings(LLM_BASE_URL="127.0.0.1:8080", LLM_MODEL="m")


def test_configured_model_is_one_openai_compatible_client() -> None:
    settings = llm_settings(
        LLM_BASE_URL="http://127.0.0.1:8080/v1/",
        LLM_MODEL="qwen2.5-7b-instruct",
        LLM_TIMEOUT_SECONDS="7.5",
        LLM_MAX_RETRIES="2",
    )
    model = make_chat_model(settings)
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://127.0.0.1:8080/v1"
    assert model.model_name == model_name(model) == "qwen2.5-7b-instruct"
    assert model.request_timeout == 7.5 and model.max_retries == 2
    assert model.use_responses_api is False
    assert isinstance(model.openai_api_key, SecretStr)
    assert model.openai_api_key.get_secret_value() == NO_KEY  # local servers need no key


def test_defaults_and_allowed_hosts() -> None:
    settings = llm_settings(LLM_ALLOWED_LINK_HOSTS=" Bank.Example.com., ,intranet.bank ")
    assert settings.llm_timeout_seconds == 20 and settings.llm_max_retries == 1
    assert settings.allowed_link_hosts == frozenset({"bank.example.com", "intranet.bank"})
    assert llm_settings().allowed_link_hosts == frozenset()
