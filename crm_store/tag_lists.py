"""The words tags may not be (segments) and the actor's own customers by name, for tag edits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import Customer
from crm_store.permissions import Actor

SEGMENT_WORDS = {"vip": "vip", "VIP": "vip", "贵宾": "vip", "普通": "regular", "潜在": "prospect"}


def own_customers_named(session: Session, *, actor: Actor, name: str) -> list[str]:
    """Ids of the actor's own customers called `name` (tags are edited on own customers only)."""
    query = select(Customer.id).where(
        Customer.owner_staff_id == actor.staff_id, Customer.name == name
    )
    return list(session.scalars(query.order_by(Customer.id)))
