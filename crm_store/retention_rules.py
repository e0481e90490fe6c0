"""The five churn rules, each one SELECT over indexed columns, with the same columns.

Every rule yields rows of `RULE_COLUMNS`: the customer, the rule, a stable reason key (what a
retention follow-up acknowledges), the amount at risk and the facts its sentence needs. The
caller adds the scope (a permission clause, or everyone for the morning plan). A reason is
quiet while the customer has an open retention follow-up, and for the snooze days after one
acknowledging that same reason key was done; a new reason has a new key and speaks up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Numeric,
    Select,
    String,
    case,
    exists,
    literal,
    null,
    select,
)
from sqlalchemy.orm import aliased

from crm_store.models import (
    Customer,
    CustomerAumHistory,
    FollowUp,
    Holding,
    Interaction,
    NoteSignal,
    RetentionAck,
)
from crm_store.settings import Settings

RULES = ("maturity", "aum_drop", "silence", "complaint", "matured")
RULE_COLUMNS = ("customer_id", "rule", "reason_key", "at_risk", "on", "figure", "label")
# Money that can leave at maturity; a loan maturing is not money leaving the bank.
LEAVING_TYPES = ("time_deposit", "large_cd", "wealth_management")
OPEN_STATUSES = ("open", "snoozed")


@dataclass(frozen=True)
class RuleWindow:
    """The dates and thresholds one evaluation uses, from the settings and the business day."""

    today: date
    start_of_today: datetime  # UTC instant the business day begins
    large_amount: Decimal
    maturity_days: int
    quiet_days: int
    aum_drop: float
    aum_days: int
    cadence: dict[str, int]
    complaint_days: int
    matured_days: int
    snooze_days: int

    def days_ago(self, days: int) -> datetime:
        """The UTC instant `days` business days before the start of today."""
        return self.start_of_today - timedelta(days=days)


def rule_window(settings: Settings, today: date) -> RuleWindow:
    """The window for business date `today`."""
    start = datetime.combine(today, time(0), tzinfo=settings.tz)
    return RuleWindow(
        today=today,
        start_of_today=start,
        large_amount=Decimal(settings.retention_large_amount),
        maturity_days=settings.retention_maturity_days,
        quiet_days=settings.retention_quiet_days,
        aum_drop=settings.retention_aum_drop,
        aum_days=settings.retention_aum_days,
        cadence=settings.retention_cadence_days,
        complaint_days=settings.retention_complaint_days,
        matured_days=settings.retention_matured_days,
        snooze_days=settings.retention_snooze_days,
    )


def _notes_since(customer_id: Any, since: Any) -> ColumnElement[bool]:
    return exists().where(
        Interaction.customer_id == customer_id,
        Interaction.occurred_at >= since,
        Interaction.undone_at.is_(None),
    )


def _not_quieted(w: RuleWindow, reason_key: Any) -> ColumnElement[bool]:
    """No open retention follow-up; no done one acknowledging this reason within the snooze."""
    open_followup = exists().where(
        FollowUp.customer_id == Customer.id,
        FollowUp.kind == "retention",
        FollowUp.status.in_(OPEN_STATUSES),
    )
    acked = exists().where(
        RetentionAck.customer_id == Customer.id,
        RetentionAck.reason_key == reason_key,
        FollowUp.id == RetentionAck.followup_id,
        FollowUp.status == "done",
        FollowUp.closed_at >= w.days_ago(w.snooze_days),
    )
    return ~open_followup & ~acked


def _row(
    rule: str, key: Any, at_risk: Any, on: Any, figure: Any, label: Any
) -> list[ColumnElement[Any]]:
    return [
        Customer.id.label("customer_id"),
        literal(rule, String).label("rule"),
        key.label("reason_key"),
        at_risk.label("at_risk"),
        on.label("on"),
        figure.label("figure"),
        label.label("label"),
    ]


def maturity_rule(w: RuleWindow, scope: ColumnElement[bool]) -> Select[Any]:
    """Rule 1: a large holding matures soon and nobody has talked to the customer lately."""
    key = literal("m:", String) + Holding.id
    cols = _row("maturity", key, Holding.amount, Holding.maturity_date, Holding.amount, Holding.id)
    return (
        select(*cols)
        .join(Customer, Customer.id == Holding.customer_id)
        .where(
            Holding.maturity_date >= w.today,
            Holding.maturity_date <= w.today + timedelta(days=w.maturity_days),
            Holding.amount >= w.large_amount,
            Holding.product_type.in_(LEAVING_TYPES),
            ~_notes_since(Holding.customer_id, w.days_ago(w.quiet_days)),
            scope,
            _not_quieted(w, key),
        )
    )


def aum_drop_rule(w: RuleWindow, scope: ColumnElement[bool]) -> Select[Any]:
    """Rule 2: AUM fell by the threshold against the AUM `aum_days` ago.

    Only customers whose AUM changed within the period can have fallen, so the query starts
    from the history rows of the period (index on as_of) rather than from every customer."""
    then = w.today - timedelta(days=w.aum_days)
    past = aliased(CustomerAumHistory, name="past")
    past_aum = (
        select(past.aum)
        .where(past.customer_id == Customer.id, past.as_of <= then)
        .order_by(past.as_of.desc())
        .limit(1)
        .scalar_subquery()
    )
    changed = (
        select(CustomerAumHistory.customer_id)
        .where(CustomerAumHistory.as_of > then, CustomerAumHistory.as_of <= w.today)
        .distinct()
    )
    key = literal("aum", String)
    cols = _row("aum_drop", key, past_aum - Customer.aum, literal(then, Date), past_aum, null())
    factor = Decimal(str(round(1 - w.aum_drop, 4)))
    return select(*cols).where(
        Customer.id.in_(changed),
        past_aum > 0,
        Customer.aum <= past_aum * literal(factor, Numeric(6, 4)),
        scope,
        _not_quieted(w, key),
    )


def silence_rule(w: RuleWindow, scope: ColumnElement[bool]) -> Select[Any]:
    """Rule 3: no note for longer than the segment's cadence (prospects once contacted)."""
    since = case(
        *((Customer.segment == seg, w.days_ago(days)) for seg, days in w.cadence.items()),
        else_=None,
    )
    key = literal("silence", String)
    prospect = Customer.segment == "prospect"
    ever = exists().where(Interaction.customer_id == Customer.id, Interaction.undone_at.is_(None))
    cols = _row("silence", key, Customer.aum, null(), null(), Customer.segment)
    return select(*cols).where(
        Customer.segment.in_(list(w.cadence)),
        ~_notes_since(Customer.id, since),
        ~prospect | ever,
        scope,
        _not_quieted(w, key),
    )


