"""`bankbot staff reassign` and the warning when an RM who still owns customers leaves."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli_common import fail, one_line_errors, store_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ID_HEADER = "customer_id"


@one_line_errors
def reassign_command(
    from_staff: Annotated[str, typer.Argument(help="Staff id who owns the customers now.")],
    to_staff: Annotated[str, typer.Argument(help="Staff id who takes them over.")],
    customers: Annotated[
        Path | None,
        typer.Option(
            "--customers",
            help="Only these customers: one id a line, or a CSV whose first column is "
            "customer_id (an export works). Default: all of FROM's customers.",
        ),
    ] = None,
) -> None:
    """Move customers, their open follow-ups and pending reminders to another staff member."""
    from crm_store.reassign import reassign

    wanted = read_customer_ids(customers) if customers is not None else None
    now = datetime.now(UTC)
    with store_session(write=True) as session:
        done = reassign(
            session,
            from_staff=from_staff,
            to_staff=to_staff,
            now=now,
            customer_ids=wanted,
            operator=operator_name(),
        )
    print(
        f"moved {len(done.customers)} customers from {from_staff} to {to_staff}, "
        f"with {done.followups} open follow-ups and {done.reminders} pending reminders; "
        "notes keep their authors"
    )


def read_customer_ids(path: Path) -> list[str]:
    """Customer ids from a file: the first cell of each line, header and blank lines skipped."""
    from crm_store.importer.encodings import decode_text

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {path.name}: {exc.strerror}", 2) from None
    decoded = decode_text(data)
    if decoded is None:
        raise fail(f"{path.name}: not text in UTF-8, UTF-16 (with BOM) or GB18030", 2)
    ids: list[str] = []
    for line in decoded[1].splitlines():
        first = line.replace("\t", ",").split(",", 1)[0].strip().strip('"')
        if first and first.lower() != ID_HEADER:
            ids.append(first)
    if not ids:
        raise fail(f"{path.name}: no customer ids", 2)
    return ids


def warn_if_owner(session: Session, staff_id: str) -> None:
    """Deactivating someone who still owns customers leaves those customers unattended."""
    from crm_store.reassign import owned_count

    owned = owned_count(session, staff_id)
    if owned:
        print(
            f"warning: {staff_id} still owns {owned} customers, and nobody gets their reminders; "
            f"move them with: bankbot staff reassign {staff_id} NEW_OWNER",
            file=sys.stderr,
        )


def operator_name() -> str | None:
    """The operating-system account that ran the command, for the audit row."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (e.g. in a container)
        return None
