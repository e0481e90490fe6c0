"""Churn warnings in the morning plan: one `retention` reminder per customer at risk a day.

The rules run as one `INSERT ... SELECT` over the UNION of their customer ids, in the same
outbox and with the same unique key as every other reminder (kind, customer, business date,
lead 0, owner), so planning twice adds nothing. The digest words each warning from the
facts as they are when it is sent (`crm_store.retention`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, literal, select, true
from sqlalchemy.orm import Session

from crm_store.models import Reminder, UtcDateTime
from crm_store.retention import at_risk_customers
from crm_store.retention_rules import rule_window
from crm_store.settings import Settings
from crm_store.upsert import insert_for, rows_inserted

KIND = "retention"
REMINDER_KEY = ["kind", "entity_id", "occurs_on", "lead_days", "recipient_staff_id"]


def retention_rows(business_date: date, settings: Settings, now: datetime) -> Any:
    """The reminder rows of the day's warnings, as a SELECT."""
    at_risk = at_risk_customers(rule_window(settings, business_date)).subquery("warned")
    return select(
        literal(KIND),
        at_risk.c.id,
        at_risk.c.id,
        literal(business_date, Date),
        literal(0),
        at_risk.c.owner_staff_id,
        literal(business_date, Date),
        literal("pending"),
        literal(now, UtcDateTime()),
    ).where(true())


def plan_retention(
    session: Session, *, business_date: date, settings: Settings, now: datetime
) -> int:
    """Write the day's churn warnings into the outbox; the number of rows added."""
    columns = ["kind", "entity_id", "customer_id", "occurs_on", "lead_days"]
    columns += ["recipient_staff_id", "business_date", "status", "created_at"]
    query = retention_rows(business_date, settings, now)
    statement = insert_for(session, Reminder).from_select(columns, query)
    statement = statement.on_conflict_do_nothing(index_elements=REMINDER_KEY)
    return rows_inserted(session, statement, Reminder.id)
