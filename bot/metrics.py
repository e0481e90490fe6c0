"""Request and delivery counters for `GET /metrics` (Prometheus text format); no personal data."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from bot.outbox_metrics import OutboxCollector
from crm_store.store import Store
from retrieval.llm_metrics import LLM_CALLS

REGISTRY = CollectorRegistry()

CALLBACKS = Counter(
    "bankbot_callbacks_total",
    "Platform callbacks by channel and outcome (accepted, duplicate, refused, invalid, event, "
    "unsupported, ignored, verified, error; a WeCom callback stored sealed counts as sealed, "
    "then once opened as accepted, event, unsupported, ignored, duplicate or refused).",
    ["channel", "outcome"],
    registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "bankbot_ack_seconds",
    "Time from receiving a callback to acknowledging it.",
    ["channel"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
REPLIES = Counter(
    "bankbot_replies_total",
    "Replies sent, by channel and result.",
    ["channel", "result"],
    registry=REGISTRY,
)
REGISTRY.register(LLM_CALLS)
OUTBOX = OutboxCollector()  # digests and index lag, read from SQL: every process's work
REGISTRY.register(OUTBOX)

VOICE = Counter(
    "bankbot_voice_messages_total",
    "Voice messages by channel and outcome: transcribed, or why not (offline, too_long, "
    "too_large, download, decode, no_audio, timeout, unreachable, server_error, bad_answer, "
    "empty, no_source, error).",
    ["channel", "outcome"],
    registry=REGISTRY,
)


def watch(store: Store) -> None:
    """Read the digest and index outbox figures from this store at every scrape."""
    OUTBOX.store = store


def render() -> bytes:
    """The current counters in Prometheus text format: this process's, or with
    PROMETHEUS_MULTIPROC_DIR set before start-up (`bankbot serve`), those of serve and its
    answer processes added up (bot/shared_metrics.py)."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return generate_latest(REGISTRY)
    shared = CollectorRegistry()
    MultiProcessCollector(shared)
    shared.register(OUTBOX)  # read from SQL at the scrape, as above
    return generate_latest(shared)
