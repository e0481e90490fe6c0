"""Delivering digests: exactly once with two concurrent senders (threads and processes, on
SQLite and PostgreSQL), retries with backoff, final failures, and the per-member rate limit."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.channels import CONSOLE, DELIVERY_LOG
from bot.cli import app
from bot.wiring import build_formatter, build_router
from crm_store.models import AuditLog, Digest, Reminder
from crm_store.store import Store
from handlers.contracts import Reply
from handlers.guard import require_guarded
from scheduler import delivery
from scheduler.delivery import MemberRateLimit, Route, Sender, SendStats
from tests.conftest import TEST_KEY, make_settings
from tests.scheduler.crash_worker import (
    NOW,
    SCRIPT,
    delivered_customers,
    read_log,
    seed,
    staff_id,
    worker_env,
)

STAFF = 50
REMINDERS = 1_000


def with_settings(store: Store, **extra: str) -> Store:
    """The same database, with reminder settings for this test."""
    settings = make_settings(store.settings.home, store.settings.db_url, **extra)
    return dataclasses.replace(store, settings=settings)


class RecordingChannel:
    """Records every delivery (thread-safe); yields to the event loop like a network call."""

    name = CONSOLE

    def __init__(self, fail_first: int = 0, error: str = "wecom: 45009 api freq out of limit"):
        self.fail_first = fail_first
        self.error = error
        self.calls = 0
        self.sent: list[tuple[str, str, list[str]]] = []  # (worker thread, recipient, customers)
        self._lock = threading.Lock()

    async def send(self, recipient: str, reply: Reply) -> None:
        require_guarded(reply)  # as every real channel does
        await asyncio.sleep(0.01)  # long enough that both senders surely get work
        with self._lock:
            self.calls += 1
            if self.calls <= self.fail_first:
                raise ConnectionError(self.error)
            customers = [c for e in reply.events for c in e.data.get("customer_ids", [])]
            self.sent.append((threading.current_thread().name, recipient, customers))


def fixed(at: datetime) -> Callable[[], datetime]:
    """A clock that stays at `at`."""
    return lambda: at


def sender(store: Store, channel: Any, worker: str, at: datetime = NOW) -> Sender:
    router = build_router(store, {CONSOLE: channel})
    return Sender(store, router, build_formatter(store), fixed(at), worker, MemberRateLimit())


def reminder_of_customer(store: Store) -> dict[str, int]:
    with store.db.read() as s:
        return dict(s.execute(select(Reminder.customer_id, Reminder.id)).tuples().all())


def assert_all_delivered_once(store: Store, deliveries: list[tuple[str, list[str]]]) -> None:
    """Every reminder in exactly one delivery, each recipient one digest, all recorded sent."""
    reminder_ids = reminder_of_customer(store)
    assert len(reminder_ids) == REMINDERS
    per_reminder = Counter(reminder_ids[c] for _, customers in deliveries for c in customers)
    assert set(per_reminder) == set(reminder_ids.values())
    assert set(per_reminder.values()) == {1}, "a reminder was delivered twice"
    per_recipient = Counter(recipient for recipient, _ in deliveries)
    assert per_recipient == Counter({staff_id(n): 1 for n in range(STAFF)})
    with store.db.read() as s:
        statuses = s.execute(select(Reminder.status, func.count()).group_by(Reminder.status))
        assert dict(statuses.tuples().all()) == {"sent": REMINDERS}
        digests = s.execute(select(Digest.status, Digest.attempts, Digest.item_count)).all()
        assert len(digests) == STAFF
        assert {(status, attempts) for status, attempts, _ in digests} == {("sent", 1)}
        assert sum(items for _, _, items in digests) == REMINDERS
        decisions = s.execute(
            select(AuditLog.decision, func.count())
            .where(AuditLog.intent == "reminder_digest")
            .group_by(AuditLog.decision)
        )
        assert dict(decisions.tuples().all()) == {"delivered": STAFF}


def test_two_threads_deliver_each_reminder_exactly_once(store: Store) -> None:
    seed(store.db, staff=STAFF, reminders=REMINDERS)
    channel = RecordingChannel()
    stats: dict[str, SendStats] = {}

    def run(worker: str) -> None:
        stats[worker] = asyncio.run(sender(store, channel, worker).run())

    threads = [threading.Thread(target=run, args=(w,), name=w) for w in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)

    assert sum(s.sent for s in stats.values()) == STAFF
    assert all(s.sent > 0 for s in stats.values()), "both senders should have taken digests"
    assert_all_delivered_once(store, [(r, customers) for _, r, customers in channel.sent])
    with store.db.read() as s:
        claimed_by = Counter(s.scalars(select(Digest.claimed_by)))
    assert claimed_by == Counter({w: stats[w].sent for w in ("w1", "w2")})


def test_two_processes_deliver_each_reminder_exactly_once(store: Store, tmp_path: Path) -> None:
    seed(store.db, staff=STAFF, reminders=REMINDERS)
    go = tmp_path / "go"
    ready = [tmp_path / "ready-p1", tmp_path / "ready-p2"]
    env = worker_env(store.settings, TEST_KEY)
    procs = [
        subprocess.Popen(
            # 50 ms per send: one worker alone would need 2.5 s, so the other surely takes some.
            [
                sys.executable,
                str(SCRIPT),
                "--worker",
                name,
                "--ready",
                str(flag),
                "--go",
                str(go),
                "--send-delay",
                "0.05",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, flag in zip(("p1", "p2"), ready, strict=True)
    ]
    deadline = time.monotonic() + 30
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # both processes are up: start sending at the same moment
    outputs = [p.communicate(timeout=60) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err

    stats = [json.loads(out) for out, _ in outputs]
    assert sum(s["sent"] for s in stats) == STAFF
    assert all(s["sent"] > 0 for s in stats), "both processes should have taken digests"
    log = read_log(store.settings.home / DELIVERY_LOG)
    assert len(log) == STAFF
    assert_all_delivered_once(store, [(r["recipient"], delivered_customers(r)) for r in log])


# ---- retries and failures ----------------------------------------------------------------


def digest_row(store: Store) -> Digest:
    with store.db.read() as s:
        return s.scalars(select(Digest)).one()


def reminder_statuses(store: Store) -> Counter[str]:
    with store.db.read() as s:
        return Counter(s.scalars(select(Reminder.status)))


def test_a_failed_send_is_retried_after_the_backoff(store: Store) -> None:
    store = with_settings(store, REMINDER_RETRY_BASE_SECONDS="30", REMINDER_SEND_MAX_ATTEMPTS="3")
    seed(store.db, staff=1, reminders=3)
    channel = RecordingChannel(fail_first=1)

    first = asyncio.run(sender(store, channel, "w1", NOW).run())
    assert (first.sent, first.retried, first.failed) == (0, 1, 0)
    row = digest_row(store)
    assert (row.status, row.attempts, row.lease_until) == ("pending", 1, None)
    assert row.next_attempt_at == NOW + timedelta(seconds=30)
    assert "45009" in row.last_error
    assert reminder_statuses(store) == Counter({"pending": 3})

    early = asyncio.run(sender(store, channel, "w1", NOW + timedelta(seconds=29)).run())
    assert early == SendStats()  # not due yet: nothing claimed

    later = asyncio.run(sender(store, channel, "w1", NOW + timedelta(seconds=30)).run())
    assert (later.sent, later.items, later.retried) == (1, 3, 0)
    row = digest_row(store)
    assert (row.status, row.attempts) == ("sent", 2)
    assert reminder_statuses(store) == Counter({"sent": 3})
    assert len(channel.sent) == 1 and len(channel.sent[0][2]) == 3


def run_until_final(store: Store, channel: Any, attempts: int) -> list[datetime]:
    """Run a sender each time the digest is due again; the retry times it was given."""
    at = NOW
    retry_times = []
    for _ in range(attempts):
        asyncio.run(sender(store, channel, "w1", at).run())
        at = digest_row(store).next_attempt_at
        retry_times.append(at)
    return retry_times


def status_output(store: Store) -> str:
    env = {
        "BANKBOT_HOME": str(store.settings.home),
        "DATABASE_URL": store.settings.db_url,
        "BANKBOT_DATA_KEY": TEST_KEY,
    }
    result = CliRunner().invoke(app, ["reminders", "status"], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_channel_that_always_fails_ends_failed_and_status_says_why(store: Store) -> None:
    store = with_settings(store, REMINDER_RETRY_BASE_SECONDS="10", REMINDER_SEND_MAX_ATTEMPTS="3")
    seed(store.db, staff=1, reminders=2)
    channel = RecordingChannel(fail_first=10**6, error="wecom: 60020 not allow to access")

    retry_times = run_until_final(store, channel, attempts=3)
    # backoff doubles: +10 s after the first attempt, +20 s after the second
    assert retry_times[0] == NOW + timedelta(seconds=10)
    assert retry_times[1] == retry_times[0] + timedelta(seconds=20)
    row = digest_row(store)
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error == "wecom: 60020 not allow to access"
    assert channel.calls == 3 and channel.sent == []
    again = asyncio.run(sender(store, channel, "w1", NOW + timedelta(days=1)).run())
    assert again == SendStats() and channel.calls == 3  # a failed digest is not retried
    assert reminder_statuses(store) == Counter({"pending": 2})  # still there, not lost

    out = status_output(store)
    assert "failed 1" in out
    assert f"failed digest {row.id} to rm00 for 2026-11-30 after 3 attempts" in out
    assert "wecom: 60020 not allow to access" in out


class PartialRouter:
    """Routes everyone except the staff members in `unbound`."""

    def __init__(self, channel: Any, unbound: set[str]) -> None:
        self.channel = channel
        self.unbound = unbound

    def route(self, staff_id: str) -> Route | None:
        return None if staff_id in self.unbound else Route(self.channel, staff_id)


def test_a_staff_member_without_a_route_waits_undeliverable_then_goes_out_once_bound(
    store: Store,
) -> None:
    seed(store.db, staff=2, reminders=4)
    channel = RecordingChannel()
    router = PartialRouter(channel, {"rm01"})

    def run(at: datetime) -> SendStats:
        sender = Sender(store, router, build_formatter(store), fixed(at), "w1", MemberRateLimit())
        return asyncio.run(sender.run())

    first = run(NOW)
    assert (first.sent, first.undeliverable, first.failed) == (1, 1, 0)
    assert run(NOW + timedelta(minutes=5)) == SendStats()  # not retried while unbound
    assert [recipient for _, recipient, _ in channel.sent] == ["rm00"]
    with store.db.read() as s:
        rows = {d.recipient_staff_id: d for d in s.scalars(select(Digest))}
        kept = s.scalars(select(Reminder).where(Reminder.recipient_staff_id == "rm01")).all()
    assert (rows["rm01"].status, rows["rm01"].last_error) == ("undeliverable", "no channel")
    assert [(r.status, r.digest_id) for r in kept] == [("pending", None)] * 2  # never "sent"
    out = status_output(store)
    assert "undeliverable 1" in out and "rm01 for 2026-11-30" in out

    router.unbound.clear()  # bound later the same day
    later = run(NOW + timedelta(hours=2))
    assert (later.sent, later.reminders, later.undeliverable) == (1, 2, 0)
    assert [recipient for _, recipient, _ in channel.sent] == ["rm00", "rm01"]
    assert run(NOW + timedelta(hours=3)) == SendStats()  # exactly once
    assert reminder_statuses(store) == Counter({"sent": 4})


def test_an_undeliverable_digest_is_not_sent_on_a_later_day(store: Store) -> None:
    seed(store.db, staff=1, reminders=2)
    channel = RecordingChannel()
    router = PartialRouter(channel, {"rm00"})
    asyncio.run(
        Sender(store, router, build_formatter(store), fixed(NOW), "w1", MemberRateLimit()).run()
    )
    router.unbound.clear()
    next_day = NOW + timedelta(days=1)
    stats = asyncio.run(
        Sender(
            store, router, build_formatter(store), fixed(next_day), "w1", MemberRateLimit()
        ).run()
    )
    assert stats == SendStats() and channel.sent == []
    assert digest_row(store).status == "undeliverable"
    # Its reminders were handed back: the next digest of rm00 takes them.
    assert reminder_statuses(store) == Counter({"pending": 2})
    with store.db.read() as s:
        assert s.scalar(select(func.count()).where(Reminder.digest_id.is_not(None))) == 0


# ---- rate limit --------------------------------------------------------------------------


class FakeTime:
    """Stands in for `time` and `asyncio` inside scheduler.delivery: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(delivery, "time", fake)
    monkeypatch.setattr(delivery, "asyncio", fake)
    return fake


