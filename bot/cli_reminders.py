"""`bankbot reminders ...` and `bankbot scheduler`: plan, send, preview and watch reminders."""

from __future__ import annotations

import asyncio
import signal
import threading
from datetime import date, datetime
from typing import Annotated

import typer
from sqlalchemy import func, select

from bot.cli_common import fail, one_line_errors, store_from_env
from bot.wiring import build_formatter, build_router
from crm_store.models import Digest, Reminder
from crm_store.store import Store
from scheduler.delivery import SendStats
from scheduler.service import plan_day, preview_day, send_due
from scheduler.timer import ReminderTimer

app = typer.Typer(no_args_is_help=True, help="Birthday, maturity and follow-up reminders.")

DateOption = Annotated[str | None, typer.Option("--date", help="Business date (YYYY-MM-DD).")]


def _business_date(store: Store, value: str | None) -> tuple[date, datetime]:
    now = datetime.now(store.settings.tz)
    if value is None:
        return now.date(), now
    try:
        return date.fromisoformat(value), now
    except ValueError:
        raise fail(f"--date must be YYYY-MM-DD, not {value!r}") from None


@app.command("plan")
@one_line_errors
def plan_command(day: DateOption = None) -> None:
    """Write the reminders due on a business date into the outbox (safe to repeat)."""
    store = store_from_env()
    try:
        business_date, now = _business_date(store, day)
        r = plan_day(store, business_date, now=now)
    finally:
        store.close()
    counts = f"{r.birthdays} birthdays, {r.maturities} maturities, {r.followups} follow-ups"
    print(f"planned {business_date} (days after {r.since}): {counts}; {r.digests} new digests")


@app.command("send")
@one_line_errors
def send_command() -> None:
    """Deliver every digest that is due now."""
    store = store_from_env()
    try:
        stats = asyncio.run(_send(store))
    finally:
        store.close()
    print(
        f"sent {stats.sent} digests ({stats.items} items); empty {stats.empty}, "
        f"retry later {stats.retried}, failed {stats.failed}, resent {stats.resent}"
    )


async def _send(store: Store) -> SendStats:
    tz = store.settings.tz
    return await send_due(
        store, build_router(store), build_formatter(store), lambda: datetime.now(tz)
    )


@app.command("run")
@one_line_errors
def run_command(
    day: DateOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print; send and record nothing.")
    ] = False,
) -> None:
    """Plan and send for a business date."""
    store = store_from_env()
    try:
        business_date, now = _business_date(store, day)
        if dry_run:
            result, digests = preview_day(
                store, business_date, now=now, formatter=build_formatter(store)
            )
            for d in digests:
                print(f"--- to {d.recipient_staff_id}\n{d.text}")
            total = f"{result.reminders} reminders in {len(digests)} digests"
            print(f"(dry run: {total}; nothing recorded)")
            return
        plan_day(store, business_date, now=now)
        stats = asyncio.run(_send(store))
        sent = f"sent {stats.sent} digests ({stats.items} items)"
        print(f"{business_date}: {sent}, failed {stats.failed}")
    finally:
        store.close()


@app.command("status")
@one_line_errors
def status_command() -> None:
    """Counts by status, and every failed digest with its reason."""
    store = store_from_env()
    try:
        with store.db.read() as session:
            digests = session.execute(
                select(Digest.status, func.count()).group_by(Digest.status)
            ).all()
            reminders = session.execute(
                select(Reminder.status, func.count()).group_by(Reminder.status)
            ).all()
            failed = session.scalars(
                select(Digest).where(Digest.status == "failed").order_by(Digest.id)
            ).all()
    finally:
        store.close()
    print("digests:   " + (", ".join(f"{s} {n}" for s, n in digests) or "none"))
    print("reminders: " + (", ".join(f"{s} {n}" for s, n in reminders) or "none"))
    for d in failed:
        print(
            f"failed digest {d.id} to {d.recipient_staff_id} for {d.business_date} "
            f"after {d.attempts} attempts: {d.last_error}"
        )


def run_scheduler() -> None:
    """Run the reminder timer in the foreground until interrupted."""
    store = store_from_env()
    timer = ReminderTimer(store, build_router(store), build_formatter(store))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    timer.start()
    print(f"reminder timer running; next digest at {timer.next_digest_at()}")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        timer.stop()
        store.close()
