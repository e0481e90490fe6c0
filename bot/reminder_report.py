"""The words `bankbot reminders` prints: one vocabulary (reminders, digests, items) for the
dry run, the run, `send` and `status`, so their counts can be compared."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from scheduler.delivery import SendStats
from scheduler.planning import PlanResult
from scheduler.service import PreviewedDigest
from scheduler.status import OutboxStatus

CANCELLED_MEANS = {
    "acknowledged": "already marked done (完成) from an earlier digest",
    "closed": "follow-up done or customer no longer visible when the digest went out",
    "reassigned": "customer moved to another owner, who got the reminder instead",
    "recipient inactive": "recipient deactivated",
    "nothing left to send": "its digest had nothing left to send",
}
EMPTY_MEANS = {
    "nothing left to send": "everything in it was done or moved before it went out",
    "recipient inactive": "its recipient was deactivated",
}


def no_channel_warning(channels: Sequence[str]) -> str | None:
    """One line when no channel can deliver anything."""
    if channels:
        return None
    return (
        "no delivery channel: digests stay undeliverable (set WECOM_* or TELEGRAM_*, "
        "or REMINDER_CHANNEL=console for the console delivery log)"
    )


def _items(items: int, reminders: int) -> str:
    return f"{items} items ({reminders} reminders, {items - reminders} overdue follow-ups)"


def outcome(stats: SendStats) -> str:
    """What one send did."""
    return (
        f"sent {stats.sent} digests with {_items(stats.items, stats.reminders)}; "
        f"empty {stats.empty}, undeliverable {stats.undeliverable} (no channel), "
        f"retry later {stats.retried}, failed {stats.failed}, resent {stats.resent}"
    )


def preview_summary(day: date, result: PlanResult, digests: Sequence[PreviewedDigest]) -> str:
    """What planning and sending `day` would do."""
    items = sum(d.items for d in digests)
    reminders = sum(d.reminders for d in digests)
    empty = max(0, result.digests - len(digests))  # opened, but nothing left to send
    return (
        f"(dry run) {day}: {result.reminders} new reminders would be planned; "
        f"{len(digests)} digests with {_items(items, reminders)}, empty {empty}; "
        "nothing recorded"
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {n}" for status, n in counts.items()) or "none"


def _explained(counts: dict[str, int], means: dict[str, str]) -> list[str]:
    return [f"  {n} {reason}: {means.get(reason, reason)}" for reason, n in counts.items()]


def status_lines(status: OutboxStatus) -> list[str]:
    """`bankbot reminders status`."""
    lines = [
        "digests (one message per staff member and business date): " + _counts(status.digests),
        "reminders (one birthday, maturity or follow-up of one customer): "
        + _counts(status.reminders),
        f"items: the sent digests had {status.items_sent} numbered lines "
        "(their reminders, then overdue follow-ups)",
    ]
    if status.cancelled:
        lines.append("cancelled reminders, not sent:")
        lines += _explained(status.cancelled, CANCELLED_MEANS)
    if status.empty:
        lines.append("empty digests, nothing sent:")
        lines += _explained(status.empty, EMPTY_MEANS)
    if status.undeliverable:
        lines.append(
            "undeliverable digests (no channel: not bound on WeCom or Telegram; bound the same "
            "day, /bind or an import of wecom_userid, they go out; later, their reminders ride "
            "with the next digest):"
        )
        lines += [f"  {staff} for {day}" for staff, day in status.undeliverable]
    for d in status.failed:
        lines.append(
            f"failed digest {d.id} to {d.recipient_staff_id} for {d.business_date} "
            f"after {d.attempts} attempts: {d.last_error}"
        )
    return lines
