"""Command groups loaded when they are used: `bankbot --help` never imports their modules.

Each group's module (`bot.cli_staff`, `bot.cli_index`, ...) pulls in the store,
the scheduler or the note index at its top. The top-level help lists them from the short
help kept here; `bankbot staff ...` imports only `bot.cli_staff`.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import typer
from typer import _click
from typer.core import TyperGroup


class LazyGroup(NamedTuple):
    """A sub-app: the module whose `app` it is, and the line shown in `bankbot --help`."""

    module: str
    help: str


GROUPS: dict[str, LazyGroup] = {
    "staff": LazyGroup("bot.cli_staff", "Manage staff, roles and customer-team grants."),
    "reminders": LazyGroup("bot.cli_reminders", "Birthday, maturity and follow-up reminders."),
    "index": LazyGroup("bot.cli_index", "The search index of interaction notes (Chroma)."),
    "key": LazyGroup("bot.cli_key", "The data key: rotate it."),
}


class LazyTyperGroup(TyperGroup):
    """The top-level group: its own commands, then the lazy groups, loaded on first use."""

    def list_commands(self, ctx: _click.Context) -> list[str]:
        """Every command name, the lazy groups included, without importing them."""
        return [*super().list_commands(ctx), *(n for n in GROUPS if n not in self.commands)]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        """A command; a lazy group's module is imported the first time it is asked for."""
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in GROUPS:
            sub_app = importlib.import_module(GROUPS[cmd_name].module).app
            command = typer.main.get_command(sub_app)
            command.name = cmd_name
            self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """The command list; lazy groups show their kept line instead of being imported."""
        rows: list[tuple[str, str]] = []
        limit = formatter.width - 6 - max(len(n) for n in self.list_commands(ctx))
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                rows.append((name, GROUPS[name].help))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
