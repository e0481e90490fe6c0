"""Turning read rows into Core values, collecting every bad cell instead of stopping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from crm_store.importer.errors import ErrorList, FieldError
from crm_store.importer.fields import shown
from crm_store.importer.kinds import Built, Context, Kind
from crm_store.importer.readers import EXTRA, Row

TICK_ROWS = 1_000


def parse_rows(
    kind: Kind,
    raw: Sequence[tuple[int, Row]],
    ctx: Context,
    errors: ErrorList,
    tick: Callable[[int], None],
) -> tuple[list[Built], set[str]]:
    """Good rows as Core values, and every id the file defines (bad rows included)."""
    built: list[Built] = []
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
    return built, set(first_row_of)
