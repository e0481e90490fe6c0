"""`bankbot import KIND PATH`: branches, staff, customers, holdings or interactions from CSV/XLSX.

One transaction per file: a file with any bad row writes nothing, and every bad cell is
reported as `file:row: column: reason` (the header is row 1), references and duplicates
included, in one pass. Importing is an upsert by id, so importing the same file twice changes
nothing, and the report says so: rows inserted, updated and unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from os import PathLike
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from crm_store.importer.checks import check_rows
from crm_store.importer.errors import ErrorList, ImportRejected
from crm_store.importer.kinds import kinds
from crm_store.importer.parse import parse_rows
from crm_store.importer.progress import Tracker
from crm_store.importer.readers import Source, read_rows
from crm_store.importer.rowmaps import Context
from crm_store.importer.upsert import roomy_page_cache
from crm_store.importer.writers import write_rows
from crm_store.store import Store

__all__ = ["KINDS", "ImportRejected", "ImportReport", "import_file"]

KINDS = ("branches", "staff", "customers", "holdings", "interactions")
PROGRESS_MIN_ROWS = 5_000


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows inserted, updated and unchanged (all 0 on a dry run)."""

    kind: str
    file: str
    rows: int
    inserted: int
    updated: int
    dry_run: bool
    encoding: str | None = None  # a text file's encoding; None for .xlsx

    @property
    def inserted_or_updated(self) -> int:
        """Rows that changed."""
        return self.inserted + self.updated

    @property
    def unchanged(self) -> int:
        """Rows already stored exactly as in the file."""
        return 0 if self.dry_run else self.rows - self.inserted - self.updated

    def summary(self) -> str:
        """One line for the console, e.g. `customers.csv: 3 rows: 1 imported, 0 updated, ...`."""
        read_as = f" (read as {self.encoding})" if self.encoding else ""
        if self.dry_run:
            return f"{self.file}{read_as}: {self.rows} {self.kind} rows valid (dry run)"
        return (
            f"{self.file}{read_as}: {self.rows} {self.kind} rows: {self.inserted} imported, "
            f"{self.updated} updated, {self.unchanged} unchanged"
        )


def import_file(
    store: Store,
    kind: str,
    path: str | PathLike[str],
    *,
    dry_run: bool = False,
    progress: bool = False,
    now: datetime | None = None,
    as_of: date | None = None,
) -> ImportReport:
    """Validate a whole file, then upsert it in one transaction; raise ImportRejected if bad.

    `as_of` is the business date of the file's figures (AUM history), by default today."""
    spec = kinds(store.settings.tz).get(kind)
    if spec is None:
        raise ImportRejected([f'unknown kind "{kind}" (use one of {", ".join(KINDS)})'])
    file = Path(path)
    source = Source()
    raw = list(read_rows(file, spec.allowed, spec.required, source))
    if not raw:
        raise ImportRejected([f"{file.name}: no data rows below the header"])
    clock = (now or datetime.now(UTC)).astimezone(UTC)
    ctx = Context(store.cipher, clock, as_of or clock.astimezone(store.settings.tz).date())
    errors = ErrorList(file.name)
    with Tracker(progress and len(raw) > PROGRESS_MIN_ROWS) as bar:
        bar.phase(f"checking {file.name}", len(raw))
        rows, parsed, file_ids = parse_rows(spec, raw, ctx, errors, bar.advance)
        # Parse first, outside the transaction, so SQLite's write lock is held only for writing.
        session_scope = store.db.read() if dry_run or errors else store.db.write()
        with session_scope as session:
            conn = session.connection()
            check_rows(conn, spec, parsed, file_ids, errors)
            errors.raise_if_any()
            if dry_run:
                return ImportReport(kind, file.name, len(rows), 0, 0, True, source.encoding)
            bar.phase(f"writing {file.name}", len(rows))
            try:
                with roomy_page_cache(conn):
                    changed = write_rows(conn, spec, rows, ctx, bar.advance)
            except IntegrityError as exc:  # a row referenced was removed meanwhile
                raise ImportRejected(
                    [f"{file.name}: the database refused the rows ({exc.orig})"]
                ) from exc
    return ImportReport(
        kind, file.name, len(rows), changed.inserted, changed.updated, False, source.encoding
    )
