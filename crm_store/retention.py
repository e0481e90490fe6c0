"""Churn warnings (流失预警): the rules' reasons grouped into one warning per customer.

A warning lists all its customer's reasons, largest amount at risk first, and warnings are
ranked by their largest amount at risk. The words are the handlers' job; this module gives
the facts (dates, amounts, products, days since the last note).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select, true, union
from sqlalchemy.orm import Session

from crm_store.models import Customer, Holding, Interaction
from crm_store.retention_rules import RuleWindow, reason_rows, rule_window
from crm_store.settings import Settings
from crm_store.sql_lists import one_of

ZERO = Decimal(0)


@dataclass(frozen=True)
class Reason:
    """One reason with its facts; `key` is what a retention follow-up acknowledges."""

    rule: str
    key: str
    at_risk: Decimal
    on: date | None = None  # maturity date, AUM comparison date, note date
    figure: Decimal | None = None  # holding amount, AUM back then, silence: cadence days
    product_type: str = ""
    product_name: str = ""
    matched: str = ""  # complaint: the keyword or example that matched


@dataclass(frozen=True)
class Warning:
    """One customer at risk, with every reason."""

    customer_id: str
    customer_name: str
    owner_staff_id: str
    segment: str
    aum: Decimal | None
    last_note_on: date | None
    reasons: list[Reason] = field(default_factory=list)

    @property
    def at_risk(self) -> Decimal:
        """The largest amount at risk among the reasons (they overlap: a deposit is AUM)."""
        return max((r.at_risk for r in self.reasons), default=ZERO)

    @property
    def reason_keys(self) -> list[str]:
        """The keys a retention follow-up on this warning acknowledges."""
        return [r.key for r in self.reasons]


def _money(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value))


def _as_date(value: Any, settings: Settings) -> date | None:
    if isinstance(value, datetime):
        # A bare column in a hand-made SELECT comes back naive from SQLite: it is UTC.
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(settings.tz).date()
    return value if isinstance(value, date) else None


def _reasons(session: Session, w: RuleWindow, scope: ColumnElement[bool]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for query in reason_rows(w, scope):
        rows.extend(dict(r) for r in session.execute(query).mappings())
    return rows


def _latest_complaint_only(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Several complaint notes of one customer make one reason: the latest."""
    latest: dict[str, dict[str, Any]] = {}
    kept: list[dict[str, Any]] = []
    for row in rows:
        if row["rule"] != "complaint":
            kept.append(row)
        elif row["customer_id"] not in latest or row["on"] > latest[row["customer_id"]]["on"]:
            latest[row["customer_id"]] = row
    return kept + list(latest.values())


def _holdings(session: Session, ids: list[str]) -> dict[str, tuple[str, str]]:
    if not ids:
        return {}
    query = select(Holding.id, Holding.product_type, Holding.product_name)
    return {h: (t, n) for h, t, n in session.execute(query.where(one_of(session, Holding.id, ids)))}


def last_note_days(
    session: Session, customer_ids: list[str], settings: Settings
) -> dict[str, date]:
    """Customer id -> business date of the customer's last live note."""
    if not customer_ids:
        return {}
    query = (
        select(Interaction.customer_id, func.max(Interaction.occurred_at))
        .where(
            one_of(session, Interaction.customer_id, customer_ids), Interaction.undone_at.is_(None)
        )
        .group_by(Interaction.customer_id)
    )
    found: dict[str, date] = {}
    for cid, last in session.execute(query):
        day = _as_date(last, settings)
        if day is not None:
            found[cid] = day
    return found


def warnings(
    session: Session,
    settings: Settings,
    today: date,
    scope: ColumnElement[bool] | None = None,
) -> list[Warning]:
    """Every warning among the customers `scope` keeps (everyone if None), worst first."""
    w = rule_window(settings, today)
    rows = _latest_complaint_only(_reasons(session, w, true() if scope is None else scope))
    ids = list(dict.fromkeys(r["customer_id"] for r in rows))
    if not ids:
        return []
    people = session.execute(
        select(
            Customer.id, Customer.name, Customer.owner_staff_id, Customer.segment, Customer.aum
        ).where(one_of(session, Customer.id, ids))
    ).all()
    holdings = _holdings(
        session, [r["label"] for r in rows if r["rule"] in ("maturity", "matured")]
    )
    last = last_note_days(session, ids, settings)
    grouped: dict[str, list[Reason]] = {cid: [] for cid in ids}
    cadence = settings.retention_cadence_days
    for row in rows:
        if row["rule"] == "silence":  # the segment's cadence, for the sentence
            row["figure"] = cadence.get(row["label"], 0)
        held = row["rule"] in ("maturity", "matured")
        product = holdings.get(row["label"], ("", "")) if held else ("", "")
        grouped[row["customer_id"]].append(
            Reason(
                rule=row["rule"],
                key=row["reason_key"],
                at_risk=_money(row["at_risk"]),
                on=_as_date(row["on"], settings),
                figure=None if row["figure"] is None else _money(row["figure"]),
                product_type=product[0],
                product_name=product[1],
                matched=row["label"] if row["rule"] == "complaint" else "",
            )
        )
    result = [
        Warning(
            cid, name, owner, segment, None if aum is None else _money(aum), last.get(cid),
            sorted(grouped[cid], key=lambda r: (-r.at_risk, r.rule)),
        )
        for cid, name, owner, segment, aum in people
    ]  # fmt: skip
    return sorted(result, key=lambda x: (-x.at_risk, x.customer_name, x.customer_id))


def warning_for(
    session: Session, settings: Settings, today: date, customer_id: str
) -> Warning | None:
    """The warning of one customer (the caller has checked the customer is visible)."""
    found = warnings(session, settings, today, Customer.id == customer_id)
    return found[0] if found else None


def at_risk_customers(w: RuleWindow) -> Any:
    """(customer id, owner) of every customer with at least one reason: a UNION of the rules."""
    parts = [select(q.subquery().c.customer_id.label("cid")) for q in reason_rows(w, true())]
    ids = union(*parts).subquery("at_risk")
    return select(Customer.id, Customer.owner_staff_id).join(ids, ids.c.cid == Customer.id)
