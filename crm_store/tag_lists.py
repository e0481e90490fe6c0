"""Customers by tag or segment, within the actor's permission scope."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from crm_store.models import Customer
from crm_store.permissions import Actor, customer_scope

SEGMENT_WORDS = {"vip": "vip", "VIP": "vip", "贵宾": "vip", "普通": "regular", "潜在": "prospect"}


def _has_tag(tag: str) -> ColumnElement[bool]:
    # Tags are stored ';'-separated: match a whole tag, never a part of a longer one.
    padded = ";" + func.coalesce(Customer.tags, "") + ";"
    return padded.contains(f";{tag};", autoescape=True)


def customers_tagged(
    session: Session, *, actor: Actor | None, today: date, word: str, limit: int = 20
) -> tuple[list[tuple[str, str, object]], int]:
    """([(id, name, aum)] largest AUM first, total) of visible customers with tag or segment
    `word` (VIP / 普通 / 潜在 are segments; anything else is a tag)."""
    segment = SEGMENT_WORDS.get(word)
    match = Customer.segment == segment if segment else _has_tag(word)
    where = (customer_scope(actor, today), match)
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.aum)
        .where(*where)
        .order_by(Customer.aum.desc(), Customer.id)
        .limit(limit)
    ).all()
    total = session.scalar(select(func.count()).select_from(Customer).where(*where)) or 0
    return [(r[0], r[1], r[2]) for r in rows], int(total)


def own_customers_named(session: Session, *, actor: Actor, name: str) -> list[str]:
    """Ids of the actor's own customers called `name` (tags are edited on own customers only)."""
    query = select(Customer.id).where(
        Customer.owner_staff_id == actor.staff_id, Customer.name == name
    )
    return list(session.scalars(query.order_by(Customer.id)))
