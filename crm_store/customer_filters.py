"""Actor-scoped customer look-ups for message understanding and filtered lists.

Every query filters by `customer_scope` in its SQL, like crm_store/customers.py: a filter
changes what is asked, never who may be seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from crm_store.cards import FOLLOWUP_LINE_COLUMNS, FollowUpLine
from crm_store.customers import CustomerSummary, _summaries, _summary_query
from crm_store.models import Customer, FollowUp, Holding, Interaction, Staff
from crm_store.permissions import Actor, customer_scope
from crm_store.pinyin import name_pinyin
from crm_store.sql_lists import one_of


@dataclass(frozen=True)
class Page:
    """One page of a filtered list and how many match in all."""

    rows: list[CustomerSummary]
    total: int


def find_by_pinyin(
    session: Session, *, actor: Actor | None, today: date, spellings: set[str], limit: int = 10
) -> list[CustomerSummary]:
    """Visible customers whose tone-less pinyin is one of `spellings` ("zhangwei")."""
    if not spellings:
        return []
    query = _summary_query(actor, today).where(one_of(session, Customer.name_pinyin, spellings))
    return _summaries(session, query.order_by(Customer.id).limit(limit))


def visible_tags(session: Session, *, actor: Actor | None, today: date) -> set[str]:
    """Every tag on a customer the actor may see (tags are stored `;`-separated)."""
    query = select(Customer.tags).where(customer_scope(actor, today), Customer.tags != "")
    found: set[str] = set()
    for (tags,) in session.execute(query.distinct()):
        found.update(tag for tag in str(tags).split(";") if tag)
    return found


def visible_owners(session: Session, *, actor: Actor | None, today: date) -> list[tuple[str, str]]:
    """(staff id, name) of everyone who owns a customer the actor may see: the names a
    manager may filter by ("李娜名下的VIP")."""
    owners = select(Customer.owner_staff_id).where(customer_scope(actor, today))
    query = select(Staff.id, Staff.name).where(Staff.id.in_(owners)).order_by(Staff.id)
    return [(str(i), str(n)) for i, n in session.execute(query)]


def filtered_customers(
    session: Session,
    *,
    actor: Actor | None,
    today: date,
    segment: str | None = None,
    tag: str | None = None,
    aum_at_least: Decimal | None = None,
    aum_below: Decimal | None = None,
    owner: str | None = None,
    silent_since: datetime | None = None,
    silent_past: Mapping[str, datetime] | None = None,
    noted_between: tuple[datetime, datetime] | None = None,
    offset: int = 0,
    limit: int = 20,
) -> Page:
    """Visible customers matching every filter given, largest AUM first, one page of them.
    `silent_since`: only those with no note (not undone) from that moment on; `silent_past`:
    the same by segment (segment -> moment), customers of other segments left out;
    `noted_between`: only those with a note (not undone) from the first moment to the second."""
    query = _summary_query(actor, today)
    conditions = []
    if silent_since is not None:
        conditions.append(~_noted_since(silent_since))
    if silent_past is not None:
        conditions.append(
            or_(
                false(),
                *(
                    and_(Customer.segment == segment, ~_noted_since(since))
                    for segment, since in silent_past.items()
                ),
            )
        )
    if noted_between is not None:
        start, end = noted_between
        conditions.append(_noted_since(start, before=end))
    if owner is not None:  # "" matches nobody: a name that owns nothing in the scope
        conditions.append(Customer.owner_staff_id == owner)
    if segment:
        conditions.append(Customer.segment == segment)
    if tag:
        # Exact tag match inside the `;`-separated list, at either end or in the middle.
        padded = func.coalesce(";" + Customer.tags + ";", "")
        conditions.append(padded.contains(f";{tag};", autoescape=True))
    if aum_at_least is not None:
        conditions.append(Customer.aum >= aum_at_least)
    if aum_below is not None:
        conditions.append(Customer.aum < aum_below)
    query = query.where(*conditions)
    count = select(func.count()).select_from(Customer).where(customer_scope(actor, today))
    total = int(session.scalar(count.where(*conditions)) or 0)
    ordered = query.order_by(Customer.aum.desc().nulls_last(), Customer.id)
    return Page(_summaries(session, ordered.offset(offset).limit(limit)), total)


@dataclass(frozen=True)
class HoldingRow:
    """One holding of one customer, for a focused answer."""

    product_type: str
    product_name: str
    amount: Decimal
    currency: str
    maturity_date: date | None


def customer_holdings(
    session: Session,
    *,
    actor: Actor | None,
    today: date,
    customer_id: str,
    products: list[str] | None = None,
) -> list[HoldingRow]:
    """Holdings of one visible customer (of these product types, if given), soonest maturity
    first; empty when the customer is not visible."""
    query = (
        select(
            Holding.product_type,
            Holding.product_name,
            Holding.amount,
            Holding.currency,
            Holding.maturity_date,
        )
        .join(Customer, Customer.id == Holding.customer_id)
        .where(Holding.customer_id == customer_id, customer_scope(actor, today))
        .order_by(Holding.maturity_date.is_(None), Holding.maturity_date, Holding.id)
    )
    if products:
        query = query.where(Holding.product_type.in_(products))
    return [HoldingRow(*row) for row in session.execute(query)]


def followups_until(
    session: Session, *, actor: Actor | None, today: date, until: date, limit: int = 200
) -> list[FollowUpLine]:
    """Open follow-ups of visible customers due by `until` (overdue included), oldest first."""
    query = (
        select(*FOLLOWUP_LINE_COLUMNS)
        .join(Customer, Customer.id == FollowUp.customer_id)
        .where(FollowUp.status != "done", FollowUp.due_on <= until, customer_scope(actor, today))
        .order_by(FollowUp.due_on, FollowUp.id)
        .limit(limit)
    )
    return [FollowUpLine(*row) for row in session.execute(query)]


def near_misses(
    session: Session, *, actor: Actor | None, today: date, name: str, limit: int = 3
) -> list[CustomerSummary]:
    """Visible customers whose name differs from `name` in one character ("张玮" for "张伟"),
    or sounds the same; for "您是要找张伟吗？", never shown without asking."""
    if not 2 <= len(name) <= 4:
        return []
    patterns = [name[:k] + "_" + name[k + 1 :] for k in range(len(name))]
    close = or_(*(Customer.name.like(p) for p in patterns))
    query = _summary_query(actor, today).where(
        or_(close, Customer.name_pinyin == name_pinyin(name)), Customer.name != name
    )
    return _summaries(session, query.order_by(Customer.id).limit(limit))


def of_segment(session: Session, customer_ids: list[str], segment: str) -> set[str]:
    """Which of these customers (already scoped by the caller) are of `segment`."""
    if not customer_ids:
        return set()
    query = select(Customer.id).where(
        one_of(session, Customer.id, set(customer_ids)), Customer.segment == segment
    )
    return set(session.scalars(query))


def _noted_since(moment: datetime, *, before: datetime | None = None) -> ColumnElement[bool]:
    """The customer has a note (not undone) from `moment` on (and before `before`)."""
    until = () if before is None else (Interaction.occurred_at < before,)
    return exists().where(
        Interaction.customer_id == Customer.id,
        Interaction.occurred_at >= moment,
        *until,
        Interaction.undone_at.is_(None),
    )
