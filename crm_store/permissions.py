"""Who may see which customer: plain functions over SQL, computed for every request.

Default deny. The LLM, the user's text and the model's output never decide access; every
customer query in the app goes through `customer_scope` inside its own SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session, aliased

from crm_store.models import Branch, Customer, CustomerTeam, Staff

READ_ONLY_ROLES = frozenset({"compliance"})
NO_CUSTOMER_ROLES = frozenset({"admin"})


@dataclass(frozen=True)
class Actor:
    """The staff member behind a request, as the database says right now."""

    staff_id: str
    name: str
    role: str
    active: bool
    branch_id: str | None
    team_id: str | None


def load_actor(session: Session, staff_id: str) -> Actor | None:
    """Read the actor afresh (role, team, active) so a revocation takes effect at once."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        return None
    return Actor(staff.id, staff.name, staff.role, staff.active, staff.branch_id, staff.team_id)


def branch_subtree(root_id: str) -> Select[tuple[str]]:
    """Ids of a branch and all its sub-branches (UNION, so a bad cycle cannot loop forever)."""
    tree = select(Branch.id).where(Branch.id == root_id).cte("branch_tree", recursive=True)
    tree = tree.union(select(Branch.id).where(Branch.parent_id == tree.c.id))
    return select(tree.c.id)


def _grants(actor: Actor, today: date) -> Select[tuple[str]]:
    return select(CustomerTeam.customer_id).where(
        CustomerTeam.staff_id == actor.staff_id,
        or_(CustomerTeam.ends_on.is_(None), CustomerTeam.ends_on >= today),
    )


def _own_and_granted(actor: Actor, today: date) -> ColumnElement[bool]:
    return or_(Customer.owner_staff_id == actor.staff_id, Customer.id.in_(_grants(actor, today)))


# Built once: constructing an alias per request cost half of a digest run's CPU.
_OWNED = aliased(Customer, name="owned")


def _rm_scope(actor: Actor, today: date) -> ColumnElement[bool]:
    # One id list (owned UNION granted) instead of an OR: PostgreSQL can then use the owner
    # index rather than scanning every customer (measured in bench/bench_lookup.py).
    ids = select(_OWNED.id).where(_OWNED.owner_staff_id == actor.staff_id)
    return Customer.id.in_(ids.union(_grants(actor, today)))


@lru_cache(maxsize=1024)
def customer_scope(actor: Actor | None, today: date) -> ColumnElement[bool]:
    """A WHERE clause on `Customer` that keeps exactly the customers `actor` may see.

    Memoised per (actor, day): the clause is SQL, evaluated afresh by every query that uses
    it, so reusing the Python object changes no answer; building it anew cost a question up
    to six constructions (~1 ms). `Actor` is read from the database on every request, so a
    changed role, team or status is a different key."""
    if actor is None or not actor.active or actor.role in NO_CUSTOMER_ROLES:
        return false()
    if actor.role == "compliance":
        return true()
    own = _own_and_granted(actor, today)
    if actor.role == "team_lead" and actor.team_id:
        members = select(Staff.id).where(Staff.team_id == actor.team_id)
        return or_(own, Customer.owner_staff_id.in_(members))
    if actor.role == "branch_head" and actor.branch_id:
        return or_(own, Customer.branch_id.in_(branch_subtree(actor.branch_id)))
    if actor.role == "rm":
        return _rm_scope(actor, today)
    if actor.role in {"team_lead", "branch_head"}:
        return own
    return false()  # an unknown role sees nothing


def visible_customer_ids(session: Session, actor: Actor | None, today: date) -> set[str]:
    """The ids of every customer `actor` may see (empty means none, never 'all')."""
    rows = session.scalars(select(Customer.id).where(customer_scope(actor, today)))
    return set(rows)


def visible_customer_names(session: Session, actor: Actor | None, today: date) -> dict[str, str]:
    """Id -> name of every customer `actor` may see (empty means none, never 'all')."""
    query = select(Customer.id, Customer.name).where(customer_scope(actor, today))
    return dict(session.execute(query).tuples().all())


def can_see(session: Session, actor: Actor | None, customer_id: str, today: date) -> bool:
    """Whether `actor` may see one customer."""
    query = select(Customer.id).where(Customer.id == customer_id, customer_scope(actor, today))
    return session.scalar(query) is not None


def can_write(session: Session, actor: Actor | None, customer_id: str, today: date) -> bool:
    """Whether `actor` may record notes or close follow-ups for one customer."""
    if actor is None or actor.role in READ_ONLY_ROLES:
        return False
    return can_see(session, actor, customer_id, today)


def may_use_customer_chat(actor: Actor | None) -> bool:
    """Whether the actor has any business asking about customers in chat at all."""
    return actor is not None and actor.active and actor.role not in NO_CUSTOMER_ROLES
