"""The customer names a speech-recognition prompt may carry: the asker's own scope only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import Customer, Interaction
from crm_store.permissions import Actor, customer_scope

MAX_NAMES = 50


def names_for_prompt(
    session: Session, *, actor: Actor | None, today: date, limit: int = MAX_NAMES
) -> list[str]:
    """Up to `limit` distinct names of customers `actor` may see: own customers first, then
    the most recently noted. Empty for an actor who sees nobody."""
    last_note = func.max(Interaction.occurred_at)
    own = Customer.owner_staff_id == (actor.staff_id if actor else "")
    query = (
        select(Customer.name)
        .outerjoin(Interaction, Interaction.customer_id == Customer.id)
        .where(customer_scope(actor, today))
        .group_by(Customer.id, Customer.name, Customer.owner_staff_id)
        .order_by(own.desc(), last_note.desc().nulls_last(), Customer.name)
        .limit(limit * 4)  # names repeat (two 王芳); a few spares keep the list full
    )
    names: dict[str, None] = {}
    for name in session.scalars(query):
        names.setdefault(name, None)
        if len(names) == limit:
            break
    return list(names)