def test_the_31st_message_in_a_minute_waits(fake_time: FakeTime) -> None:
    limiter = MemberRateLimit()

    async def sends() -> None:
        for i in range(30):
            await limiter.wait("zhangsan")
            fake_time.now += 1  # 30 messages over 30 s
            assert fake_time.slept == [], f"message {i + 1} should not wait"
        await limiter.wait("lisi")  # another member is not held up
        assert fake_time.slept == []
        await limiter.wait("zhangsan")  # the 31st, 30 s after the first
        assert fake_time.slept == [pytest.approx(30.0)]
        await limiter.wait("zhangsan")  # the 32nd: the second message leaves the window
        assert fake_time.slept == [pytest.approx(30.0), pytest.approx(1.0)]

    asyncio.run(sends())


def test_a_member_below_the_limit_never_waits(fake_time: FakeTime) -> None:
    limiter = MemberRateLimit(per_minute=30)

    async def sends() -> None:
        for _ in range(300):  # one message every 2.5 s is 24 a minute
            await limiter.wait("zhangsan")
            fake_time.now += 2.5

    asyncio.run(sends())
    assert fake_time.slept == []


# ---- a sender that outlived its lease --------------------------------------------------


class StallingChannel:
    """The first send stalls past the lease (another sender takes the digest over meanwhile)
    and then fails or succeeds late."""

    name = CONSOLE

    def __init__(self, meanwhile: Any, fail: bool) -> None:
        self.meanwhile = meanwhile
        self.fail = fail

    async def send(self, recipient: str, reply: Reply) -> None:
        await self.meanwhile()
        if self.fail:
            raise TimeoutError("wecom: request timed out")


