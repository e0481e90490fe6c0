"""Staff management: the admin's changes to people, roles and customer-team grants."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm_store.errors import StoreError, UnknownStaff
from crm_store.models import ROLES, Branch, Customer, CustomerTeam, Staff, Team


def _staff(session: Session, staff_id: str) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise UnknownStaff(f"unknown staff id {staff_id!r}")
    return staff


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise StoreError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")


def add_staff(
    session: Session, *, staff_id: str, name: str, role: str, branch_id: str, team_id: str | None
) -> None:
    """Create a staff member (the branch must exist; a new team id creates the team)."""
    _check_role(role)
    if session.get(Staff, staff_id) is not None:
        raise StoreError(f"staff id {staff_id!r} already exists")
    if session.get(Branch, branch_id) is None:
        raise StoreError(f"unknown branch id {branch_id!r}")
    if team_id and session.get(Team, team_id) is None:
        session.add(Team(id=team_id, name=team_id, branch_id=branch_id))
    session.add(
        Staff(id=staff_id, name=name, role=role, branch_id=branch_id, team_id=team_id, active=True)
    )
    session.flush()


def set_active(session: Session, *, staff_id: str, active: bool) -> None:
    """Deactivate (left the bank) or reactivate a staff member; effective at once."""
    _staff(session, staff_id).active = active
    session.flush()


def set_role(session: Session, *, staff_id: str, role: str) -> None:
    """Change a staff member's role."""
    _check_role(role)
    _staff(session, staff_id).role = role
    session.flush()


def grant(session: Session, *, staff_id: str, customer_id: str, ends_on: date | None) -> None:
    """Add a staff member to a customer's team, until `ends_on` (inclusive) if given."""
    _staff(session, staff_id)
    if session.get(Customer, customer_id) is None:
        raise StoreError(f"unknown customer id {customer_id!r}")
    row = session.scalar(
        select(CustomerTeam).where(
            CustomerTeam.staff_id == staff_id, CustomerTeam.customer_id == customer_id
        )
    )
    if row is None:
        session.add(CustomerTeam(staff_id=staff_id, customer_id=customer_id, ends_on=ends_on))
    else:
        row.ends_on = ends_on
    session.flush()


def revoke(session: Session, *, staff_id: str, customer_id: str) -> bool:
    """Remove a customer-team grant; True if there was one."""
    result = session.execute(
        delete(CustomerTeam).where(
            CustomerTeam.staff_id == staff_id, CustomerTeam.customer_id == customer_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_staff(session: Session) -> list[Staff]:
    """Every staff member, by id."""
    return list(session.scalars(select(Staff).order_by(Staff.id)))
