"""`bankbot import KIND PATH`: branches, staff, customers, holdings or interactions from CSV/XLSX.

One transaction per file: a file with any bad row writes nothing, and every bad cell is
reported as `file:row: column: reason` (the header is row 1). Importing is an upsert by id,
so importing the same file twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from crm_store.importer.checks import check_rows
from crm_store.importer.errors import ErrorList, ImportRejected
from crm_store.importer.kinds import kinds
from crm_store.importer.parse import parse_rows
from crm_store.importer.progress import Tracker
from crm_store.importer.readers import read_rows
from crm_store.importer.rowmaps import Context
from crm_store.importer.upsert import roomy_page_cache
from crm_store.importer.writers import write_rows
from crm_store.store import Store

__all__ = ["KINDS", "ImportRejected", "ImportReport", "import_file"]

KINDS = ("branches", "staff", "customers", "holdings", "interactions")
PROGRESS_MIN_ROWS = 5_000


@dataclass(frozen=True)
class ImportReport:
    """What an import did; `inserted_or_updated` counts rows that changed (0 on a dry run)."""

    kind: str
    file: str
    rows: int
    inserted_or_updated: int
    dry_run: bool


def import_file(
    store: Store,
    kind: str,
    path: str | PathLike[str],
    *,
    dry_run: bool = False,
    progress: bool = False,
    now: datetime | None = None,
) -> ImportReport:
    """Validate a whole file, then upsert it in one transaction; raise ImportRejected if bad."""
    spec = kinds(store.settings.tz).get(kind)
    if spec is None:
        raise ImportRejected([f'unknown kind "{kind}" (use one of {", ".join(KINDS)})'])
    file = Path(path)
    raw = list(read_rows(file, spec.allowed, spec.required))
    if not raw:
        raise ImportRejected([f"{file.name}: no data rows below the header"])
    ctx = Context(store.cipher, (now or datetime.now(UTC)).astimezone(UTC))
    errors = ErrorList(file.name)
    with Tracker(progress and len(raw) > PROGRESS_MIN_ROWS) as bar:
        bar.phase(f"checking {file.name}", len(raw))
        rows, file_ids = parse_rows(spec, raw, ctx, errors, bar.advance)
        # Parse first, outside the transaction, so SQLite's write lock is held only for writing.
        session_scope = store.db.read() if dry_run or errors else store.db.write()
        with session_scope as session:
            conn = session.connection()
            check_rows(conn, spec, rows, file_ids, errors)
            errors.raise_if_any()
            if dry_run:
                return ImportReport(kind, file.name, len(rows), 0, True)
            bar.phase(f"writing {file.name}", len(rows))
            try:
                with roomy_page_cache(conn):
                    changed = write_rows(conn, spec, rows, ctx, bar.advance)
            except IntegrityError as exc:  # a row referenced was removed meanwhile
                raise ImportRejected(
                    [f"{file.name}: the database refused the rows ({exc.orig})"]
                ) from exc
    return ImportReport(
        kind, file.name, len(rows), len(rows) if changed is None else changed, False
    )