def complaint_rule(w: RuleWindow, scope: ColumnElement[bool]) -> Select[Any]:
    """Rule 4: a recent note flagged as a complaint or intent to leave, with no contact since
    (no later note, no follow-up done after it)."""
    later = aliased(Interaction, name="later")
    later_note = exists().where(
        later.customer_id == Interaction.customer_id,
        later.occurred_at > Interaction.occurred_at,
        later.undone_at.is_(None),
    )
    done_since = exists().where(
        FollowUp.customer_id == Interaction.customer_id,
        FollowUp.status == "done",
        FollowUp.closed_at > Interaction.occurred_at,
    )
    key = literal("c:", String) + Interaction.id
    on = Interaction.occurred_at
    cols = _row("complaint", key, Customer.aum, on, null(), NoteSignal.matched)
    return (
        select(*cols)
        .join(NoteSignal, NoteSignal.interaction_id == Interaction.id)
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(
            NoteSignal.complaint,
            Interaction.occurred_at >= w.days_ago(w.complaint_days),
            Interaction.undone_at.is_(None),
            ~later_note,
            ~done_since,
            scope,
            _not_quieted(w, key),
        )
    )


def matured_rule(w: RuleWindow, scope: ColumnElement[bool]) -> Select[Any]:
    """Rule 5: a holding matured lately and no holding started since (nothing renewed)."""
    newer = aliased(Holding, name="newer")
    renewed = exists().where(
        newer.customer_id == Holding.customer_id,
        newer.id != Holding.id,
        newer.start_date >= Holding.maturity_date,
    )
    key = literal("x:", String) + Holding.id
    cols = _row("matured", key, Holding.amount, Holding.maturity_date, Holding.amount, Holding.id)
    return (
        select(*cols)
        .join(Customer, Customer.id == Holding.customer_id)
        .where(
            Holding.maturity_date < w.today,
            Holding.maturity_date >= w.today - timedelta(days=w.matured_days),
            Holding.product_type.in_(LEAVING_TYPES),
            ~renewed,
            scope,
            _not_quieted(w, key),
        )
    )


RULE_QUERIES = {
    "maturity": maturity_rule,
    "aum_drop": aum_drop_rule,
    "silence": silence_rule,
    "complaint": complaint_rule,
    "matured": matured_rule,
}


def reason_rows(w: RuleWindow, scope: ColumnElement[bool]) -> list[Select[Any]]:
    """One SELECT per rule, scoped by `scope` (a WHERE clause on Customer)."""
    return [query(w, scope) for query in RULE_QUERIES.values()]
