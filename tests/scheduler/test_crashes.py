"""A sender process that dies mid-digest loses nothing and resends at most that one digest.

Each test runs tests/scheduler/crash_worker.py as a real OS process that dies (os._exit(9),
or SIGKILL from here) at a chosen point of its N-th digest, then sends the rest in-process
with the injected clock moved past the lease, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.channels import CONSOLE, DELIVERY_LOG, ConsoleDeliveryChannel
from bot.wiring import build_formatter, build_router
from crm_store.models import AuditLog, Digest, Reminder
from crm_store.store import Store
from scheduler.delivery import MemberRateLimit, Sender, SendStats
from tests.conftest import TEST_KEY, make_settings
from tests.scheduler.crash_worker import (
    NOW,
    SCRIPT,
    delivered_customers,
    read_log,
    seed,
    worker_env,
)

STAFF = 8
PER_STAFF = 4
CRASH_AT = 3  # the worker dies on its third digest
LEASE = 10


@pytest.fixture
def crash_store(store: Store) -> Store:
    """A seeded store with a short send lease."""
    settings = make_settings(
        store.settings.home, store.settings.db_url, REMINDER_SEND_LEASE_SECONDS=str(LEASE)
    )
    seed(store.db, staff=STAFF, reminders=STAFF * PER_STAFF)
    return Store(settings, store.db, store.cipher)


def run_worker(store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), "--worker", "doomed", *args]
    env = worker_env(store.settings, TEST_KEY)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def kill_when_marked(store: Store, marker: Path, *args: str) -> int:
    """Start a worker that hangs at the crash point, and SIGKILL it there."""
    command = [sys.executable, str(SCRIPT), "--worker", "doomed", *args]
    command += ["--how", "hang", "--marker", str(marker)]
    env = worker_env(store.settings, TEST_KEY)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the worker never reached the crash point"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    return proc.returncode


def wait_for_dead_backends(store: Store) -> None:
    """PostgreSQL ends a dead client's session (releasing its row locks) a moment later."""
    if store.db.is_sqlite:
        return
    others = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND state <> 'idle'"
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with store.db.engine.connect() as conn:
            if conn.scalar(others) == 0:
                return
        time.sleep(0.01)
    raise AssertionError("the dead worker's session is still open")


def send_rest(store: Store, *, after: timedelta) -> SendStats:
    """A fresh in-process sender, its clock `after` the crashed worker's."""
    wait_for_dead_backends(store)
    channel = ConsoleDeliveryChannel(store.settings.home / DELIVERY_LOG)
    router = build_router(store, {CONSOLE: channel})
    at = NOW + after
    s = Sender(store, router, build_formatter(store), lambda: at, "rescuer", MemberRateLimit())
    return asyncio.run(s.run())


def digest_statuses(store: Store) -> Counter[str]:
    with store.db.read() as s:
        return Counter(s.scalars(select(Digest.status)))


def in_flight(store: Store) -> Digest:
    """The one digest the dead worker left in 'sending'."""
    with store.db.read() as s:
        return s.scalars(select(Digest).where(Digest.status == "sending")).one()


def deliveries_by_recipient(store: Store) -> Counter[str]:
    return Counter(r["recipient"] for r in read_log(store.settings.home / DELIVERY_LOG))


def assert_nothing_lost(store: Store) -> None:
    """Every digest and reminder ended sent, each reminder inside some delivered line."""
    assert digest_statuses(store) == Counter({"sent": STAFF})
    with store.db.read() as s:
        reminders = Counter(s.scalars(select(Reminder.status)))
        customers = set(s.scalars(select(Reminder.customer_id)))
    assert reminders == Counter({"sent": STAFF * PER_STAFF})
    log = read_log(store.settings.home / DELIVERY_LOG)
    assert {c for record in log for c in delivered_customers(record)} == customers


def audit_decisions(store: Store) -> dict[str, str]:
    """Audit decision per digest ('digest=ID attempt=N' in the detail), one row each."""
    with store.db.read() as s:
        rows = s.execute(
            select(AuditLog.detail, AuditLog.decision).where(AuditLog.intent == "reminder_digest")
        ).all()
    by_digest = Counter(detail.split()[0] for detail, _ in rows)
    assert set(by_digest.values()) == {1}, f"a digest was audited twice: {by_digest}"
    return {detail.split()[0]: decision for detail, decision in rows}


