"""Parsed cells -> Core values of each table, plus the checks that span columns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table

from crm_store.crypto import FieldCipher
from crm_store.importer.errors import FieldError
from crm_store.masking import mask_text
from crm_store.models import (
    Branch,
    ChannelIdentity,
    Customer,
    FollowUp,
    Holding,
    Interaction,
    Staff,
    Team,
)
from crm_store.personal import id_number_columns, phone_columns
from crm_store.pinyin import name_pinyin
from crm_store.redaction import redact_secrets
from crm_store.text_cut import shorten

BRANCH: Table = Branch.__table__  # type: ignore[assignment]
TEAM: Table = Team.__table__  # type: ignore[assignment]
STAFF: Table = Staff.__table__  # type: ignore[assignment]
IDENTITY: Table = ChannelIdentity.__table__  # type: ignore[assignment]
CUSTOMER: Table = Customer.__table__  # type: ignore[assignment]
HOLDING: Table = Holding.__table__  # type: ignore[assignment]
INTERACTION: Table = Interaction.__table__  # type: ignore[assignment]
FOLLOWUP: Table = FollowUp.__table__  # type: ignore[assignment]
SUMMARY_CHARS = 60
PINYIN_CHARS = 200
MIN_BIRTH_YEAR = 1900
LEAP_YEAR = 2000  # checks a month-day written without a year

Values = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What building rows needs besides the row: the cipher and the clock."""

    cipher: FieldCipher
    now: datetime  # UTC
    as_of: date | None = None  # the business date the file's figures (AUM) are as of


def branch(v: Values, ctx: Context) -> tuple[Values, Values]:
    """A branch row."""
    return {"id": v["branch_id"], "name": v["name"], "parent_id": v["parent_id"]}, {}


def staff(v: Values, ctx: Context) -> tuple[Values, Values]:
    """A staff row; the channel accounts go to channel_identity."""
    values = {
        "id": v["staff_id"],
        "name": v["name"],
        "role": v["role"],
        "branch_id": v["branch_id"],
        "team_id": v["team_id"],
        "active": v["active"],
    }
    return values, {"wecom": v["wecom_userid"], "telegram": v["telegram_user_id"]}


def check_birthday(parts: tuple[int | None, int, int], calendar: str, this_year: int) -> None:
    """Lunar dates allow day 30 in any month; solar dates must exist (29 February without a
    year is allowed)."""
    year, month, day = parts
    if year is not None and (year < MIN_BIRTH_YEAR or year > this_year):
        raise FieldError("birthday", f"year {year} is out of range")
    if calendar == "lunar":
        if not (1 <= month <= 12 and 1 <= day <= 30):
            raise FieldError("birthday", "not a lunar date (month 1-12, day 1-30)")
        return
    try:
        date(LEAP_YEAR if year is None else year, month, day)
    except ValueError as exc:
        raise FieldError("birthday", "not a real date") from exc


def customer(v: Values, ctx: Context) -> tuple[Values, Values]:
    """A customer row without its personal-number columns (see `seal_customer`)."""
    calendar = v["birthday_calendar"]
    parts = v["birthday"]
    if parts is not None:
        check_birthday(parts, calendar, ctx.now.year)
    _year, month, day = parts or (None, None, None)
    phone, id_number, aum = v["phone"], v["id_number"], v["aum"]
    # The year is not stored, so it is not hashed either: an export (month-day only)
    # imported again is unchanged.
    digest = ctx.cipher.row_hash(
        v["customer_id"], v["name"], v["owner_staff_id"], v["branch_id"], v["segment"],
        month, day, calendar, phone, id_number, v["risk_level"], aum, v["tags"],
    )  # fmt: skip
    values = {
        "id": v["customer_id"],
        "name": v["name"],
        "name_pinyin": name_pinyin(v["name"])[:PINYIN_CHARS],
        "owner_staff_id": v["owner_staff_id"],
        "branch_id": v["branch_id"],
        "segment": v["segment"],
        "birth_month": month,
        "birth_day": day,
        "birthday_calendar": calendar,
        "birthday_leap_month": False,
        "risk_level": v["risk_level"],
        "aum": aum,
        "tags": v["tags"],
        "import_hash": digest,
        "updated_at": ctx.now,
    }
    return values, {"phone": phone, "id_number": id_number}


def seal_customer(values: Values, extra: Values, cipher: FieldCipher) -> Values:
    """Add the encrypted, masked and last-4 columns; done only for rows about to be written."""
    values.update(phone_columns(cipher, extra["phone"]))
    values.update(id_number_columns(cipher, extra["id_number"]))
    return values


def holding(v: Values, ctx: Context) -> tuple[Values, Values]:
    """A holding row; a maturity date may not precede the start date."""
    start, maturity = v["start_date"], v["maturity_date"]
    if start is not None and maturity is not None and maturity < start:
        raise FieldError("maturity_date", "before start_date")
    values = {
        "id": v["holding_id"],
        "customer_id": v["customer_id"],
        "product_type": v["product_type"],
        "product_name": v["product_name"],
        "amount": v["amount"],
        "currency": v["currency"],
        "start_date": start,
        "maturity_date": maturity,
    }
    return values, {}


def interaction(v: Values, ctx: Context) -> tuple[Values, Values]:
    """A note row; personal numbers in its text are masked, as for notes typed in chat."""
    values = {
        "id": v["interaction_id"],
        "customer_id": v["customer_id"],
        "staff_id": v["staff_id"],
        "occurred_at": v["occurred_at"],
        "channel": v["channel"],
        "content": redact_secrets(mask_text(v["content"])),
        "next_followup_on": v["next_followup_on"],
        "created_at": ctx.now,
    }
    return values, {}


def followup(note: Values, now: datetime) -> Values:
    """The open follow-up task a note with a next date asks for."""
    return {
        "customer_id": note["customer_id"],
        "staff_id": note["staff_id"],
        "interaction_id": note["id"],
        "due_on": note["next_followup_on"],
        "status": "open",
        "summary": shorten(note["content"], SUMMARY_CHARS),
        "created_at": now,
        "closed_at": None,
    }
