"""The chat model factory: one OpenAI-compatible path, or no LLM at all (the default).

DeepSeek, Qwen (DashScope compatible mode), vLLM, Ollama and llama.cpp servers all speak the
OpenAI chat-completions protocol, so `LLM_BASE_URL` + `LLM_MODEL` (+ `LLM_API_KEY`) is all
it takes. Structured output always goes through function calling: llama.cpp's server
rejects `response_format` of type `json_schema` (see shared PITFALLS).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from retrieval.llm_gate import LlmGate

T = TypeVar("T")

# Local servers (Ollama, llama.cpp, vLLM without --api-key) need no key, but the OpenAI
# client refuses to start without one; any placeholder works there.
NO_KEY = "not-needed"


class LlmSettings(BaseSettings):
    """The LLM's settings, read from the environment and `.env` (all optional)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    llm_base_url: str | None = Field(default=None, alias="LLM_BASE_URL")
    llm_api_key: SecretStr | None = Field(default=None, alias="LLM_API_KEY")
    llm_model: str | None = Field(default=None, alias="LLM_MODEL")
    llm_timeout_seconds: float = Field(default=20.0, gt=0, le=600, alias="LLM_TIMEOUT_SECONDS")
    llm_max_retries: int = Field(default=1, ge=0, le=5, alias="LLM_MAX_RETRIES")
    # LLM requests in flight at once, for the whole process (retrieval/llm_gate.py); answers
    # beyond it wait for a free slot. vLLM batches dozens to hundreds of concurrent sequences
    # (its --max-num-seqs); hosted APIs limit requests and tokens per minute
    # rather than requests in flight. 32 is safe for both; raise it for a vLLM of your own.
    llm_max_concurrency: int = Field(default=32, ge=1, le=1024, alias="LLM_MAX_CONCURRENCY")
    # Comma-separated hosts whose links may appear in a reply (subdomains included).
    llm_allowed_link_hosts: str = Field(default="", alias="LLM_ALLOWED_LINK_HOSTS")

    @field_validator("llm_base_url", "llm_api_key", "llm_model", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `.env.example` copies carry empty values: they mean "no LLM".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("LLM_BASE_URL must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _model_named(self) -> LlmSettings:
        if self.llm_base_url and not self.llm_model:
            raise ValueError("LLM_MODEL is required when LLM_BASE_URL is set")
        return self

    @property
    def configured(self) -> bool:
        """An LLM is configured (otherwise answers are retrieval-only)."""
        return self.llm_base_url is not None

    @property
    def allowed_link_hosts(self) -> frozenset[str]:
        """Hosts whose links a reply may keep, lower-case."""
        hosts = (h.strip().lower().rstrip(".") for h in self.llm_allowed_link_hosts.split(","))
        return frozenset(h for h in hosts if h)


def make_chat_model(settings: LlmSettings | None = None) -> BaseChatModel | None:
    """The configured chat model, or None when `LLM_BASE_URL` is unset (no LLM)."""
    settings = settings if settings is not None else LlmSettings()
    if not settings.configured:
        return None
    from langchain_openai import ChatOpenAI  # imported only when an LLM is configured

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else NO_KEY
    options: dict[str, Any] = {
        "base_url": settings.llm_base_url,
        "api_key": SecretStr(key),
        "model": settings.llm_model,
        "timeout": settings.llm_timeout_seconds,
        "max_retries": settings.llm_max_retries,
        # Compatible servers implement /chat/completions only, never OpenAI's Responses API.
        "use_responses_api": False,
        "streaming": False,
    }
    return ChatOpenAI(**options)


def model_name(model: BaseChatModel | None) -> str | None:
    """The model's name as the server knows it (for the audit row), if any."""
    if model is None:
        return None
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


async def ask_model(gate: LlmGate | None, make: Callable[[], Awaitable[T]], timeout: float) -> T:
    """`make()` (one model call) through `gate`, or awaited here when there is none (a
    caller of its own, such as a test or an evaluation); TimeoutError past `timeout`."""
    if gate is None:
        return await asyncio.wait_for(make(), timeout)
    return await gate.call(make, timeout=timeout)
