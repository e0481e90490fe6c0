"""How `bankbot` help reads: plain text, no Python type labels, nothing heavy to import.

typer 0.29 labels every parameter with its Python type (`<str>`, `<bool>`); an admin reads
`--date YYYY-MM-DD` or `--as STAFF_ID`, and a flag needs no label at all. Its rich help also
imports rich and markdown on every `--help` (about as long as typer itself), so help is
plain text, which also pastes cleanly into a ticket.
"""

from __future__ import annotations

from typing import Any

import typer
from typer import _click
from typer.core import TyperArgument, TyperOption


def _option_label(self: TyperOption, ctx: _click.Context) -> str | None:
    """What follows an option that takes a value: its metavar, else its name in capitals."""
    del ctx
    return self.metavar or (self.name or "value").upper()


def _argument_label(self: TyperArgument, ctx: _click.Context) -> str | None:
    """Arguments are shown by name only (the name is the label)."""
    del ctx
    return self.metavar


TyperOption.display_type_rich = _option_label  # type: ignore[method-assign]
TyperArgument.display_type_rich = _argument_label  # type: ignore[method-assign,assignment]


def typer_app(**kwargs: Any) -> typer.Typer:
    """A Typer app (or sub-app) with plain help and no shell-completion options."""
    kwargs.setdefault("add_completion", False)
    return typer.Typer(rich_markup_mode=None, **kwargs)
