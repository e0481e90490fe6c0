"""Turning read rows into Core values, collecting every bad cell instead of stopping.

Besides the good rows, every row's parsed cells are kept (bad rows included), so the checks
against the database report an unknown reference on a row that also has a bad date in the
same pass. Checks across columns of one row (a birthday against its calendar, a maturity
against its start) need every cell of the row, so they run on rows whose cells all parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from crm_store.importer.errors import ErrorList, FieldError
from crm_store.importer.fields import shown
from crm_store.importer.kinds import Built, Context, Kind
from crm_store.importer.readers import EXTRA, Row

TICK_ROWS = 1_000


class Parsed(NamedTuple):
    """One row's cells that parsed, by header column, whether or not the row is good."""

    row: int
    values: dict[str, Any]


class ParseResult(NamedTuple):
    """The good rows, every row's parsed cells, and every id the file defines."""

    built: list[Built]
    parsed: list[Parsed]
    file_ids: set[str]


def parse_rows(
    kind: Kind,
    raw: Sequence[tuple[int, Row]],
    ctx: Context,
    errors: ErrorList,
    tick: Callable[[int], None],
) -> ParseResult:
    """Good rows as Core values, every row's parsed cells, and every id the file defines."""
    built: list[Built] = []
    parsed: list[Parsed] = []
    first_row_of: dict[str, int] = {}
    columns = kind.columns
    id_column = kind.id_column
    build = kind.build
    add = errors.add
    for index, (number, cells) in enumerate(raw, start=1):
        if index % TICK_ROWS == 0:
            tick(TICK_ROWS)
        values: dict[str, Any] = {}
        bad = False
        for name, parse, required, default in columns:
            cell = cells.get(name, "")
            if cell == "":
                if required:
                    add(number, name, "required")
                    bad = True
                else:
                    values[name] = default
                continue
            try:
                values[name] = parse(cell)
            except ValueError as exc:
                add(number, name, str(exc))
                bad = True
        parsed.append(Parsed(number, values))
        if EXTRA in cells:
            add(number, EXTRA, str(cells[EXTRA]))
            bad = True
        ident = values.get(id_column)
        if ident is not None:
            first = first_row_of.setdefault(ident, number)
            if first != number:
                add(number, id_column, f"duplicate id {shown(ident)} (first on row {first})")
                bad = True
        if bad:
            continue
        try:
            row_values, extra = build(values, ctx)
        except FieldError as exc:
            add(number, exc.column, exc.reason)
            continue
        built.append(Built(number, row_values, extra))
    tick(len(raw) % TICK_ROWS)
    return ParseResult(built, parsed, set(first_row_of))
