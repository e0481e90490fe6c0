"""What each KIND of file looks like: its columns, its table and its references."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, NamedTuple

from sqlalchemy import String, Table

from crm_store.importer import fields as f
from crm_store.importer import rowmaps as rm
from crm_store.importer.rowmaps import BRANCH, CUSTOMER, HOLDING, INTERACTION, STAFF, Context
from crm_store.models import CALENDARS, PRODUCT_TYPES, RISK_LEVELS, ROLES, SEGMENTS

CONTENT_CHARS = 20_000


def _length(table: Table, column: str) -> int:
    column_type = table.c[column].type
    assert isinstance(column_type, String) and column_type.length
    return column_type.length


class Column(NamedTuple):
    """One header column: its parser, and whether a value is required."""

    name: str
    parse: f.Parser
    required: bool = False
    default: Any = None


class Ref(NamedTuple):
    """A value that must be the id of an existing (or same-file) row of `table`."""

    column: str  # the header column, which is also the Core values key
    table: Table
    label: str


class Built(NamedTuple):
    """One good row: its spreadsheet row number, Core values, and values for other tables."""

    row: int
    values: dict[str, Any]
    extra: dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """A KIND of import file: its columns, its table and how a row maps onto it."""

    name: str
    table: Table
    id_column: str
    columns: tuple[Column, ...]
    build: Callable[[dict[str, Any], Context], tuple[dict[str, Any], dict[str, Any]]]
    refs: tuple[Ref, ...] = field(default=())

    @property
    def allowed(self) -> tuple[str, ...]:
        """Every column the header may have."""
        return tuple(column.name for column in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        """Columns the header must have (they need a value on every row)."""
        return tuple(column.name for column in self.columns if column.required)


def kinds(zone: tzinfo) -> dict[str, Kind]:
    """The five kinds; naive date-times in interactions are read in `zone`."""
    branch_id = f.identifier(_length(BRANCH, "id"))
    staff_id = f.identifier(_length(STAFF, "id"))
    customer_id = f.identifier(_length(CUSTOMER, "id"))
    return {
        "branches": Kind(
            "branches", BRANCH, "branch_id",
            (
                Column("branch_id", branch_id, True),
                Column("name", f.text(_length(BRANCH, "name")), True),
                Column("parent_id", branch_id),
            ),
            rm.branch,
            (Ref("parent_id", BRANCH, "branch"),),
        ),
        "staff": Kind(
            "staff", STAFF, "staff_id",
            (
                Column("staff_id", staff_id, True),
                Column("name", f.text(_length(STAFF, "name")), True),
                Column("role", f.choice(ROLES), True),
                Column("branch_id", branch_id),
                Column("team_id", f.identifier(_length(STAFF, "team_id"))),
                Column("wecom_userid", f.wecom_userid),
                Column("telegram_user_id", f.telegram_user_id),
                Column("active", f.boolean, default=True),
            ),
            rm.staff,
            (Ref("branch_id", BRANCH, "branch"),),
        ),
        "customers": Kind(
            "customers", CUSTOMER, "customer_id",
            (
                Column("customer_id", customer_id, True),
                Column("name", f.text(_length(CUSTOMER, "name")), True),
                Column("owner_staff_id", staff_id, True),
                Column("branch_id", branch_id, True),
                Column("segment", f.choice(SEGMENTS), True),
                Column("birthday", f.date_parts),
                Column("birthday_calendar", f.choice(CALENDARS), default="solar"),
                Column("phone", f.phone),
                Column("id_number", f.id_number),
                Column("risk_level", f.choice(RISK_LEVELS)),
                Column("aum", f.money),
                Column("tags", f.tags, default=""),
            ),
            rm.customer,
            (Ref("owner_staff_id", STAFF, "staff"), Ref("branch_id", BRANCH, "branch")),
        ),
        "holdings": Kind(
            "holdings", HOLDING, "holding_id",
            (
                Column("holding_id", f.identifier(_length(HOLDING, "id")), True),
                Column("customer_id", customer_id, True),
                Column("product_type", f.choice(PRODUCT_TYPES), True),
                Column("product_name", f.text(_length(HOLDING, "product_name")), True),
                Column("amount", f.money, True),
                Column("currency", f.currency, default="CNY"),
                Column("start_date", f.day),
                Column("maturity_date", f.day),
            ),
            rm.holding,
            (Ref("customer_id", CUSTOMER, "customer"),),
        ),
        "interactions": Kind(
            "interactions", INTERACTION, "interaction_id",
            (
                Column("interaction_id", f.identifier(_length(INTERACTION, "id")), True),
                Column("customer_id", customer_id, True),
                Column("staff_id", staff_id, True),
                Column("occurred_at", f.timestamp(zone), True),
                Column("channel", f.identifier(_length(INTERACTION, "channel")), default="import"),
                Column("content", f.text(CONTENT_CHARS), True),
                Column("next_followup_on", f.day),
            ),
            rm.interaction,
            (Ref("customer_id", CUSTOMER, "customer"), Ref("staff_id", STAFF, "staff")),
        ),
    }  # fmt: skip
