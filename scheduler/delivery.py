"""Sending claimed digests through the channel each staff member uses, once.

A digest is marked sent in the same transaction that records its audit row and the numbered
items for '完成 N'. A sender that dies after sending but before marking leaves the digest in
"sending"; after its lease another sender sends it again and the audit row says "resent".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update

from crm_store import conversation
from crm_store.audit import write_audit
from crm_store.models import Digest, Reminder
from crm_store.permissions import load_actor
from crm_store.store import Store
from handlers.contracts import Channel, Event, Reply
from handlers.guard import DisclosureBlocked, GuardedReply, guard_reply
from scheduler.claims import Claimed, claim_next
from scheduler.digest import DigestContent, collect
from scheduler.opening import open_digests

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ITEMS_KEPT_FOR = timedelta(days=2)
NO_CHANNEL = "no channel"  # the reason of an undeliverable digest


@dataclass(frozen=True)
class Route:
    """Where a staff member's digest goes: a channel and their own address on it."""

    channel: Channel
    address: str


class Router(Protocol):
    """Finds the private address of a staff member (never a group chat)."""

    def route(self, staff_id: str) -> Route | None:
        """The route, or None when the staff member has no way to be reached."""
        ...


Formatter = Callable[[DigestContent, str], str]  # (content, channel name) -> text


@dataclass
class SendStats:
    """What one sender run did. A digest is one message to one staff member; its items are
    its numbered lines: the reminders it carries, then overdue follow-ups."""

    sent: int = 0
    items: int = 0
    reminders: int = 0  # reminder rows delivered in the sent digests
    empty: int = 0
    retried: int = 0
    failed: int = 0
    resent: int = 0
    undeliverable: int = 0  # no channel reaches the recipient


class MemberRateLimit:
    """At most `per_minute` messages to one member in any 60 s (WeCom allows 30)."""

    def __init__(self, per_minute: int = 30) -> None:
        self.per_minute = per_minute
        self._sent: dict[str, deque[float]] = defaultdict(deque)

    async def wait(self, member: str) -> None:
        """Sleep until one more message to `member` stays within the limit."""
        window = self._sent[member]
        while window and time.monotonic() - window[0] >= 60:
            window.popleft()
        if len(window) >= self.per_minute:
            await asyncio.sleep(60 - (time.monotonic() - window[0]))
        window.append(time.monotonic())


