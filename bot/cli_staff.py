"""`bankbot staff ...`: the admin's commands for people, roles and customer-team grants."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer

from bot.cli_common import one_line_errors, store_from_env, store_session
from bot.cli_help import typer_app
from bot.cli_staff_moves import reassign_command, warn_if_owner

app = typer_app(no_args_is_help=True, help="Manage staff, roles and customer-team grants.")
app.command("reassign")(reassign_command)


@app.command("list")
@one_line_errors
def list_command() -> None:
    """List staff: id, name, role, branch, team, active."""
    from crm_store import staff_admin

    with store_session(write=False) as session:
        for s in staff_admin.list_staff(session):
            state = "active" if s.active else "left"
            print(f"{s.id}\t{s.name}\t{s.role}\t{s.branch_id or '-'}\t{s.team_id or '-'}\t{state}")


@app.command("add")
@one_line_errors
def add_command(
    staff_id: str,
    name: str,
    role: Annotated[str, typer.Option(help="rm, team_lead, branch_head, compliance or admin")],
    branch: Annotated[str, typer.Option(help="Branch id.")],
    team: Annotated[str | None, typer.Option(help="Team id.")] = None,
) -> None:
    """Add a staff member."""
    from crm_store import staff_admin

    with store_session(write=True) as session:
        staff_admin.add_staff(
            session, staff_id=staff_id, name=name, role=role, branch_id=branch, team_id=team
        )
    print(f"added {staff_id}")


@app.command("deactivate")
@one_line_errors
def deactivate_command(staff_id: str) -> None:
    """Mark a staff member as left: from now on they see nothing."""
    _set_active(staff_id, active=False)


@app.command("activate")
@one_line_errors
def activate_command(staff_id: str) -> None:
    """Reactivate a staff member."""
    _set_active(staff_id, active=True)


def _set_active(staff_id: str, *, active: bool) -> None:
    from crm_store import staff_admin

    with store_session(write=True) as session:
        staff_admin.set_active(session, staff_id=staff_id, active=active)
        if not active:
            warn_if_owner(session, staff_id)
    print(f"{staff_id} is now {'active' if active else 'deactivated'}")


@app.command("set-role")
@one_line_errors
def set_role_command(staff_id: str, role: str) -> None:
    """Change a staff member's role."""
    from crm_store import staff_admin

    with store_session(write=True) as session:
        staff_admin.set_role(session, staff_id=staff_id, role=role)
    print(f"{staff_id} is now {role}")


@app.command("grant")
@one_line_errors
def grant_command(
    staff_id: str,
    customer_id: str,
    until: Annotated[str | None, typer.Option(help="Last day of access (YYYY-MM-DD).")] = None,
) -> None:
    """Give a staff member access to one customer (customer team)."""
    from crm_store import staff_admin

    ends_on = date.fromisoformat(until) if until else None
    with store_session(write=True) as session:
        staff_admin.grant(session, staff_id=staff_id, customer_id=customer_id, ends_on=ends_on)
    print(f"{staff_id} may see {customer_id}" + (f" until {until}" if until else ""))


@app.command("revoke")
@one_line_errors
def revoke_command(staff_id: str, customer_id: str) -> None:
    """Take back a customer-team grant."""
    from crm_store import staff_admin

    with store_session(write=True) as session:
        removed = staff_admin.revoke(session, staff_id=staff_id, customer_id=customer_id)
    print("revoked" if removed else "there was no such grant")


@app.command("invite")
@one_line_errors
def invite_command(staff_id: str) -> None:
    """Issue a one-time code (24 h) the staff member sends as '/bind CODE' from WeCom/Telegram."""
    from crm_store.binding import issue_code

    store = store_from_env()
    try:  # the code is stored as a keyed hash: the store's cipher holds the key
        with store.db.write() as session:
            now = datetime.now(UTC)
            code = issue_code(session, staff_id=staff_id, now=now, cipher=store.cipher)
    finally:
        store.close()
    print(f"bind code for {staff_id}: {code} (valid 24 hours, single use)")
    print(f"the staff member sends: /bind {code}")
