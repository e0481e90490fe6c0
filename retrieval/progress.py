"""Progress of long index work (a rebuild, an import's notes), readable in a log as well.

On a terminal it is a rich bar. Anywhere else (`make demo` piped, CI, a cron mail) a bar
writes nothing useful, so it prints a line every few seconds with the count, the rate and
the time left, and a last line with the total.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

LINE_EVERY_SECONDS = 5.0


class Progress:
    """One task's progress: `advance(n)` as work is done; a context manager."""

    def __init__(
        self,
        description: str,
        total: int,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        every: float = LINE_EVERY_SECONDS,
    ) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.clock = clock
        self.every = every
        self.enabled = enabled
        self._started = clock()
        self._last_line = self._started
        self._bar: Any = None
        self._task: Any = None
        if enabled and self.stream.isatty():
            self._start_bar()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
        )
        self._task = self._bar.add_task(self.description, total=self.total)
        self._bar.start()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def advance(self, count: int) -> None:
        """Record `count` more items done; maybe print a line."""
        self.done += count
        self.total = max(self.total, self.done)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, total=self.total)
            return
        now = self.clock()
        if now - self._last_line >= self.every:
            self._last_line = now
            self._line(self._running_text(now - self._started))

    def rate(self, elapsed: float) -> float:
        """Items per second so far."""
        return self.done / elapsed if elapsed > 0 else 0.0

    def _running_text(self, elapsed: float) -> str:
        rate = self.rate(elapsed)
        left = self.total - self.done
        eta = f"about {left / rate:.0f} s left" if rate > 0 else "time left unknown"
        share = self.done * 100 // self.total if self.total else 100
        return f"{self.description}: {self.done:,}/{self.total:,} ({share}%), {rate:.0f}/s, {eta}"

    def finish(self) -> None:
        """Stop the bar, or print the closing line (only if a line was printed before)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            return
        elapsed = self.clock() - self._started
        if self._last_line != self._started:
            self._line(
                f"{self.description}: {self.done:,} done in {elapsed:.0f} s "
                f"({self.rate(elapsed):.0f}/s)"
            )
        self.enabled = False

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
