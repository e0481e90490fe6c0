"""Structured logs are JSON lines."""

from __future__ import annotations

import json
import logging

from bot.logs import JsonFormatter


def test_log_records_are_json_lines() -> None:
    record = logging.LogRecord(
        "bot.inbox", logging.WARNING, __file__, 1, "reply %s not sent", (42,), None
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "warning" and entry["logger"] == "bot.inbox"
    assert entry["message"] == "reply 42 not sent" and entry["at"].endswith("+00:00")
