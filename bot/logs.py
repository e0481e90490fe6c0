"""Structured logs: one JSON object per line, with no personal data.

Our own log calls name channels, ids of inbox rows and digests, and error classes; never a
message text, a customer name or a phone number. Uvicorn's access log is kept to method, path
and status (query strings of WeCom callbacks hold only signatures and nonces).

No secret reaches a log. httpx and httpcore log every request URL at info level, and a
Telegram URL holds the bot token (`/bot<token>/sendMessage`), a WeCom URL the access token or
the app secret: those loggers are kept to warnings. Every line is also scrubbed, whatever
logger wrote it, of each configured secret (`register_secrets`: bot token, webhook secret,
WeCom secret, token and AES key, LLM and embeddings API keys, the data key, passwords in
database and Redis URLs) and of anything shaped like a bot token or an `access_token=` value.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

# Loggers that write request URLs (with tokens in them) at info or debug level.
QUIET_LOGGERS = ("httpx", "httpcore", "urllib3", "hpack", "telegram.ext.ExtBot")
HIDDEN = "***"
_SHAPES = (
    re.compile(r"\bbot\d{5,}:[A-Za-z0-9_-]{20,}"),  # a Telegram bot token in a URL path
    re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}"),  # the same token on its own
    re.compile(r"(?i)((?:access_token|corpsecret|secret|api_key|apikey|token)=)[^&\s\"']+"),
    re.compile(r"(?i)(authorization:\s*bearer\s+)\S+"),
)
_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def register_secrets(values: Iterable[str | None]) -> None:
    """Values no log line may contain (kept longest first, so a secret's prefix can't win)."""
    global _secrets
    found = {v for v in values if v and len(v) >= 4}
    with _lock:
        _secrets = tuple(sorted(found | set(_secrets), key=len, reverse=True))


def secrets_of(*models: BaseModel) -> list[str]:
    """Every SecretStr value of these settings, and the password of every URL in them."""
    found: list[str] = []
    for model in models:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                found.append(value.get_secret_value())
            elif isinstance(value, str) and "://" in value:
                found.append(urlsplit(value).password or "")
    return found


def scrub(text: str) -> str:
    """The text with every registered secret and token-shaped value hidden."""
    for secret in _secrets:
        text = text.replace(secret, HIDDEN)
    for shape in _SHAPES:
        text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + HIDDEN, text)
    return text


class JsonFormatter(logging.Formatter):
    """`{"at": ..., "level": ..., "logger": ..., "message": ...}` per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info).splitlines()[-1])
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO") -> dict[str, object]:
    """Send our logs and uvicorn's as JSON lines to stderr; returns uvicorn's log config."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet_request_logs()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }


def quiet_request_logs() -> None:
    """httpx logs every request's URL at INFO, and Telegram's URLs carry the bot token."""
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
