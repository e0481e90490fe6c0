"""Actor-scoped customer queries: every one filters by `customer_scope` inside its SQL.

Only visible customers exist for the asker: a name that matches someone else's customer
finds nothing, exactly as a name that matches nobody.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, aliased

from crm_store.models import Branch, Customer, Staff
from crm_store.permissions import Actor, customer_scope
from crm_store.pinyin import name_pinyin
from crm_store.sql_lists import one_of

_CJK_RUN = re.compile(r"[\u4e00-\u9fff·]{2,}")


@dataclass(frozen=True)
class CustomerSummary:
    """What tells two customers apart in a list: never a full personal number."""

    id: str
    name: str
    segment: str
    phone_masked: str | None
    branch_name: str
    owner_name: str
    aum: Decimal | None


T = TypeVar("T")


def _summary_query(actor: Actor | None, today: date) -> Select[Any]:
    owner = aliased(Staff)
    return (
        select(
            Customer.id,
            Customer.name,
            Customer.segment,
            Customer.phone_masked,
            Branch.name,
            owner.name,
            Customer.aum,
        )
        .join(Branch, Branch.id == Customer.branch_id)
        .join(owner, owner.id == Customer.owner_staff_id)
        .where(customer_scope(actor, today))
    )


def _summaries(session: Session, query: Select[Any]) -> list[CustomerSummary]:
    return [CustomerSummary(*row) for row in session.execute(query)]


def find_by_name(
    session: Session, *, actor: Actor | None, today: date, name: str, limit: int = 10
) -> list[CustomerSummary]:
    """Visible customers with exactly this name, else with the same pinyin (同音字)."""
    base = _summary_query(actor, today).order_by(Customer.id).limit(limit)
    exact = _summaries(session, base.where(Customer.name == name))
    if exact:
        return exact
    spelled = name_pinyin(name)
    if not spelled:
        return []
    return _summaries(session, base.where(Customer.name_pinyin == spelled))


def find_by_phone_tail(
    session: Session, *, actor: Actor | None, today: date, last4: str, limit: int = 10
) -> list[CustomerSummary]:
    """Visible customers whose phone ends in these four digits."""
    query = _summary_query(actor, today).where(Customer.phone_last4 == last4)
    return _summaries(session, query.order_by(Customer.id).limit(limit))


def find_by_number(
    session: Session, *, actor: Actor | None, today: date, numbers: set[str]
) -> list[CustomerSummary]:
    """Visible customers whose customer number (id) is one of `numbers`."""
    query = _summary_query(actor, today).where(Customer.id.in_(sorted(numbers)))
    return _summaries(session, query.order_by(Customer.id))


def name_candidates(text: str, *, longest: int = 4) -> set[str]:
    """Every 2..`longest` character run of Chinese text: the names a text could contain."""
    found: set[str] = set()
    for run in _CJK_RUN.findall(text):
        for size in range(2, longest + 1):
            found.update(run[i : i + size] for i in range(len(run) - size + 1))
    return found


def find_in_text(
    session: Session, *, actor: Actor | None, today: date, text: str, limit: int = 10
) -> list[CustomerSummary]:
    """Visible customers named anywhere in `text`; the longest matching name wins."""
    candidates = name_candidates(text)
    if not candidates:
        return []
    query = _summary_query(actor, today).where(one_of(session, Customer.name, candidates))
    matches = _summaries(session, query.order_by(Customer.id).limit(limit * 4))
    return longest_names(matches, lambda m: m.name)[:limit]


def longest_names(found: Sequence[T], name_of: Callable[[T], str]) -> list[T]:
    """Of the customers a text names, those with the longest name: "张伟明" in the text must
    not also pick up "张伟"."""
    if not found:
        return []
    longest = max(len(name_of(item)) for item in found)
    return [item for item in found if len(name_of(item)) == longest]


def list_by_segment(
    session: Session, *, actor: Actor | None, today: date, segment: str, limit: int = 50
) -> list[CustomerSummary]:
    """Visible customers of one segment, largest AUM first."""
    query = _summary_query(actor, today).where(Customer.segment == segment)
    return _summaries(session, query.order_by(Customer.aum.desc(), Customer.id).limit(limit))


def count_visible(
    session: Session, *, actor: Actor | None, today: date, segment: str | None = None
) -> int:
    """How many customers (of one segment, if given) the actor may see."""
    query = select(func.count()).select_from(Customer).where(customer_scope(actor, today))
    if segment:
        query = query.where(Customer.segment == segment)
    return int(session.scalar(query) or 0)


def names_in_scope(
    session: Session, *, actor: Actor | None, today: date, names: set[str]
) -> dict[str, bool]:
    """For each of `names` that is any customer's name: whether at least one customer of that
    name is visible to the actor (one query: the reply guard runs it on every reply)."""
    if not names:
        return {}
    visible = func.max(case((customer_scope(actor, today), 1), else_=0))
    query = select(Customer.name, visible).where(one_of(session, Customer.name, names))
    return {name: bool(seen) for name, seen in session.execute(query.group_by(Customer.name))}
