"""Spreadsheet formula neutralisation for exported cells, and its exact reverse for import.

A cell that begins with `=`, `+`, `-` or `@` would be run as a formula by Excel or WPS (a
customer named `=HYPERLINK(...)` becomes a link). Such a cell is exported with a leading
apostrophe, which spreadsheets show as text. To keep this reversible, a cell that already
begins with apostrophes followed by one of those characters gets one apostrophe more; import
removes exactly one apostrophe from any cell of that shape. The only value that does not
survive a trip through import alone is one typed by hand as `'=...`: it is read as `=...`,
which is what the apostrophe means in a spreadsheet anyway.
"""

from __future__ import annotations

import re

_ESCAPED = re.compile(r"'*[=+\-@]")


def neutralised(cell: str) -> str:
    """The cell as exported: never a formula."""
    return f"'{cell}" if _ESCAPED.match(cell) else cell


def restored(cell: str) -> str:
    """An imported cell with the export's neutralising apostrophe taken off."""
    return cell[1:] if cell.startswith("'") and _ESCAPED.match(cell, 1) else cell
