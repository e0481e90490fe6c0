"""Settings read from the environment and `.env` (one class for the whole app)."""

from __future__ import annotations

from datetime import time
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
    # Longest message taken in, in characters; a longer one gets a short reply, nothing stored.
    max_message_chars: int = Field(
        default=4000, ge=100, le=100_000, alias="BANKBOT_MAX_MESSAGE_CHARS"
    )
    # WeCom self-built app (企业微信自建应用)
    wecom_corp_id: str | None = Field(default=None, alias="WECOM_CORP_ID")
    wecom_agent_id: int | None = Field(default=None, alias="WECOM_AGENT_ID")
    wecom_secret: SecretStr | None = Field(default=None, alias="WECOM_SECRET")
    wecom_token: SecretStr | None = Field(default=None, alias="WECOM_TOKEN")
    wecom_aes_key: SecretStr | None = Field(default=None, alias="WECOM_AES_KEY")
    wecom_api_base_url: str = Field(
        default="https://qyapi.weixin.qq.com", alias="WECOM_API_BASE_URL"
    )
    # Telegram
    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: SecretStr | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_api_base_url: str | None = Field(default=None, alias="TELEGRAM_API_BASE_URL")
    # Shared storage for several bot processes (access tokens); the database when unset.
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    # A message claimed by a process that died is taken again after this lease (bot/inbox.py).
    inbox_lease_seconds: int = Field(default=120, ge=5, le=3600, alias="INBOX_LEASE_SECONDS")
    # N: `serve` only acknowledges, and N processes of their own answer (bot/answer_worker.py);
    # above 1 needs CHROMA_URL (the embedded index is one process's). 0: `serve` answers in its
    # own process, where the answers' Python work holds the interpreter lock the acknowledging
    # loop needs (bench/bench_serve.py --paced: ack p99 6.8-25x its floor, 1.2-6.5x with one
    # answer process).
    answer_processes: int = Field(default=1, ge=0, le=16, alias="ANSWER_PROCESSES")
    # How much lower the answer processes' CPU priority is than serve's (nice increment): on a
    # busy machine the kernel then runs the acknowledging process first.
    answer_process_nice: int = Field(default=10, ge=0, le=19, alias="ANSWER_PROCESS_NICE")
    # Reminders (scheduler/)
    digest_time: str = Field(default="08:30", alias="REMINDER_DIGEST_TIME")
    birthday_leads: str = Field(default="3,0", alias="REMINDER_BIRTHDAY_LEADS")
    maturity_leads: str = Field(default="30,7,1", alias="REMINDER_MATURITY_LEADS")
    maturity_types: str = Field(
        default="time_deposit,large_cd,wealth_management,loan", alias="REMINDER_MATURITY_TYPES"
    )
    digest_on_non_working_days: bool = Field(default=False, alias="REMINDER_ON_NON_WORKING_DAYS")
    catchup_max_days: int = Field(default=7, ge=1, le=60, alias="REMINDER_CATCHUP_MAX_DAYS")
    send_lease_seconds: int = Field(default=300, ge=10, alias="REMINDER_SEND_LEASE_SECONDS")
    send_max_attempts: int = Field(default=5, ge=1, alias="REMINDER_SEND_MAX_ATTEMPTS")
    send_retry_base_seconds: int = Field(default=60, ge=1, alias="REMINDER_RETRY_BASE_SECONDS")
    # Churn warnings (crm_store/retention*.py); README "Retention" explains each rule.
    retention_enabled: bool = Field(default=True, alias="RETENTION_ENABLED")
    # Team leads, branch heads and compliance get a weekly report in Monday's digest.
    team_report_weekly: bool = Field(default=True, alias="TEAM_REPORT_WEEKLY")
    retention_large_amount: int = Field(default=500_000, ge=0, alias="RETENTION_LARGE_AMOUNT")
    retention_maturity_days: int = Field(default=14, ge=1, le=366, alias="RETENTION_MATURITY_DAYS")
    retention_quiet_days: int = Field(default=30, ge=1, le=366, alias="RETENTION_QUIET_DAYS")
    retention_aum_drop: float = Field(default=0.30, gt=0, lt=1, alias="RETENTION_AUM_DROP")
    retention_aum_days: int = Field(default=90, ge=1, le=3660, alias="RETENTION_AUM_DAYS")
    retention_cadence: str = Field(
        default="vip:30,regular:90,prospect:14", alias="RETENTION_CADENCE"
    )
    retention_complaint_days: int = Field(default=30, ge=1, alias="RETENTION_COMPLAINT_DAYS")
    retention_matured_days: int = Field(default=14, ge=1, alias="RETENTION_MATURED_DAYS")
    retention_snooze_days: int = Field(default=14, ge=0, alias="RETENTION_SNOOZE_DAYS")
    retention_followup_workdays: int = Field(
        default=2, ge=1, le=30, alias="RETENTION_FOLLOWUP_WORKDAYS"
    )
    # "console": every digest goes to the console delivery log (demo, tests). Unset: through
    # WeCom or Telegram only; a staff member bound on neither keeps an undeliverable digest.
    reminder_channel: Literal["console"] | None = Field(default=None, alias="REMINDER_CHANNEL")

    @field_validator(
        "database_url",
        "bankbot_data_key",
        "wecom_corp_id",
        "wecom_agent_id",
        "wecom_secret",
        "wecom_token",
        "wecom_aes_key",
        "telegram_bot_token",
        "telegram_webhook_secret",
        "telegram_api_base_url",
        "redis_url",
        "reminder_channel",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `.env.example` copies carry empty values: they mean "use the default".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("birthday_leads", "maturity_leads")
    @classmethod
    def _leads(cls, value: str) -> str:
        days = [int(x) for x in value.split(",") if x.strip()]  # ValueError -> bad setting
        if not days or any(d < 0 or d > 366 for d in days):
            raise ValueError("leads are days before the date, 0-366, comma separated")
        return value

    @field_validator("retention_cadence")
    @classmethod
    def _cadence(cls, value: str) -> str:
        days = _cadence_days(value)  # ValueError -> bad setting
        if set(days) != {"vip", "regular", "prospect"}:
            raise ValueError("give days for vip, regular and prospect, e.g. vip:30,regular:90")
        return value

    @field_validator("digest_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        time.fromisoformat(value)
        return value

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
    def wecom_configured(self) -> bool:
        """All five WeCom values are set."""
        values = (self.wecom_corp_id, self.wecom_agent_id, self.wecom_secret)
        return all(v is not None for v in (*values, self.wecom_token, self.wecom_aes_key))

    @property
    def telegram_configured(self) -> bool:
        """A bot token is set."""
        return self.telegram_bot_token is not None

    @property
    def digest_at(self) -> time:
        """Wall-clock time of the morning digest in the business time zone."""
        return time.fromisoformat(self.digest_time)

    @property
    def birthday_lead_days(self) -> tuple[int, ...]:
        """Days before a birthday on which it is reminded (0 = on the day)."""
        return tuple(sorted({int(x) for x in self.birthday_leads.split(",") if x.strip()}))

    @property
    def maturity_lead_days(self) -> tuple[int, ...]:
        """Days before a maturity on which it is reminded."""
        return tuple(sorted({int(x) for x in self.maturity_leads.split(",") if x.strip()}))

    @property
    def maturity_product_types(self) -> tuple[str, ...]:
        """Product types whose maturity is reminded."""
        return tuple(x.strip() for x in self.maturity_types.split(",") if x.strip())

    @property
    def retention_cadence_days(self) -> dict[str, int]:
        """Segment -> days without a note after which a customer counts as silent."""
        return _cadence_days(self.retention_cadence)

    @property
    def tz(self) -> ZoneInfo:
        """The business time zone."""
        return ZoneInfo(self.business_tz)


def _cadence_days(value: str) -> dict[str, int]:
    days: dict[str, int] = {}
    for part in value.split(","):
        if part.strip():
            segment, _, number = part.partition(":")
            days[segment.strip()] = int(number)
            if not 1 <= days[segment.strip()] <= 3660:
                raise ValueError("cadence days are 1-3660")
    return days
