"""Figures `/metrics` reads from SQL at each scrape: digests by outcome and the note index's
outbox lag. The database is the truth whichever process did the work (`bankbot scheduler`
or a cron `reminders send` delivers too), so these are never per-process counters."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from crm_store.models import IndexOutbox
from crm_store.store import Store
from scheduler.status import digest_totals

log = logging.getLogger(__name__)


class OutboxCollector(Collector):
    """Collects from `store` once one is set (`bot.metrics.watch`)."""

    def __init__(self) -> None:
        self.store: Store | None = None

    def describe(self) -> list[Metric]:
        """Nothing up front: the families depend on the database (no query at registration)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The current figures; none when the database cannot be read."""
        if self.store is None:
            return
        try:
            with self.store.db.read() as session:
                digests = digest_totals(session)
                pending, oldest = session.execute(
                    select(func.count(), func.min(IndexOutbox.created_at)).where(
                        IndexOutbox.processed_at.is_(None)
                    )
                ).one()
        except Exception as exc:  # a scrape must not fail: /healthz reports the database
            log.warning("metrics: outbox figures unavailable: %s", type(exc).__name__)
            return
        yield from _digest_metrics(digests)
        yield from _index_metrics(int(pending or 0), oldest)


def _digest_metrics(digests: dict[str, int]) -> Iterator[Metric]:
    delivered = CounterMetricFamily(
        "bankbot_digests_delivered", "Reminder digests delivered (all processes)."
    )
    delivered.add_metric([], digests.get("sent", 0))
    failed = CounterMetricFamily(
        "bankbot_digests_failed", "Reminder digests given up after their retries."
    )
    failed.add_metric([], digests.get("failed", 0))
    by_status = GaugeMetricFamily(
        "bankbot_digests",
        "Reminder digests by status (pending, sending, sent, failed, empty, undeliverable).",
        labels=["status"],
    )
    for status in ("pending", "sending", "sent", "failed", "empty", "undeliverable"):
        by_status.add_metric([status], digests.get(status, 0))
    yield from (delivered, failed, by_status)


def _index_metrics(pending: int, oldest: datetime | None) -> Iterator[Metric]:
    rows = GaugeMetricFamily(
        "bankbot_index_outbox_pending", "Note changes not yet applied to the search index."
    )
    rows.add_metric([], pending)
    age = GaugeMetricFamily(
        "bankbot_index_lag_seconds", "Age of the oldest note change not yet in the index (0: none)."
    )
    lag = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
    age.add_metric([], max(0.0, lag))
    yield from (rows, age)
