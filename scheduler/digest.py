"""What goes into one staff member's morning digest, checked again just before sending.

The recipient must still be active and still own the customer; a customer reassigned since
planning goes to the new owner; a follow-up closed meanwhile or an occurrence acknowledged
from an earlier digest is dropped. Overdue follow-ups ride along as a count and the oldest few.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store import reminder_items as items
from crm_store.models import Customer, Digest, FollowUp
from crm_store.permissions import can_see, load_actor
from crm_store.retention import Warning, warnings
from crm_store.settings import Settings
from crm_store.team_report import WeeklyReport, weekly_report
from crm_store.upsert import insert_for
from scheduler.claims import Claimed
from scheduler.team_report_plan import report_rows

OVERDUE_SHOWN = 3
WARNINGS_SHOWN = 5  # 【流失预警】: the largest at risk, the rest counted


@dataclass(frozen=True)
class DigestEntry:
    """One numbered line of a digest, and what '完成 N' acts on."""

    kind: str  # birthday | maturity | followup | overdue
    customer_id: str
    customer_name: str
    on: date
    lead_days: int = 0
    calendar: str = "solar"
    product_type: str = ""
    product_name: str = ""
    amount: Decimal | None = None
    currency: str = "CNY"
    summary: str = ""
    action: dict[str, Any] = field(default_factory=dict)
    warning: Warning | None = None  # kind "retention": the reasons and facts


@dataclass(frozen=True)
class DigestContent:
    """Everything a channel needs to write one staff member's digest."""

    recipient_staff_id: str
    recipient_name: str
    business_date: date
    late: bool
    today: list[DigestEntry]
    coming: list[DigestEntry]
    overdue: list[DigestEntry]
    overdue_total: int
    retention: list[DigestEntry] = field(default_factory=list)
    retention_total: int = 0  # warnings in all, shown or only counted
    report: WeeklyReport | None = None  # Monday's team report (team_report reminder)

    @property
    def entries(self) -> list[DigestEntry]:
        """All numbered entries in display order (number = index + 1)."""
        return [*self.today, *self.coming, *self.overdue, *self.retention]

    @property
    def customer_ids(self) -> list[str]:
        """Customers this digest discloses, for the audit row."""
        return list(dict.fromkeys(e.customer_id for e in self.entries))

    def is_empty(self) -> bool:
        """Nothing left to say (everything was closed or moved since planning)."""
        return not self.entries and self.report is None


def _entry(session: Session, line: items.ReminderLine) -> DigestEntry | None:
    who = (line.customer_id, line.customer_name)
    if line.kind == "birthday":
        return DigestEntry(
            "birthday",
            *who,
            on=line.occurs_on,
            lead_days=line.lead_days,
            calendar=line.birthday_calendar,
            action={"kind": "reminder", "id": line.reminder_id},
        )
    if line.kind == "maturity":
        detail = items.holding_detail(session, line.entity_id)
        if detail is None:
            return None
        product_type, product_name, amount, currency = detail
        return DigestEntry(
            "maturity",
            *who,
            on=line.occurs_on,
            lead_days=line.lead_days,
            product_type=product_type,
            product_name=product_name,
            amount=Decimal(str(amount)),
            currency=currency,
            action={"kind": "reminder", "id": line.reminder_id},
        )
    state = items.followup_state(session, line.entity_id)
    if state is None or state[0] == "done":
        return None
    action = {"kind": "followup", "id": int(line.entity_id)}
    return DigestEntry("followup", *who, on=line.occurs_on, summary=state[1], action=action)


def _open_digest(session: Session, recipient: str, claimed: Claimed, now: datetime) -> None:
    """Give the new owner a digest for the same day (if they have none yet), so a rerouted
    reminder goes out in this run instead of waiting for the next plan."""
    statement = insert_for(session, Digest).values(
        recipient_staff_id=recipient,
        business_date=claimed.business_date,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        late=claimed.late,
        item_count=0,
        last_error="",
        created_at=now,
    )
    keys = ["recipient_staff_id", "business_date"]
    session.execute(statement.on_conflict_do_nothing(index_elements=keys))


def _reroute(session: Session, claimed: Claimed, line: items.ReminderLine, now: datetime) -> None:
    """The customer changed hands since planning: the reminder goes to the new owner today."""
    items.reroute(session, line, business_date=claimed.business_date, now=now)
    _open_digest(session, line.owner_staff_id, claimed, now)


def _usable(session: Session, claimed: Claimed, line: items.ReminderLine, now: datetime) -> bool:
    """Re-check one planned reminder; close or reroute it when it must not go out here."""
    if line.owner_staff_id != claimed.recipient_staff_id:
        _reroute(session, claimed, line, now)
        return False
    if items.acknowledged(session, line):
        items.close_reminder(session, line.reminder_id, status="cancelled", note="acknowledged")
        return False
    return True


