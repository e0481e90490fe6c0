"""`bankbot reminders ...` and `bankbot scheduler`: plan, send, preview and watch reminders.

Words used in every output: a *reminder* is one birthday, maturity or follow-up of one
customer (a row of the outbox); a *digest* is the one message a staff member gets for a
business date; its *items* are its numbered lines: its reminders, then overdue follow-ups.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from datetime import date, datetime
from typing import Annotated

import typer

from bot.cli_common import fail, one_line_errors, store_from_env
from bot.cli_help import typer_app
from bot.index_upkeep import OwnedUpkeep
from bot.reminder_report import no_channel_warning, outcome, preview_summary, status_lines
from bot.wiring import build_formatter, reminder_router
from crm_store.store import Store
from scheduler.delivery import SendStats
from scheduler.service import plan_day, preview_day, send_due
from scheduler.status import not_yet_due, outbox_status
from scheduler.timer import ReminderTimer
from scheduler.workdays import is_digest_day

app = typer_app(no_args_is_help=True, help="Birthday, maturity and follow-up reminders.")

DateOption = Annotated[
    str | None,
    typer.Option(
        "--date",
        metavar="YYYY-MM-DD",
        help="Business date; without it, today in BUSINESS_TZ.",
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force", help="Plan a future date or a non-working day anyway (still sent no earlier)."
    ),
]


def _business_date(store: Store, value: str | None) -> tuple[date, datetime]:
    now = datetime.now(store.settings.tz)
    if value is None:
        return now.date(), now
    try:
        return date.fromisoformat(value), now
    except ValueError:
        raise fail(f"--date must be YYYY-MM-DD, not {value!r}") from None


def _held_back(store: Store, day: date, now: datetime) -> str | None:
    """Why `day` is only previewed or skipped without --force; None when it may be planned."""
    settings = store.settings
    if not is_digest_day(day, on_non_working_days=settings.digest_on_non_working_days):
        return (
            f"{day} is not a working day: nothing is sent; its reminders go out with the next "
            "working day's digest (REMINDER_ON_NON_WORKING_DAYS=false; --force plans it anyway)"
        )
    if day > now.date():
        return (
            f"{day} is in the future: a preview, nothing recorded (--force plans it now; its "
            f"digests still go out on {day} at {settings.digest_time}, never earlier)"
        )
    return None


def _preview(store: Store, day: date, now: datetime, *, show_texts: bool) -> None:
    result, digests = preview_day(store, day, now=now, formatter=build_formatter(store))
    if show_texts:
        for d in digests:
            print(f"--- to {d.recipient_staff_id}\n{d.text}")
    print(preview_summary(day, result, digests))


@app.command("plan")
@one_line_errors
def plan_command(day: DateOption = None, force: ForceOption = False) -> None:
    """Write the reminders due on a business date into the outbox (safe to repeat)."""
    store = store_from_env()
    try:
        business_date, now = _business_date(store, day)
        reason = _held_back(store, business_date, now)
        if reason and not force:
            print(reason)
            if business_date > now.date():
                _preview(store, business_date, now, show_texts=False)
            return
        r = plan_day(store, business_date, now=now)
    finally:
        store.close()
    kinds = f"{r.birthdays} birthdays, {r.maturities} maturities, {r.followups} follow-ups"
    print(
        f"planned {business_date} (days after {r.since}): {r.reminders} new reminders "
        f"({kinds}); {r.digests} new digests, sent from {business_date} {_digest_time(store)}"
    )


def _digest_time(store: Store) -> str:
    return store.settings.digest_at.strftime("%H:%M")


@app.command("send")
@one_line_errors
def send_command() -> None:
    """Deliver every digest that is due now."""
    store = store_from_env()
    try:
        stats = _send(store)
    finally:
        store.close()
    print(outcome(stats))


def _send(store: Store) -> SendStats:
    tz = store.settings.tz
    with reminder_router(store) as router:
        warning = no_channel_warning(router.preference)
        if warning:
            print(warning)
        stats = asyncio.run(
            send_due(store, router, build_formatter(store), lambda: datetime.now(tz))
        )
    with store.db.read() as session:
        waiting, first = not_yet_due(session, datetime.now(tz))
    if waiting and first is not None:
        due = first.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        print(f"{waiting} digests are not due yet (the first at {due}): sent no earlier")
    return stats


@app.command("run")
@one_line_errors
def run_command(
    day: DateOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the digests; send and record nothing.")
    ] = False,
    force: ForceOption = False,
) -> None:
    """Plan a business date, then send what is due now."""
    store = store_from_env()
    try:
        business_date, now = _business_date(store, day)
        reason = _held_back(store, business_date, now)
        if reason and not force:
            print(reason)
            if business_date > now.date():
                _preview(store, business_date, now, show_texts=dry_run)
            return
        if dry_run:
            _preview(store, business_date, now, show_texts=True)
            return
        planned = plan_day(store, business_date, now=now)
        stats = _send(store)
    finally:
        store.close()
    print(f"{business_date}: planned {planned.reminders} new reminders; {outcome(stats)}")


@app.command("status")
@one_line_errors
def status_command() -> None:
    """Digests and reminders by status, what cancelled and empty mean, and every digest
    that is undeliverable or failed with its reason."""
    store = store_from_env()
    try:
        with store.db.read() as session:
            status = outbox_status(session)
    finally:
        store.close()
    for line in status_lines(status):
        print(line)


def run_scheduler() -> None:
    """Run the reminder timer in the foreground until interrupted."""
    from bot import logs
    from bot.serve import service_secrets

    store = store_from_env()
    logs.configure()  # JSON lines, request URLs (bot token, access token) never logged
    logs.register_secrets(service_secrets(store))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        # The timer process also applies queued note changes, unless serve holds the index.
        with reminder_router(store) as router, OwnedUpkeep(store):
            timer = ReminderTimer(store, router, build_formatter(store))
            timer.start()
            channels = ", ".join(router.preference) or "none"
            print(f"reminder timer running on {channels}; next digest at {timer.next_digest_at()}")
            warning = no_channel_warning(router.preference)
            if warning:
                print(warning)
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
            finally:
                timer.stop()
    finally:
        store.close()
