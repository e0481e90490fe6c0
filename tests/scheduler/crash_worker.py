"""A reminder sender in its own OS process, for the concurrency and crash tests.

Run as `python tests/scheduler/crash_worker.py --worker w1 [--die MODE --at N]`, with
DATABASE_URL, BANKBOT_HOME, BANKBOT_DATA_KEY and REMINDER_SEND_LEASE_SECONDS in the
environment. It sends the due digests to the console delivery log (BANKBOT_HOME/deliveries.jsonl)
with a fixed clock, and for the N-th digest dies the way a crashed process would:

  before-send  os._exit(9) in the channel before the delivery line is written
  after-send   os._exit(9) in the channel right after the delivery line is written
  after-mark   os._exit(9) once the N-th digest is recorded as sent
  in-claim     os._exit(9) inside the N-th claim transaction, before it commits

With `--how hang` it touches `--marker` at that point instead and sleeps until the parent
kills it with SIGKILL. The test side imports the seeding and log helpers from here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bot.channels import CONSOLE, DELIVERY_LOG, ConsoleDeliveryChannel  # noqa: E402
from bot.wiring import build_formatter, build_router  # noqa: E402
from crm_store.db import Database  # noqa: E402
from crm_store.models import Branch, Customer, Reminder, Staff  # noqa: E402
from crm_store.settings import Settings  # noqa: E402
from crm_store.store import Store, open_store  # noqa: E402
from handlers.contracts import Reply  # noqa: E402
from scheduler import claims  # noqa: E402
from scheduler.delivery import MemberRateLimit, Sender  # noqa: E402
from scheduler.opening import open_day  # noqa: E402

BUSINESS_DATE = date(2026, 11, 30)  # a Monday
NOW = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
SCRIPT = Path(__file__).resolve()
MODES = ("none", "before-send", "after-send", "after-mark", "in-claim")


# ---- test data ---------------------------------------------------------------------------


def staff_id(n: int) -> str:
    return f"rm{n:02d}"


def seed(db: Database, *, staff: int, reminders: int) -> None:
    """One branch, `staff` RMs, one customer per reminder (a birthday today), spread evenly
    over the RMs, and the digest rows for BUSINESS_DATE; all with Core bulk inserts."""
    with db.write() as session:
        session.execute(insert(Branch).values(id="B1", name="上海分行", parent_id=None))
        session.execute(insert(Staff), [_staff_row(n) for n in range(staff)])
        session.execute(insert(Customer), [_customer_row(i, staff) for i in range(reminders)])
        session.execute(insert(Reminder), [_reminder_row(i, staff) for i in range(reminders)])
        open_day(session, business_date=BUSINESS_DATE, now=NOW, late=False)


def _staff_row(n: int) -> dict[str, Any]:
    return {"id": staff_id(n), "name": f"经理{n}", "role": "rm", "branch_id": "B1", "active": True}


def _customer_row(i: int, staff: int) -> dict[str, Any]:
    return {
        "id": f"c{i:04d}",
        "name": f"客户{i}",
        "name_pinyin": f"kehu{i}",
        "owner_staff_id": staff_id(i % staff),
        "branch_id": "B1",
        "segment": "regular",
        "birth_month": BUSINESS_DATE.month,
        "birth_day": BUSINESS_DATE.day,
        "birthday_calendar": "solar",
        "birthday_leap_month": False,
        "tags": "",
        "updated_at": NOW,
    }


def _reminder_row(i: int, staff: int) -> dict[str, Any]:
    return {
        "kind": "birthday",
        "entity_id": f"c{i:04d}",
        "customer_id": f"c{i:04d}",
        "occurs_on": BUSINESS_DATE,
        "lead_days": 0,
        "recipient_staff_id": staff_id(i % staff),
        "business_date": BUSINESS_DATE,
        "status": "pending",
        "note": "",
        "created_at": NOW,
    }


def read_log(path: Path) -> list[dict[str, Any]]:
    """The console delivery log: one JSON object per delivered digest."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def delivered_customers(record: dict[str, Any]) -> list[str]:
    """Customer ids one delivery line disclosed (its 'digest' event)."""
    return [c for e in record["events"] if e["type"] == "digest" for c in e["customer_ids"]]


def worker_env(settings: Settings, data_key: str) -> dict[str, str]:
    """The environment a worker process reads its settings from."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BANKBOT_HOME": str(settings.home),
        "DATABASE_URL": settings.db_url,
        "BANKBOT_DATA_KEY": data_key,
        "REMINDER_SEND_LEASE_SECONDS": str(settings.send_lease_seconds),
    }


# ---- the worker --------------------------------------------------------------------------


def _die(how: str, marker: Path | None) -> None:
    """Stop like a crashed process: at once, or hang until the parent sends SIGKILL."""
    if how == "hang" and marker is not None:
        marker.touch()
        time.sleep(60)
    os._exit(9)


class CrashingChannel:
    """The console log, with a crash before or after writing the N-th delivery."""

    name = CONSOLE

    def __init__(self, inner: ConsoleDeliveryChannel, die: Callable[[], None], mode: str, at: int):
        self.inner = inner
        self.die = die
        self.mode = mode
        self.at = at
        self.calls = 0
        self.delay = 0.0  # seconds per send, so two workers surely overlap

    async def send(self, recipient: str, reply: Reply) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.calls == self.at and self.mode == "before-send":
            self.die()
        await self.inner.send(recipient, reply)
        if self.calls == self.at and self.mode == "after-send":
            self.die()


def _crash_inside_claim(die: Callable[[], None], at: int) -> None:
    """Die in the N-th claim transaction, after its UPDATEs and before it commits."""
    original = claims.attach
    calls = [0]

    def attach(session: Session, digest_id: int, recipient: str, business_date: date) -> None:
        original(session, digest_id, recipient, business_date)
        calls[0] += 1
        if calls[0] == at:
            session.flush()
            die()

    claims.attach = attach  # type: ignore[assignment]


def _wait_for_go(ready: Path | None, go: Path | None) -> None:
    """Start together with the other worker: say ready, then wait for the parent's go."""
    if ready is None or go is None:
        return
    ready.touch()
    deadline = time.monotonic() + 30
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal")
        time.sleep(0.005)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--die", choices=MODES, default="none")
    parser.add_argument("--at", type=int, default=1)
    parser.add_argument("--how", choices=("exit", "hang"), default="exit")
    parser.add_argument("--marker", type=Path)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    parser.add_argument("--send-delay", type=float, default=0.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    store: Store = open_store(Settings(_env_file=None))  # type: ignore[call-arg]

    def die() -> None:
        _die(args.how, args.marker)

    channel = CrashingChannel(
        ConsoleDeliveryChannel(store.settings.home / DELIVERY_LOG), die, args.die, args.at
    )
    channel.delay = args.send_delay
    if args.die == "in-claim":
        _crash_inside_claim(die, args.at)
    router = build_router(store, {CONSOLE: channel})
    sender = Sender(
        store, router, build_formatter(store), lambda: NOW, args.worker, MemberRateLimit()
    )
    _wait_for_go(args.ready, args.go)
    limit = args.at if args.die == "after-mark" else None
    stats = asyncio.run(sender.run(max_digests=limit))
    if args.die == "after-mark":
        die()
    print(json.dumps({"worker": args.worker, "sent": stats.sent, "resent": stats.resent}))
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
