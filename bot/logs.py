"""Structured logs: one JSON object per line, with no personal data.

Our own log calls name channels, ids of inbox rows and digests, and error classes; never a
message text, a customer name or a phone number. Uvicorn's access log is kept to method, path
and status (query strings of WeCom callbacks hold only signatures and nonces).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """`{"at": ..., "level": ..., "logger": ..., "message": ...}` per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO") -> dict[str, object]:
    """Send our logs and uvicorn's as JSON lines to stderr; returns uvicorn's log config."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
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