@pytest.mark.parametrize("late_outcome", ["fails", "succeeds"])
def test_a_stalled_sender_cannot_undo_the_sender_that_took_over(
    store: Store, late_outcome: str
) -> None:
    store = with_settings(store, REMINDER_SEND_LEASE_SECONDS="10", REMINDER_RETRY_BASE_SECONDS="10")
    seed(store.db, staff=1, reminders=2)
    rescuer_channel = RecordingChannel()
    rescuer = sender(store, rescuer_channel, "rescuer", NOW + timedelta(seconds=11))
    rescued: list[SendStats] = []

    async def take_over() -> None:
        rescued.append(await rescuer.run())

    stalled = StallingChannel(take_over, fail=late_outcome == "fails")
    asyncio.run(sender(store, stalled, "stalled", NOW).run())
    assert rescued[0].sent == 1 and len(rescuer_channel.sent) == 1

    row = digest_row(store)
    assert (row.status, row.attempts, row.claimed_by) == ("sent", 2, "rescuer")
    assert reminder_statuses(store) == Counter({"sent": 2})
    later = asyncio.run(sender(store, rescuer_channel, "w3", NOW + timedelta(hours=1)).run())
    assert later == SendStats() and len(rescuer_channel.sent) == 1  # never a third time
    with store.db.read() as s:
        audited = list(s.scalars(select(AuditLog.decision).order_by(AuditLog.id)))
    # every message that went out is audited, the late one too
    assert audited == (["resent"] if late_outcome == "fails" else ["resent", "delivered"])
