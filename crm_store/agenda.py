"""What is coming up for an actor's visible customers: birthdays, maturities, follow-ups.

Birthdays are found through the indexed (birth_month, birth_day) columns: the window's
solar month-days and its lunar month-days are computed here and looked up in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from lunardate import LunarDate
from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from crm_store.birthdays import next_birthday
from crm_store.cards import FOLLOWUP_LINE_COLUMNS, FollowUpLine
from crm_store.models import Customer, FollowUp, Holding
from crm_store.permissions import Actor, customer_scope


@dataclass(frozen=True)
class BirthdayLine:
    customer_id: str
    customer_name: str
    on: date
    calendar: str


@dataclass(frozen=True)
class MaturityLine:
    customer_id: str
    customer_name: str
    product_type: str
    product_name: str
    amount: Decimal
    currency: str
    maturity_date: date
    holding_id: str | None = None


def _window(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _month_days(days: list[date]) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    solar = {(d.month, d.day) for d in days}
    if any(d.month == 2 and d.day == 28 for d in days):
        solar.add((2, 29))  # 29 February is celebrated on the 28th in common years
    lunar: set[tuple[int, int]] = set()
    for d in days:
        lunar_day = LunarDate.from_solar_date(d.year, d.month, d.day)
        lunar.add((lunar_day.month, lunar_day.day))
        if lunar_day.day == 29:
            lunar.add((lunar_day.month, 30))  # a short month hosts day-30 birthdays on the 29th
    return solar, lunar


def birthdays_between(
    session: Session, *, actor: Actor | None, start: date, end: date, limit: int = 50
) -> list[BirthdayLine]:
    """Visible customers whose next birthday falls in [start, end], soonest first."""
    solar, lunar = _month_days(_window(start, end))
    md = tuple_(Customer.birth_month, Customer.birth_day)
    query = select(
        Customer.id,
        Customer.name,
        Customer.birth_month,
        Customer.birth_day,
        Customer.birthday_calendar,
        Customer.birthday_leap_month,
    ).where(
        customer_scope(actor, start),
        or_(
            and_(Customer.birthday_calendar == "solar", md.in_(sorted(solar))),
            and_(Customer.birthday_calendar == "lunar", md.in_(sorted(lunar))),
        ),
    )
    lines = []
    for cid, name, month, day, cal, leap in session.execute(query):
        on = next_birthday(month, day, cal, leap, start)
        if on is not None and on <= end:
            lines.append(BirthdayLine(cid, name, on, cal))
    return sorted(lines, key=lambda b: (b.on, b.customer_id))[:limit]


def maturities_between(
    session: Session, *, actor: Actor | None, start: date, end: date, limit: int = 50
) -> list[MaturityLine]:
    """Holdings of visible customers maturing in [start, end], soonest first."""
    query = (
        select(
            Customer.id,
            Customer.name,
            Holding.product_type,
            Holding.product_name,
            Holding.amount,
            Holding.currency,
            Holding.maturity_date,
            Holding.id,
        )
        .join(Customer, Customer.id == Holding.customer_id)
        .where(
            Holding.maturity_date >= start,
            Holding.maturity_date <= end,
            customer_scope(actor, start),
        )
        .order_by(Holding.maturity_date, Customer.id)
        .limit(limit)
    )
    return [MaturityLine(*row) for row in session.execute(query)]


def due_followups(
    session: Session,
    *,
    actor: Actor | None,
    today: date,
    limit: int = 20,
    offset: int = 0,
    due_by: date | None = None,
) -> tuple[list[FollowUpLine], int]:
    """Follow-ups due by `due_by` (default today) or overdue, for the customers visible today:
    (oldest first, total count)."""
    # One query: the window count gives the total without a second pass over the scope.
    query = (
        select(*FOLLOWUP_LINE_COLUMNS, func.count().over())
        .join(Customer, Customer.id == FollowUp.customer_id)
        .where(
            FollowUp.status != "done",
            FollowUp.due_on <= (due_by or today),
            customer_scope(actor, today),
        )
        .order_by(FollowUp.due_on, FollowUp.id)
        .offset(offset)
        .limit(limit)
    )
    rows = session.execute(query).all()
    total = int(rows[0][-1]) if rows else 0
    return [FollowUpLine(*row[:-1]) for row in rows], total
