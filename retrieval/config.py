"""Index settings: where Chroma lives and which embeddings fill it.

Read like `crm_store.settings.Settings` (environment, then `.env`); the data folder comes from
the main settings so both always agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_store.settings import Settings


class IndexSettings(BaseSettings):
    """CHROMA_URL and the optional OpenAI-compatible embeddings (`.env.example` lists them)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    chroma_url: str | None = Field(default=None, alias="CHROMA_URL")
    embeddings_base_url: str | None = Field(default=None, alias="EMBEDDINGS_BASE_URL")
    embeddings_model: str | None = Field(default=None, alias="EMBEDDINGS_MODEL")
    embeddings_api_key: SecretStr | None = Field(default=None, alias="EMBEDDINGS_API_KEY")
    # float32, bfloat16 (half the memory, ~4x the ranking time) or auto: bfloat16 above 600k
    # notes, which keeps a process with 1M notes under 2 GB.
    vector_cache_precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto", alias="VECTOR_CACHE_PRECISION"
    )

    @field_validator(
        "chroma_url", "embeddings_base_url", "embeddings_model", "embeddings_api_key", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


def chroma_folder(settings: Settings) -> Path:
    """The embedded Chroma folder inside the data folder."""
    return settings.home / "chroma"