def _reroute_reassigned(session: Session, claimed: Claimed, now: datetime) -> None:
    """Send on the reminders whose customer has a new owner; the rest are cancelled."""
    for line in items.digest_reminders(session, claimed.digest_id):
        if line.owner_staff_id != claimed.recipient_staff_id:
            _reroute(session, claimed, line, now)


def _overdue(
    session: Session, recipient: str, business_date: date, exclude: set[int]
) -> tuple[list[DigestEntry], int]:
    where = (
        Customer.owner_staff_id == recipient,
        FollowUp.status != "done",
        FollowUp.due_on < business_date,
        FollowUp.id.not_in(exclude) if exclude else FollowUp.id.is_not(None),
    )
    # One pass: the window count gives the total alongside the oldest few.
    rows = session.execute(
        select(
            FollowUp.id,
            Customer.id,
            Customer.name,
            FollowUp.due_on,
            FollowUp.summary,
            func.count().over(),
        )
        .join(Customer, Customer.id == FollowUp.customer_id)
        .where(*where)
        .order_by(FollowUp.due_on, FollowUp.id)
        .limit(OVERDUE_SHOWN)
    ).all()
    entries = [
        DigestEntry(
            "overdue", cid, name, on=due, summary=summary, action={"kind": "followup", "id": fid}
        )
        for fid, cid, name, due, summary, _ in rows
    ]
    total = rows[0][-1] if rows else 0
    return entries, int(total or 0)


def _retention(
    session: Session,
    lines: list[items.ReminderLine],
    business_date: date,
    settings: Settings | None,
) -> tuple[list[DigestEntry], int]:
    """The warnings still standing (a retention follow-up opened since quiets one), worded
    from today's facts; the largest at risk shown, the others counted."""
    by_customer = {line.customer_id: line for line in lines}
    found: dict[str, Warning] = {}
    if by_customer and settings is not None:
        scope = Customer.id.in_(list(by_customer))
        found = {w.customer_id: w for w in warnings(session, settings, business_date, scope)}
    for cid, line in by_customer.items():
        if cid not in found:
            items.close_reminder(session, line.reminder_id, status="cancelled", note="quiet")
    ranked = sorted(found.values(), key=lambda w: (-w.at_risk, w.customer_name, w.customer_id))
    entries = [
        DigestEntry(
            "retention",
            w.customer_id,
            w.customer_name,
            on=business_date,
            amount=w.at_risk,
            warning=w,
            action={"kind": "reminder", "id": by_customer[w.customer_id].reminder_id},
        )
        for w in ranked[:WARNINGS_SHOWN]
    ]
    return entries, len(ranked)


def collect(
    session: Session, claimed: Claimed, now: datetime, settings: Settings | None = None
) -> DigestContent | None:
    """The digest as it may go out now, or None if its recipient may no longer receive it.

    Churn warnings are worded only with `settings` (their thresholds); without, they are
    left out and cancelled."""
    actor = load_actor(session, claimed.recipient_staff_id)
    if actor is None or not actor.active:
        _reroute_reassigned(session, claimed, now)  # a leaver's handed-over customers
        return None
    today: list[DigestEntry] = []
    coming: list[DigestEntry] = []
    warned: list[items.ReminderLine] = []
    for line in items.digest_reminders(session, claimed.digest_id):
        if not _usable(session, claimed, line, now):
            continue
        if line.kind == "retention":
            if can_see(session, actor, line.customer_id, claimed.business_date):
                warned.append(line)
            else:
                items.close_reminder(session, line.reminder_id, status="cancelled", note="closed")
            continue
        entry = _entry(session, line)
        if entry is None or not can_see(session, actor, line.customer_id, claimed.business_date):
            items.close_reminder(session, line.reminder_id, status="cancelled", note="closed")
            continue
        (today if line.occurs_on <= claimed.business_date else coming).append(entry)
    listed = {int(e.action["id"]) for e in today if e.kind == "followup"}
    overdue, total = _overdue(session, actor.staff_id, claimed.business_date, listed)
    retention, warned_total = _retention(session, warned, claimed.business_date, settings)
    report = None
    if settings is not None and report_rows(session, claimed.digest_id):
        report = weekly_report(session, settings, actor, claimed.business_date)
    return DigestContent(
        actor.staff_id,
        actor.name,
        claimed.business_date,
        claimed.late,
        today,
        coming,
        overdue,
        total,
        retention,
        warned_total,
        report,
    )