def test_killed_after_claiming_before_sending(crash_store: Store) -> None:
    store = crash_store
    result = run_worker(store, "--die", "before-send", "--at", str(CRASH_AT))
    assert result.returncode == 9, result.stderr
    lost = in_flight(store)
    pending = STAFF - CRASH_AT
    assert digest_statuses(store) == Counter(
        {"sent": CRASH_AT - 1, "sending": 1, "pending": pending}
    )
    assert lost.recipient_staff_id not in deliveries_by_recipient(store)

    # Within the lease nobody touches the in-flight digest; the others go out.
    first = send_rest(store, after=timedelta(seconds=LEASE - 1))
    assert (first.sent, first.resent) == (STAFF - CRASH_AT, 0)
    assert in_flight(store).id == lost.id

    second = send_rest(store, after=timedelta(seconds=LEASE + 1))
    assert (second.sent, second.resent) == (1, 1)
    assert deliveries_by_recipient(store) == Counter({f"rm{n:02d}": 1 for n in range(STAFF)})
    assert_nothing_lost(store)
    with store.db.read() as s:
        assert s.get(Digest, lost.id).attempts == 2  # type: ignore[union-attr]


def test_killed_after_sending_before_marking(crash_store: Store, tmp_path: Path) -> None:
    store = crash_store
    args = ("--die", "after-send", "--at", str(CRASH_AT))
    assert kill_when_marked(store, tmp_path / "at-crash", *args) == -signal.SIGKILL
    lost = in_flight(store)
    assert deliveries_by_recipient(store)[lost.recipient_staff_id] == 1  # it did go out

    stats = send_rest(store, after=timedelta(seconds=LEASE + 1))
    assert (stats.sent, stats.resent) == (STAFF - CRASH_AT + 1, 1)
    expected = Counter({f"rm{n:02d}": 1 for n in range(STAFF)})
    expected[lost.recipient_staff_id] = 2  # only the in-flight digest went out twice
    assert deliveries_by_recipient(store) == expected
    assert_nothing_lost(store)
    decisions = audit_decisions(store)
    assert decisions.pop(f"digest={lost.id}") == "resent"
    assert set(decisions.values()) == {"delivered"} and len(decisions) == STAFF - 1


def test_killed_after_marking_sends_nothing_again(crash_store: Store) -> None:
    store = crash_store
    result = run_worker(store, "--die", "after-mark", "--at", str(CRASH_AT))
    assert result.returncode == 9, result.stderr
    assert digest_statuses(store) == Counter({"sent": CRASH_AT, "pending": STAFF - CRASH_AT})
    already = set(deliveries_by_recipient(store))

    stats = send_rest(store, after=timedelta(seconds=LEASE + 1))
    assert (stats.sent, stats.resent) == (STAFF - CRASH_AT, 0)
    assert deliveries_by_recipient(store) == Counter({f"rm{n:02d}": 1 for n in range(STAFF)})
    assert len(already) == CRASH_AT
    assert_nothing_lost(store)
    assert set(audit_decisions(store).values()) == {"delivered"}


def test_killed_inside_the_claim_transaction(crash_store: Store, tmp_path: Path) -> None:
    store = crash_store
    args = ("--die", "in-claim", "--at", str(CRASH_AT))
    assert kill_when_marked(store, tmp_path / "at-crash", *args) == -signal.SIGKILL
    # The uncommitted claim is rolled back: no lease to wait for.
    assert digest_statuses(store) == Counter(
        {"sent": CRASH_AT - 1, "pending": STAFF - CRASH_AT + 1}
    )

    stats = send_rest(store, after=timedelta(0))
    assert (stats.sent, stats.resent) == (STAFF - CRASH_AT + 1, 0)
    assert deliveries_by_recipient(store) == Counter({f"rm{n:02d}": 1 for n in range(STAFF)})
    assert_nothing_lost(store)
    assert set(audit_decisions(store).values()) == {"delivered"}
