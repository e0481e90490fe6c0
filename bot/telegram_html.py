"""Telegram HTML for team reports: the guarded plain text, escaped, with markup added.

The HTML is derived from the very text the reply guard checked, so it shows no character the
guard did not see: every line is `html.escape`d and only <b> and <pre> are added around whole
lines. A report is recognised by its events, never by its wording.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from handlers.contracts import Event

TITLE = "📊"  # the report's first line (handlers/texts_retention.py, team_title)
BARS = ("▇", "▁")
REPORT_EVENTS = frozenset({"team_report_shown", "audit_summary_shown"})


def carries_report(events: Sequence[Event]) -> bool:
    """Whether a reply holds a team report or audit summary (chat, or Monday's digest)."""
    return any(
        e.type in REPORT_EVENTS or (e.type == "digest" and e.data.get("team_report") is True)
        for e in events
    )


def _bar_span(lines: list[str], start: int) -> tuple[int, int] | None:
    """First and last index (inclusive) of the lines from `start` on that hold a text bar."""
    barred = [i for i in range(start, len(lines)) if any(b in lines[i] for b in BARS)]
    return (barred[0], barred[-1]) if barred else None


def report_html(text: str) -> str | None:
    """The text as Telegram HTML: the report's title bold, its bar lines in <pre>; or None
    when the text holds no report title (then it goes out plain)."""
    lines = text.split("\n")
    title = next((i for i, line in enumerate(lines) if line.startswith(TITLE)), None)
    if title is None:
        return None
    out = [html.escape(line) for line in lines]
    out[title] = f"<b>{out[title]}</b>"
    span = _bar_span(lines, title + 1)
    if span is not None:
        first, last = span
        out[first : last + 1] = ["<pre>" + "\n".join(out[first : last + 1]) + "</pre>"]
    return "\n".join(out)
