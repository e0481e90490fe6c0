"""Settings read from the environment and `.env` (one class for the whole app)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything bankbot reads from its environment; `.env.example` documents each."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    bankbot_home: Path = Field(default=Path("./var"), alias="BANKBOT_HOME")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    bankbot_data_key: SecretStr | None = Field(default=None, alias="BANKBOT_DATA_KEY")
    business_tz: str = Field(default="Asia/Shanghai", alias="BUSINESS_TZ")
    bankbot_lang: Literal["zh", "en"] = Field(default="zh", alias="BANKBOT_LANG")
    sqlite_busy_timeout_ms: int = Field(default=30_000, alias="SQLITE_BUSY_TIMEOUT_MS")

    @field_validator("database_url", "bankbot_data_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `.env.example` copies carry empty values: they mean "use the default".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("business_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def home(self) -> Path:
        """The data folder, absolute."""
        return self.bankbot_home.expanduser().resolve()

    @property
    def db_url(self) -> str:
        """The database URL; the embedded default is SQLite inside the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'bankbot.db'}"

    @property
    def key_file(self) -> Path:
        """Where `bankbot init` keeps a generated data key on the embedded default."""
        return self.home / "data.key"

    @property
    def tz(self) -> ZoneInfo:
        """The business time zone."""
        return ZoneInfo(self.business_tz)
