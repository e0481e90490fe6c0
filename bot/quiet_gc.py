"""Full garbage collections at quiet times, never in the middle of a burst of callbacks.

serve freezes what start-up made (bot/serve.py), but the first answers load more that lives as
long (the e5 model's objects, the LLM client, SQL statement caches), and later a full
collection scans all of it: bench/bench_serve.py caught one of 72 ms in the middle of a burst,
which every callback waiting for its acknowledgement then waited for too. Here the
collector's own full collections are switched off and a thread runs one every FULL_EVERY
seconds once no callback has arrived for QUIET_FOR (the intake mark, bot/intake_mark.py), or
after AT_MOST seconds whatever the traffic, so cycles are still freed. The young generations
are collected as before: their pauses are well under a millisecond.
"""

from __future__ import annotations

import gc
import threading
import time

from bot.intake_mark import IntakeMark

FULL_EVERY = 60.0
QUIET_FOR = 1.0
AT_MOST = 300.0
LOOK_EVERY = 1.0
NEVER = 1_000_000  # young-generation collections before an automatic full one


class QuietCollector:
    """A daemon thread that runs the full collections."""

    def __init__(self, mark: IntakeMark) -> None:
        self.mark = mark
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_full = time.monotonic()
        self._thresholds = gc.get_threshold()

    def start(self) -> None:
        """Switch off automatic full collections and start the thread."""
        young, middle, _ = self._thresholds
        gc.set_threshold(young, middle, NEVER)
        self._thread = threading.Thread(target=self._run, name="quiet-gc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and give the collector its own thresholds back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        gc.set_threshold(*self._thresholds)

    def due(self, now: float, quiet_for: float) -> bool:
        """Whether to collect now: FULL_EVERY since the last and quiet, or AT_MOST since."""
        since = now - self._last_full
        return since >= AT_MOST or (since >= FULL_EVERY and quiet_for >= QUIET_FOR)

    def _run(self) -> None:
        while not self._stop.wait(LOOK_EVERY):
            now = time.monotonic()
            if self.due(now, time.time() - self.mark.last()):
                gc.collect()
                self._last_full = time.monotonic()
