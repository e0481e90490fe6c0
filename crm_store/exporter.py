"""`bankbot export KIND`: the rows of one kind in the columns its import takes, as text cells.

Importing an export gives the same data: every cell is written as the import reads it
(birthdays as month-day, since no year is stored; times with their offset; amounts to the
cent). Phone and ID numbers are masked unless revealed, and a masked number is refused by
the import (it must never overwrite a stored number). Every cell is neutralised against
spreadsheet formulas (crm_store/cells.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, tzinfo
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.cells import neutralised
from crm_store.crypto import FieldCipher
from crm_store.importer.kinds import kinds
from crm_store.models import Branch, ChannelIdentity, Customer, Holding, Interaction, Staff

KINDS = ("branches", "staff", "customers", "holdings", "interactions")
BATCH = 1_000
Row = list[str]


def header(kind: str, tz: tzinfo) -> list[str]:
    """The import's columns of `kind`, in the import's order."""
    return list(kinds(tz)[kind].allowed)


def export_rows(
    session: Session, kind: str, *, cipher: FieldCipher, tz: tzinfo, reveal: bool
) -> Iterator[Row]:
    """Every row of `kind` as neutralised text cells, in id order."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if kind == "customers":
        rows = _customers(session, cipher, reveal)
    elif kind == "staff":
        rows = _staff(session)
    else:
        rows = {"branches": _branches, "holdings": _holdings, "interactions": _interactions}[kind](
            session, tz
        )
    for row in rows:
        yield [neutralised(_text(cell)) for cell in row]


def customer_ids(session: Session) -> list[str]:
    """Every customer id, in export order (for the audit row of a customer export)."""
    return list(session.scalars(select(Customer.id).order_by(Customer.id)))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def _branches(session: Session, tz: tzinfo) -> Iterator[tuple[object, ...]]:
    query = select(Branch.id, Branch.name, Branch.parent_id).order_by(Branch.id)
    yield from session.execute(query).tuples()


def _staff(session: Session) -> Iterator[tuple[object, ...]]:
    accounts: dict[tuple[str, str], str] = {}
    for channel, staff_id, external in session.execute(
        select(ChannelIdentity.channel, ChannelIdentity.staff_id, ChannelIdentity.external_id)
        .where(ChannelIdentity.channel.in_(("wecom", "telegram")))
        .order_by(ChannelIdentity.id)
    ).tuples():
        accounts.setdefault((channel, staff_id), external)  # the first bound, as imported
    for s in session.scalars(select(Staff).order_by(Staff.id)):
        yield (
            s.id, s.name, s.role, s.branch_id, s.team_id,
            accounts.get(("wecom", s.id)), accounts.get(("telegram", s.id)), s.active,
        )  # fmt: skip


def _customers(session: Session, cipher: FieldCipher, reveal: bool) -> Iterator[tuple[object, ...]]:
    query = select(Customer).order_by(Customer.id).execution_options(yield_per=BATCH)
    for c in session.scalars(query):
        if reveal:
            phone = cipher.decrypt(c.phone_enc) if c.phone_enc else None
            id_number = cipher.decrypt(c.id_number_enc) if c.id_number_enc else None
        else:
            phone, id_number = c.phone_masked, c.id_number_masked
        birthday = (
            f"{c.birth_month:02d}-{c.birth_day:02d}" if c.birth_month and c.birth_day else None
        )
        yield (
            c.id, c.name, c.owner_staff_id, c.branch_id, c.segment, birthday,
            c.birthday_calendar, phone, id_number, c.risk_level, c.aum, c.tags,
        )  # fmt: skip


def _holdings(session: Session, tz: tzinfo) -> Iterator[tuple[object, ...]]:
    query = select(
        Holding.id, Holding.customer_id, Holding.product_type, Holding.product_name,
        Holding.amount, Holding.currency, Holding.start_date, Holding.maturity_date,
    ).order_by(Holding.id)  # fmt: skip
    yield from session.execute(query.execution_options(yield_per=BATCH)).tuples()


def _interactions(session: Session, tz: tzinfo) -> Iterator[tuple[object, ...]]:
    """Live notes only: a note taken back (undone) is not part of the record."""
    query = (
        select(Interaction)
        .where(Interaction.undone_at.is_(None))
        .order_by(Interaction.id)
        .execution_options(yield_per=BATCH)
    )
    for n in session.scalars(query):
        yield (
            n.id, n.customer_id, n.staff_id, n.occurred_at.astimezone(tz), n.channel,
            n.content, n.next_followup_on,
        )  # fmt: skip
