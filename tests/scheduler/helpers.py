"""Shared helpers for the reminder tests: a recording channel, a router, data and clocks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.wiring import build_formatter
from crm_store.crypto import FieldCipher, decode_key
from crm_store.db import Database, make_engine
from crm_store.models import FollowUp, Reminder
from crm_store.store import Store
from handlers.contracts import Reply
from handlers.guard import require_guarded
from scheduler.delivery import Route
from scheduler.planning import PlanResult
from scheduler.service import plan_day
from scheduler.timer import ReminderTimer
from tests.conftest import TEST_KEY, make_settings
from tests.world import customer, holding

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 8, minute: int = 30) -> datetime:
    """A business-time instant (Asia/Shanghai)."""
    return datetime.combine(day, time(hour, minute), SHANGHAI)


class RecordingChannel:
    """A Channel that keeps what it was asked to send."""

    def __init__(self, name: str = "console") -> None:
        self.name = name
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, recipient: str, reply: Reply) -> None:
        """Record one delivery (a real channel's first step: only guarded replies)."""
        self.sent.append((recipient, require_guarded(reply)))

    def texts(self, recipient: str) -> list[str]:
        """Texts delivered to one recipient, in order."""
        return [reply.text for who, reply in self.sent if who == recipient]

    def recipients(self) -> list[str]:
        """Who got a message, in order (repeats kept)."""
        return [who for who, _ in self.sent]


class StaticRouter:
    """Routes every staff member to the same channel, their staff id as address."""

    def __init__(self, channel: RecordingChannel) -> None:
        self.channel = channel

    def route(self, staff_id: str) -> Route | None:
        """The staff member's private address."""
        return Route(self.channel, staff_id)


class Clock:
    """A settable clock for the timer and the sender."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def store_for(db_url: str, home: Path, **extra: str) -> Iterator[Store]:
    """A store like the `store` fixture, with extra settings (e.g. REMINDER_* values)."""
    settings = make_settings(home, db_url, **extra)
    db = Database(make_engine(settings.db_url))
    try:
        yield Store(settings, db, FieldCipher(decode_key(TEST_KEY)))
    finally:
        db.dispose()


def with_console(store: Store) -> Store:
    """The same database, delivering to the console log (REMINDER_CHANNEL=console)."""
    settings = make_settings(store.settings.home, store.settings.db_url, REMINDER_CHANNEL="console")
    return Store(settings, store.db, store.cipher)


def make_timer(store: Store, clock: Clock) -> tuple[ReminderTimer, RecordingChannel]:
    """A timer on a recording console channel, with the real digest formatter."""
    channel = RecordingChannel()
    return ReminderTimer(store, StaticRouter(channel), build_formatter(store), clock=clock), channel


def add_customer(
    store: Store,
    cid: str,
    owner: str,
    birthday: tuple[int, int, str] | None = None,
    *,
    leap: bool = False,
    name: str = "测试客户",
) -> None:
    """One more customer of branch B2."""
    row = customer(store.cipher, cid, name, owner, "B2", "regular", "13100000000", birthday)
    row.birthday_leap_month = leap
    with store.db.write() as s:
        s.add(row)


def add_holding(store: Store, hid: str, cid: str, kind: str, maturity: date) -> None:
    """One more holding maturing on `maturity`."""
    with store.db.write() as s:
        s.add(holding(hid, cid, kind, f"产品{hid}", "100000", maturity))


def add_followup(
    store: Store, cid: str, staff: str, due: date, summary: str, status: str = "open"
) -> int:
    """One follow-up task; its id."""
    with store.db.write() as s:
        task = FollowUp(
            customer_id=cid,
            staff_id=staff,
            due_on=due,
            status=status,
            summary=summary,
            created_at=at(date(2026, 11, 1)),
        )
        s.add(task)
        s.flush()
        return task.id


def plan_on(store: Store, day: date) -> PlanResult:
    """Plan one business date and open its digests, as the morning job does."""
    return plan_day(store, day, now=at(day, 8, 30))


def count(store: Store, model: Any, *where: Any) -> int:
    """Rows of `model` matching `where`."""
    with store.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def reminders(store: Store, *where: Any) -> list[Reminder]:
    """Reminder rows matching `where`, oldest first."""
    with store.db.read() as s:
        return list(s.scalars(select(Reminder).where(*where).order_by(Reminder.id)).all())


def item_line(text: str, number: int) -> str:
    """The numbered line `number` of a digest text."""
    prefix = f"{number}. "
    found = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(found) == 1, text
    return found[0]
