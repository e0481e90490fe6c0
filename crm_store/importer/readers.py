"""Reading CSV and XLSX files as (spreadsheet row number, {column: cell}) with a header check.

Cells come out as stripped text, except XLSX date cells, which stay `date`/`datetime`.
The header is row 1, so the first data row is row 2; blank rows are skipped but still counted.
Text files are decoded as `encodings.decode_text` finds (UTF-8, UTF-16 or GB18030), and their
separator is a comma or, as in Excel's "Unicode text", a tab.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from crm_store.cells import restored
from crm_store.importer.encodings import decode_text
from crm_store.importer.errors import ImportRejected

Cell = str | date  # datetime is a date too
Row = dict[str, Cell]
EXTRA = "(extra cells)"  # key under which a row's cells beyond the header are kept
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")  # .txt: Excel's "Unicode text" (tab-separated)
SUFFIXES = (*TEXT_SUFFIXES, ".xlsx")


@dataclass
class Source:
    """What was found out about a file while reading it: the text encoding, if it is text."""

    encoding: str | None = None


def read_rows(
    path: Path, allowed: Collection[str], required: Collection[str], source: Source | None = None
) -> Iterator[tuple[int, Row]]:
    """Rows of a .csv/.tsv/.txt or .xlsx file after checking its header; `source` learns the
    encoding a text file was read in."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportRejected(
            [f'{path.name}: unsupported file type "{suffix}" (use .csv, .tsv, .txt or .xlsx)']
        )
    if not path.exists():
        raise ImportRejected([f"{path.name}: no such file"])
    if not path.is_file():
        raise ImportRejected([f"{path.name}: not a file"])
    raw = _text_cells(path, source or Source()) if suffix in TEXT_SUFFIXES else _xlsx_cells(path)
    try:
        first = next(raw, None)
        if first is None:
            raise ImportRejected([f"{path.name}: empty file"])
        header = _check_header(path.name, first, allowed, required)
        width = len(header)
        for number, cells in enumerate(raw, start=2):
            if not any(cells):  # "" is the only false cell
                continue
            row: Row = dict(zip(header, cells, strict=False))
            if len(cells) > width and any(cells[width:]):
                row[EXTRA] = "more cells than header columns"
            yield number, row
    except (OSError, csv.Error) as exc:
        raise ImportRejected([f"{path.name}: cannot read file ({exc})"]) from exc


def _check_header(
    name: str, cells: list[Cell], allowed: Collection[str], required: Collection[str]
) -> list[str]:
    header = [str(cell).strip().lower() for cell in cells]
    while header and header[-1] == "":
        header.pop()
    if not header:
        raise ImportRejected([f"{name}:1: empty header row"])
    errors: list[str] = []
    seen: set[str] = set()
    for position, column in enumerate(header, start=1):
        if column == "":
            errors.append(f"{name}:1: column {position}: empty column name")
        elif column in seen:
            errors.append(f"{name}:1: {column}: duplicate column")
        elif column not in allowed:
            errors.append(f"{name}:1: {column}: unknown column")
        seen.add(column)
    errors.extend(
        f"{name}:1: {column}: missing column" for column in required if column not in seen
    )
    if errors:
        raise ImportRejected(errors)
    return header


def _text_cells(path: Path, source: Source) -> Iterator[list[Cell]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRejected([f"{path.name}: cannot read file ({exc.strerror})"]) from exc
    decoded = decode_text(data)
    if decoded is None:
        raise ImportRejected(
            [f"{path.name}: not text in UTF-8, UTF-16 (with BOM) or GB18030/GBK; save it as one"]
        )
    source.encoding, content = decoded
    header_line = content.split("\n", 1)[0]
    # Column names hold neither commas nor tabs, so the header tells the separator apart.
    delimiter = "\t" if header_line.count("\t") > header_line.count(",") else ","
    # A cell an export neutralised ('=...) reads back as it was stored (crm_store/cells.py);
    # a file without any apostrophe (the usual case) skips that per-cell look.
    restore = "'" in content
    for record in csv.reader(io.StringIO(content, newline=""), delimiter=delimiter):
        cells: list[Cell] = [cell.strip() for cell in record]
        yield [restored(str(cell)) for cell in cells] if restore else cells


def _xlsx_cells(path: Path) -> Iterator[list[Cell]]:
    from openpyxl import load_workbook  # imported here: CSV-only runs skip its start-up cost

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or foreign file
        raise ImportRejected([f"{path.name}: not a readable .xlsx file ({exc})"]) from exc
    try:
        if not book.worksheets:
            return
        for values in book.worksheets[0].iter_rows(values_only=True):
            yield [_xlsx_cell(value) for value in values]
    finally:
        book.close()


def _xlsx_cell(value: Any) -> Cell:
    """Spreadsheet cell -> text (numbers without a spurious `.0`) or a date."""
    if value is None:
        return ""
    if isinstance(value, str):
        return restored(value.strip())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, time):
        return value.isoformat()
    return str(value).strip()
