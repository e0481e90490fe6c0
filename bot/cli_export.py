"""`bankbot export KIND [--format csv|xlsx] [--out FILE] [--reveal --as ADMIN]`."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from bot.cli_common import fail, one_line_errors, store_from_env
from bot.cli_staff_moves import operator_name

if TYPE_CHECKING:
    from crm_store.store import Store

FORMATS = ("csv", "xlsx")
KINDS = ("branches", "staff", "customers", "holdings", "interactions")
PRIVATE_MODE = 0o600  # a revealed export holds full phone and ID numbers


@one_line_errors
def export_command(
    kind: Annotated[
        str, typer.Argument(help="branches, staff, customers, holdings or interactions")
    ],
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx (xlsx needs --out).")] = "csv",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write; CSV goes to standard output without it."),
    ] = None,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Full phone and ID numbers (admins only, audited).")
    ] = False,
    as_staff: Annotated[
        str | None,
        typer.Option("--as", help="Staff id of the admin asking; required with --reveal."),
    ] = None,
) -> None:
    """Write one kind in the columns its import takes; importing it again changes nothing."""
    if kind not in KINDS:
        raise fail(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}", 2)
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; use csv or xlsx", 2)
    if fmt == "xlsx" and out is None:
        raise fail("--format xlsx needs --out FILE", 2)
    if reveal and as_staff is None:
        raise fail("--reveal needs --as STAFF, the id of an active admin", 2)
    store = store_from_env()
    try:
        if as_staff is not None:
            _check_admin(store, as_staff)
        _audit(store, kind, as_staff, reveal=reveal, out=out)
        _write(store, kind, fmt, out, reveal=reveal)
    finally:
        store.close()
    if out is not None:
        print(f"wrote {kind} to {out.name}" + (" (numbers revealed)" if reveal else ""))


def _check_admin(store: Store, staff_id: str) -> None:
    """Only an active admin may ask; anyone else is refused before anything is read."""
    from crm_store.models import Staff

    with store.db.read() as session:
        staff = session.get(Staff, staff_id)
        if staff is None or not staff.active or staff.role != "admin":
            raise fail(f"{staff_id} is not an active admin; only admins may export with --reveal")


def _audit(
    store: Store, kind: str, as_staff: str | None, *, reveal: bool, out: Path | None
) -> None:
    """The audit row goes in before any row is written out: fail closed."""
    from crm_store.audit import write_audit
    from crm_store.exporter import customer_ids

    with store.db.write() as session:
        disclosed = customer_ids(session) if kind == "customers" else []
        write_audit(
            session,
            at=datetime.now(UTC),
            actor_staff_id=as_staff,
            channel="cli",
            sender_id=operator_name(),
            chat_type="cli",
            intent="export",
            customer_ids=disclosed,
            decision="allowed",
            text_masked=f"export {kind}" + (" --reveal" if reveal else ""),
            detail=f"kind={kind} rows={len(disclosed) if disclosed else '-'} "
            f"reveal={'yes' if reveal else 'no'} out={out.name if out else 'stdout'}",
        )


def _write(store: Store, kind: str, fmt: str, out: Path | None, *, reveal: bool) -> None:
    from crm_store.exporter import export_rows, header

    tz = store.settings.tz
    with store.db.read() as session:
        rows = export_rows(session, kind, cipher=store.cipher, tz=tz, reveal=reveal)
        if out is None:
            _write_csv(sys.stdout, header(kind, tz), rows)
            return
        partial = out.with_name(f".{out.name}.partial")
        # Written aside and renamed: a failure leaves no half-written file under the name.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
        try:
            if fmt == "csv":
                with os.fdopen(descriptor, "w", encoding="utf-8-sig", newline="") as handle:
                    _write_csv(handle, header(kind, tz), rows)
            else:
                os.close(descriptor)
                _write_xlsx(partial, kind, header(kind, tz), rows)
            partial.replace(out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise


def _write_csv(handle: TextIO, columns: list[str], rows: Iterable[list[str]]) -> None:
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)


def _write_xlsx(path: Path, kind: str, columns: list[str], rows: Iterable[list[str]]) -> None:
    from openpyxl import Workbook  # only for xlsx: its import costs start-up time

    book = Workbook(write_only=True)
    sheet = book.create_sheet(kind)
    sheet.append(columns)
    for row in rows:
        sheet.append(row)  # every cell a string: ids like 007 and amounts stay as written
    book.save(path)
