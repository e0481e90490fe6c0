"""Printing audit rows for an operator's terminal: every control character escaped.

Audit rows hold text typed by anyone who messages the bot. Printed raw, a newline or tab
forges a row of its own, and an ESC sequence can clear or retitle the operator's terminal.
Each field is printed with control characters (C0, DEL, C1), line and paragraph separators
and bidirectional overrides as visible escapes (`\\n`, `\\x1b`, `\\u202e`); a backslash is
doubled so an escape cannot be typed to look like one. `--json` gives one JSON object per line.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any
from zoneinfo import ZoneInfo

from crm_store.models import AuditLog

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def escape(text: str) -> str:
    """The text with every character that could steer a terminal made visible."""
    return "".join(_escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    # Cc: C0, DEL, C1 (ESC, CSI); Cf: bidi overrides, zero-width; Zl/Zp: line/para separators.
    if _steers(ch):
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return ch


def row_line(row: AuditLog, tz: ZoneInfo) -> str:
    """One tab-separated line; `as_of` is shown only when the request ran on another clock."""
    fields = row_fields(row, tz)
    when = fields["at"] + (f" (as of {fields['as_of']})" if fields["as_of"] else "")
    values = [
        str(row.id),
        when,
        fields["actor"],
        f"{fields['channel']}/{fields['chat_type']}",
        fields["intent"],
        fields["decision"],
        f"[{fields['customer_ids']}]",
        fields["text"],
    ]
    return "\t".join(escape(v) for v in values)


def row_json(row: AuditLog, tz: ZoneInfo) -> str:
    """One JSON object on one line; Chinese stays readable, anything that steers a terminal
    or breaks a line (DEL, C1, U+2028, bidi overrides, which JSON leaves raw) is a \\u escape."""
    text = json.dumps({"id": row.id, **row_fields(row, tz)}, ensure_ascii=False)
    return "".join(f"\\u{ord(ch):04x}" if _steers(ch) else ch for ch in text)


def _steers(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def row_fields(row: AuditLog, tz: ZoneInfo) -> dict[str, Any]:
    """The row's fields as printed; times in the business time zone."""
    as_of = row.as_of
    if as_of is not None and abs((as_of - row.at).total_seconds()) < 60:
        as_of = None  # the request ran on real time: nothing to add
    return {
        "at": row.at.astimezone(tz).isoformat(timespec="seconds"),
        "as_of": as_of.astimezone(tz).isoformat(timespec="seconds") if as_of else None,
        "actor": row.actor_staff_id or f"?{row.sender_id}",
        "channel": row.channel,
        "chat_type": row.chat_type,
        "intent": row.intent,
        "decision": row.decision,
        "customer_ids": row.customer_ids,
        "text": row.text_masked,
        "detail": row.detail,
    }
