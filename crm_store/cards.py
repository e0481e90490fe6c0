"""The customer card: one customer's profile, near maturities, birthday, notes, follow-ups.

Narrow Core selects on indexed columns, never an ORM object graph: a look-up must stay fast
with 100k customers and 1M notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from crm_store.birthdays import next_birthday
from crm_store.models import Branch, Customer, FollowUp, Holding, Interaction, Staff
from crm_store.permissions import Actor, customer_scope
from crm_store.retention import Warning, warning_for
from crm_store.settings import Settings

CARD_MATURITY_DAYS = 30
CARD_NOTES = 3


@dataclass(frozen=True)
class HoldingLine:
    product_type: str
    product_name: str
    amount: Decimal
    currency: str
    maturity_date: date | None


@dataclass(frozen=True)
class NoteLine:
    id: str
    occurred_at: datetime
    staff_name: str
    content: str
    next_followup_on: date | None


@dataclass(frozen=True)
class FollowUpLine:
    id: int
    customer_id: str
    customer_name: str
    due_on: date
    status: str
    summary: str


@dataclass(frozen=True)
class CustomerCard:
    id: str
    name: str
    segment: str
    risk_level: str | None
    aum: Decimal | None
    phone_masked: str | None
    id_number_masked: str | None
    tags: str
    branch_name: str
    owner_name: str
    birthday_calendar: str
    next_birthday: date | None
    maturing: list[HoldingLine]
    notes: list[NoteLine]
    followups: list[FollowUpLine]
    warning: Warning | None = None  # churn warning (流失预警), if any


def customer_card(
    session: Session,
    *,
    actor: Actor | None,
    today: date,
    customer_id: str,
    settings: Settings | None = None,
) -> CustomerCard | None:
    """The card of one visible customer, or None (not found and not permitted look the same).

    The churn warning uses `settings`' thresholds, or the defaults when none are given."""
    owner = aliased(Staff)
    head = session.execute(
        select(Customer, Branch.name, owner.name)
        .join(Branch, Branch.id == Customer.branch_id)
        .join(owner, owner.id == Customer.owner_staff_id)
        .where(Customer.id == customer_id, customer_scope(actor, today))
    ).one_or_none()
    if head is None:
        return None
    c, branch_name, owner_name = head
    return CustomerCard(
        id=c.id,
        name=c.name,
        segment=c.segment,
        risk_level=c.risk_level,
        aum=c.aum,
        phone_masked=c.phone_masked,
        id_number_masked=c.id_number_masked,
        tags=c.tags,
        branch_name=branch_name,
        owner_name=owner_name,
        birthday_calendar=c.birthday_calendar,
        next_birthday=next_birthday(
            c.birth_month, c.birth_day, c.birthday_calendar, c.birthday_leap_month, today
        ),
        maturing=maturing_holdings(session, customer_id=c.id, today=today),
        notes=recent_notes(session, customer_id=c.id),
        followups=open_followups(session, customer_id=c.id),
        warning=_warning(session, settings, today, c.id),
    )


def _warning(
    session: Session, settings: Settings | None, today: date, customer_id: str
) -> Warning | None:
    config = settings or Settings.model_construct()
    if not config.retention_enabled:
        return None
    return warning_for(session, config, today, customer_id)


def maturing_holdings(
    session: Session, *, customer_id: str, today: date, days: int = CARD_MATURITY_DAYS
) -> list[HoldingLine]:
    """Holdings of one customer maturing from today to `days` ahead, soonest first."""
    query = (
        select(
            Holding.product_type,
            Holding.product_name,
            Holding.amount,
            Holding.currency,
            Holding.maturity_date,
        )
        .where(
            Holding.customer_id == customer_id,
            Holding.maturity_date >= today,
            Holding.maturity_date <= today + timedelta(days=days),
        )
        .order_by(Holding.maturity_date)
    )
    return [HoldingLine(*row) for row in session.execute(query)]


def recent_notes(session: Session, *, customer_id: str, limit: int = CARD_NOTES) -> list[NoteLine]:
    """The latest notes on one customer (undone notes are gone)."""
    query = (
        select(
            Interaction.id,
            Interaction.occurred_at,
            Staff.name,
            Interaction.content,
            Interaction.next_followup_on,
        )
        .join(Staff, Staff.id == Interaction.staff_id)
        .where(Interaction.customer_id == customer_id, Interaction.undone_at.is_(None))
        .order_by(Interaction.occurred_at.desc())
        .limit(limit)
    )
    return [NoteLine(*row) for row in session.execute(query)]


FOLLOWUP_LINE_COLUMNS = (
    FollowUp.id,
    FollowUp.customer_id,
    Customer.name,
    FollowUp.due_on,
    FollowUp.status,
    FollowUp.summary,
)


def open_followups(session: Session, *, customer_id: str) -> list[FollowUpLine]:
    """Follow-ups of one customer that are not done, earliest first."""
    query = (
        select(*FOLLOWUP_LINE_COLUMNS)
        .join(Customer, Customer.id == FollowUp.customer_id)
        .where(FollowUp.customer_id == customer_id, FollowUp.status != "done")
        .order_by(FollowUp.due_on)
    )
    return [FollowUpLine(*row) for row in session.execute(query)]
