"""How often the LLM is asked and how often its answer is replaced by the fallback.

Counted here, where the calls are made; `bot.metrics` serves them on `/metrics`. Labels carry
no personal data.
"""

from __future__ import annotations

from prometheus_client import Counter

LLM_CALLS = Counter(
    "bankbot_llm_calls_total",
    "LLM calls by purpose (answer, intent) and outcome: ok, or fallback (failed, too slow or "
    "empty: the retrieval-only answer or the usual 'not understood' reply went out instead).",
    ["purpose", "outcome"],
    registry=None,  # registered by bot.metrics
)


def count_call(purpose: str, *, ok: bool) -> None:
    """Count one LLM call."""
    LLM_CALLS.labels(purpose=purpose, outcome="ok" if ok else "fallback").inc()
