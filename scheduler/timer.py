"""The morning timer: APScheduler 3 in the business time zone, with catch-up on start-up.

APScheduler only says *when*; what is due lives in the outbox, so a missed or doubled run
costs nothing: planning is idempotent and a digest is claimed by exactly one sender. Two
processes may run this timer against one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crm_store.store import Store
from scheduler.delivery import Formatter, Router, SendStats
from scheduler.planning import PlanResult
from scheduler.service import plan_day, send_due, worker_name
from scheduler.workdays import is_digest_day

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
LATE_AFTER = timedelta(minutes=15)  # a digest planned later than this is marked late
RETRY_EVERY = timedelta(minutes=1)


class ReminderTimer:
    """Plans and sends the morning digest; retries failed deliveries every minute."""

    def __init__(
        self, store: Store, router: Router, formatter: Formatter, clock: Clock | None = None
    ) -> None:
        self.store = store
        self.router = router
        self.formatter = formatter
        self.tz = store.settings.tz
        self.clock = clock or (lambda: datetime.now(self.tz))
        self.worker = worker_name()
        self.scheduler = BackgroundScheduler(
            timezone=self.tz,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )

    def _now(self) -> datetime:
        return self.clock().astimezone(self.tz)

    def start(self) -> None:
        """Schedule the morning digest and the retry loop, then catch up at once."""
        at = self.store.settings.digest_at
        self.scheduler.add_job(
            self.morning,
            CronTrigger(hour=at.hour, minute=at.minute, timezone=self.tz),
            id="morning-digest",
        )
        self.scheduler.add_job(
            self.send,
            IntervalTrigger(seconds=RETRY_EVERY.total_seconds(), timezone=self.tz),
            id="send-due",
        )
        self.scheduler.add_job(self.catch_up, id="catch-up")  # runs once, right away
        self.scheduler.start()

    def stop(self) -> None:
        """Stop the timer, letting a running job finish."""
        self.scheduler.shutdown(wait=True)

    def next_digest_at(self) -> datetime | None:
        """When the next morning digest fires (for health checks and tests)."""
        job = self.scheduler.get_job("morning-digest")
        return job.next_run_time if job else None

    def morning(self) -> PlanResult | None:
        """The 08:30 job: plan today if it is a digest day, then send."""
        return self._plan_and_send(late=False)

    def catch_up(self) -> PlanResult | None:
        """On start-up: if today's digest time has passed, plan and send it now (once)."""
        now = self._now()
        digest_at = datetime.combine(now.date(), self.store.settings.digest_at, self.tz)
        if now < digest_at:
            return None
        return self._plan_and_send(late=now > digest_at + LATE_AFTER)

    def _plan_and_send(self, *, late: bool) -> PlanResult | None:
        now = self._now()
        settings = self.store.settings
        if not is_digest_day(now.date(), on_non_working_days=settings.digest_on_non_working_days):
            log.info("no digest on %s (not a working day)", now.date())
            return None
        result = plan_day(self.store, now.date(), now=now, late=late)
        log.info(
            "planned %s: %s reminders, %s digests", now.date(), result.reminders, result.digests
        )
        self.send()
        return result

    def send(self) -> SendStats:
        """Deliver whatever is due now (new digests and retries)."""
        stats = asyncio.run(
            send_due(self.store, self.router, self.formatter, self._now, worker=self.worker)
        )
        if stats.sent or stats.failed or stats.retried or stats.undeliverable:
            log.info(
                "digests sent=%s retried=%s failed=%s undeliverable=%s (no channel)",
                stats.sent,
                stats.retried,
                stats.failed,
                stats.undeliverable,
            )
        return stats