@dataclass
class Sender:
    """Claims due digests one by one and delivers them."""

    store: Store
    router: Router
    formatter: Formatter
    clock: Clock
    worker: str
    limiter: MemberRateLimit

    async def run(self, *, max_digests: int | None = None) -> SendStats:
        """Send every digest that is due now; return what happened."""
        stats = SendStats()
        lease = timedelta(seconds=self.store.settings.send_lease_seconds)
        with self.store.db.write() as session:  # a plan whose opening a crash cut off
            open_digests(session, now=self.clock(), settings=self.store.settings)
        self._retry_undeliverable()
        while (
            max_digests is None
            or stats.sent + stats.empty + stats.failed + stats.undeliverable < max_digests
        ):
            claimed = claim_next(self.store.db, now=self.clock(), worker=self.worker, lease=lease)
            if claimed is None:
                break
            await self._deliver(claimed, stats)
        return stats

    async def _deliver(self, claimed: Claimed, stats: SendStats) -> None:
        now = self.clock()
        with self.store.db.write() as session:
            content = collect(session, claimed, now, self.store.settings)
            if content is None or content.is_empty():
                reason = "recipient inactive" if content is None else "nothing left to send"
                _finish(session, claimed, status="empty", error=reason)
                stats.empty += 1
                return
        route = self.router.route(claimed.recipient_staff_id)
        if route is None:  # kept, not failed: binding later today still delivers it
            with self.store.db.write() as session:
                if _finish(session, claimed, status="undeliverable", error=NO_CHANNEL):
                    stats.undeliverable += 1
            return
        text = self.formatter(content, route.channel.name)
        data = {"customer_ids": content.customer_ids, "items": len(content.entries)}
        if content.report is not None:  # lets Telegram format Monday's report
            data["team_report"] = True
        event = Event("digest", data)
        try:
            reply = self._guarded(claimed, content, Reply(text, (event,)))
        except DisclosureBlocked as exc:  # the re-check missed a customer: never send it
            self._failed(claimed, f"blocked by the reply guard: {exc}", stats, retryable=False)
            return
        try:
            await self.limiter.wait(route.address)
            await route.channel.send(route.address, reply)
        except Exception as exc:  # any channel error: retry later with backoff
            log.warning("digest %s to %s failed: %s", claimed.digest_id, route.channel.name, exc)
            # A channel error may say it cannot succeed later (WeCom 60020, 81013): stop now.
            retryable = bool(getattr(exc, "retryable", True))
            self._failed(claimed, str(exc) or type(exc).__name__, stats, retryable=retryable)
            return
        self._sent(claimed, content, route, reply.text, stats)

    def _guarded(self, claimed: Claimed, content: DigestContent, reply: Reply) -> GuardedReply:
        """The digest through the same guard as every chat reply, for its recipient."""
        with self.store.db.read() as session:
            actor = load_actor(session, claimed.recipient_staff_id)
            return guard_reply(session, actor, content.business_date, reply)

    def _sent(
        self, claimed: Claimed, content: DigestContent, route: Route, text: str, stats: SendStats
    ) -> None:
        now = self.clock()
        with self.store.db.write() as session:
            _finish(
                session,
                claimed,
                status="sent",
                channel=route.channel.name,
                now=now,
                items=len(content.entries),
            )
            conversation.remember(
                session,
                channel=route.channel.name,
                staff_id=claimed.recipient_staff_id,
                kind=conversation.ITEMS,
                payload={"items": [e.action for e in content.entries]},
                expires_at=now + ITEMS_KEPT_FOR,
            )
            write_audit(
                session,
                at=now,
                actor_staff_id=claimed.recipient_staff_id,
                channel=route.channel.name,
                sender_id=route.address,
                chat_type="private",
                intent="reminder_digest",
                customer_ids=content.customer_ids,
                decision="resent" if claimed.reclaimed else "delivered",
                text_masked=text,  # as sent: guarded
                detail=f"digest={claimed.digest_id} attempt={claimed.attempt}",
            )
        stats.sent += 1
        stats.items += len(content.entries)
        stats.reminders += reminder_count(content)
        stats.resent += int(claimed.reclaimed)

    def _retry_undeliverable(self) -> None:
        """Today's digests that found no channel go out once their recipient has one
        (bound since with /bind or an import); older ones stay: their reminders already
        ride along with the recipient's next digest."""
        now = self.clock()
        today = now.astimezone(self.store.settings.tz).date()
        with self.store.db.read() as session:
            waiting = session.execute(
                select(Digest.id, Digest.recipient_staff_id).where(
                    Digest.status == "undeliverable", Digest.business_date == today
                )
            ).all()
        reachable = [i for i, staff in waiting if self.router.route(staff) is not None]
        if not reachable:
            return
        with self.store.db.write() as session:
            session.execute(
                update(Digest)
                .where(Digest.id.in_(reachable), Digest.status == "undeliverable")
                .values(status="pending", next_attempt_at=now, last_error="")
            )

    def _failed(
        self, claimed: Claimed, error: str, stats: SendStats, *, retryable: bool = True
    ) -> None:
        settings = self.store.settings
        final = not retryable or claimed.attempt >= settings.send_max_attempts
        delay = timedelta(seconds=settings.send_retry_base_seconds * 2 ** (claimed.attempt - 1))
        with self.store.db.write() as session:
            owned = _finish(
                session,
                claimed,
                status="failed" if final else "pending",
                error=error,
                retry_at=self.clock() + delay,
            )
        if not owned:  # our lease ran out and another sender took the digest over
            log.warning("digest %s: claim lost, outcome left to its new sender", claimed.digest_id)
        elif final:
            stats.failed += 1
        else:
            stats.retried += 1


def reminder_count(content: DigestContent) -> int:
    """A digest's items that are reminders: all but the overdue follow-ups it recalls."""
    return sum(1 for entry in content.entries if entry.kind != "overdue")


def _finish(
    session: object,
    claimed: Claimed,
    *,
    status: str,
    error: str = "",
    channel: str | None = None,
    now: datetime | None = None,
    items: int = 0,
    retry_at: datetime | None = None,
) -> bool:
    """Record the digest's outcome (and its reminders' when sent), only while this claim still
    holds it: a sender that outlived its lease must not undo the outcome of the one that took
    the digest over. Returns whether it did."""
    values: dict[str, object] = {"status": status, "lease_until": None, "last_error": error[:500]}
    if status == "sent":
        values |= {"channel": channel, "sent_at": now, "item_count": items}
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    result = session.execute(  # type: ignore[attr-defined]
        update(Digest)
        .where(
            Digest.id == claimed.digest_id,
            Digest.status == "sending",
            Digest.attempts == claimed.attempt,
        )
        .values(**values)
    )
    if result.rowcount != 1:
        return False
    if status == "sent":
        session.execute(  # type: ignore[attr-defined]
            update(Reminder)
            .where(Reminder.digest_id == claimed.digest_id, Reminder.status == "pending")
            .values(status="sent", sent_at=now)
        )
    elif status in ("failed", "undeliverable"):
        # Given up on this digest (for now): its reminders ride along with the recipient's
        # next one, or with this one again if it is retried today.
        session.execute(  # type: ignore[attr-defined]
            update(Reminder)
            .where(Reminder.digest_id == claimed.digest_id, Reminder.status == "pending")
            .values(digest_id=None)
        )
    elif status == "empty":
        session.execute(  # type: ignore[attr-defined]
            update(Reminder)
            .where(Reminder.digest_id == claimed.digest_id, Reminder.status == "pending")
            .values(status="cancelled", note=error or "nothing to send")
        )
    return True
