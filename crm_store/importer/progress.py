"""A rich progress bar for large files, or nothing at all."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class Tracker:
    """Phases with a row count each; silent unless enabled."""

    def __init__(self, enabled: bool) -> None:
        self._progress: Progress | None = None
        if enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
        self._task: TaskID | None = None

    def __enter__(self) -> Tracker:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def phase(self, description: str, total: int) -> None:
        """Start a new bar of `total` rows."""
        if self._progress is not None:
            self._task = self._progress.add_task(description, total=total)

    def advance(self, rows: int) -> None:
        """Move the current bar on by `rows`."""
        if self._progress is not None and self._task is not None and rows:
            self._progress.advance(self._task, rows)
