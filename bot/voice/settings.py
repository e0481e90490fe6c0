"""The speech-recognition settings (all optional: without a server voice gets a polite reply)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Product words that bias recognition towards the bank's vocabulary; TRANSCRIBE_PRODUCT_WORDS
# replaces them with the bank's own.
PRODUCT_WORDS = "大额存单,定期存款,理财产品,基金,保险,贷款,信用卡,国债,到期,回访"
WECOM_MAX_SECONDS = 60  # WeCom's own limit on a voice message


class VoiceSettings(BaseSettings):
    """TRANSCRIBE_* and VOICE_*, read from the environment and `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    transcribe_base_url: str | None = Field(default=None, alias="TRANSCRIBE_BASE_URL")
    transcribe_model: str = Field(default="whisper-1", alias="TRANSCRIBE_MODEL")
    transcribe_api_key: SecretStr | None = Field(default=None, alias="TRANSCRIBE_API_KEY")
    transcribe_language: str = Field(default="zh", alias="TRANSCRIBE_LANGUAGE")
    transcribe_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, alias="TRANSCRIBE_TIMEOUT_SECONDS"
    )
    transcribe_product_words: str = Field(default=PRODUCT_WORDS, alias="TRANSCRIBE_PRODUCT_WORDS")
    voice_max_seconds: int = Field(default=120, ge=1, le=3600, alias="VOICE_MAX_SECONDS")
    voice_max_bytes: int = Field(default=5_000_000, ge=1_000, alias="VOICE_MAX_BYTES")

    @field_validator("transcribe_base_url", "transcribe_api_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `.env.example` copies carry empty values: they mean "no speech recognition".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("transcribe_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("TRANSCRIBE_BASE_URL must start with http:// or https://")
        return value

    @property
    def configured(self) -> bool:
        """A speech-recognition server is set."""
        return self.transcribe_base_url is not None

    @property
    def product_words(self) -> list[str]:
        """The product words for the recognition prompt."""
        return [w.strip() for w in self.transcribe_product_words.split(",") if w.strip()]

    def max_seconds(self, channel: str) -> int:
        """The longest voice message taken on `channel`."""
        if channel == "wecom":
            return min(WECOM_MAX_SECONDS, self.voice_max_seconds)
        return self.voice_max_seconds
