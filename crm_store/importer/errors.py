"""The importer's error type and the per-row error list it is built from."""

from __future__ import annotations

from dataclasses import dataclass, field

from crm_store.errors import StoreError

MAX_ERROR_LINES = 200


class ImportRejected(StoreError):
    """The file was not imported; `errors` holds one `file:row: column: reason` line each."""

    def __init__(self, errors: list[str]) -> None:
        if len(errors) > MAX_ERROR_LINES:
            extra = len(errors) - MAX_ERROR_LINES
            errors = [*errors[:MAX_ERROR_LINES], f"... and {extra} more"]
        self.errors = errors
        super().__init__("\n".join(errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)


class FieldError(ValueError):
    """A reason about one column, raised where the column is not the one being parsed."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass
class ErrorList:
    """Bad cells of one file, kept in row order for the report."""

    file: str
    items: list[tuple[int, str, str]] = field(default_factory=list)

    def add(self, row: int, column: str, reason: str) -> None:
        """Record that `column` on spreadsheet row `row` is wrong, and why."""
        self.items.append((row, column, reason))

    def __bool__(self) -> bool:
        return bool(self.items)

    def lines(self) -> list[str]:
        """`file:row: column: reason` lines, sorted by row (stable within a row)."""
        ordered = sorted(self.items, key=lambda item: item[0])
        return [f"{self.file}:{row}: {column}: {reason}" for row, column, reason in ordered]

    def raise_if_any(self) -> None:
        """Reject the file when anything was recorded."""
        if self.items:
            raise ImportRejected(self.lines())
