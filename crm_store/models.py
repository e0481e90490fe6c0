"""SQLAlchemy 2.0 typed models: the bank's own entities, SQL as the source of truth."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations behave the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("rm", "team_lead", "branch_head", "compliance", "admin")
SEGMENTS = ("vip", "regular", "prospect")
CALENDARS = ("solar", "lunar")
RISK_LEVELS = ("C1", "C2", "C3", "C4", "C5")
PRODUCT_TYPES = ("time_deposit", "large_cd", "wealth_management", "fund", "insurance", "loan")
FOLLOWUP_STATUSES = ("open", "done", "snoozed")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) as well."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime (business or UTC time)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Big integer ids on PostgreSQL; SQLite only autoincrements a plain INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Money = Numeric(18, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class Branch(Base):
    __tablename__ = "branch"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("branch.id"), index=True)


class Team(Base):
    __tablename__ = "team"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    branch_id: Mapped[str | None] = mapped_column(ForeignKey("branch.id"), index=True)


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    branch_id: Mapped[str | None] = mapped_column(ForeignKey("branch.id"), index=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("team.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ChannelIdentity(Base):
    """A platform account (WeCom UserID, Telegram user id, console) bound to one staff member."""

    __tablename__ = "channel_identity"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Customer(Base):
    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_birthday_md", "birth_month", "birth_day"),
        Index("ix_customer_owner_name", "owner_staff_id", "name"),
        # Customer id -> owner without reading the row: the planner joins overdue follow-ups.
        Index("ix_customer_id_owner", "id", "owner_staff_id"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    name_pinyin: Mapped[str] = mapped_column(String(200), index=True)
    owner_staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    branch_id: Mapped[str] = mapped_column(ForeignKey("branch.id"), index=True)
    segment: Mapped[str] = mapped_column(String(16), index=True)
    # Month and day only (a lunar birthday keeps its lunar month-day: day 30 is not a valid
    # solar date). No birth year: with the ID's last 4 it narrowed an ID to a handful.
    birth_month: Mapped[int | None] = mapped_column(Integer)
    birth_day: Mapped[int | None] = mapped_column(Integer)
    birthday_calendar: Mapped[str] = mapped_column(String(8), default="solar")
    birthday_leap_month: Mapped[bool] = mapped_column(Boolean, default=False)
    # Personal numbers: ciphertext at rest, a masked form for display, last 4 for matching.
    # An ID's masked form shows its last 4 only (migration 0011).
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_masked: Mapped[str | None] = mapped_column(String(32))
    phone_last4: Mapped[str | None] = mapped_column(String(4), index=True)
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_masked: Mapped[str | None] = mapped_column(String(32))
    id_number_last4: Mapped[str | None] = mapped_column(String(4))
    risk_level: Mapped[str | None] = mapped_column(String(2))
    aum: Mapped[Decimal | None] = mapped_column(Money)
    tags: Mapped[str] = mapped_column(String(500), default="")
    # Keyed hash of the imported row: re-importing identical data changes nothing.
    import_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CustomerAumHistory(Base):
    """The customer's AUM as of an import date: one row whenever an import changes `aum`."""

    __tablename__ = "customer_aum_history"
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    aum: Mapped[Decimal] = mapped_column(Money)


class CustomerTagEdit(Base):
    """A tag an RM added or removed in chat; import merges these into its own tags."""

    __tablename__ = "customer_tag_edit"
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)
    action: Mapped[str] = mapped_column(String(8))  # add | remove
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class CustomerTeam(Base):
    """Extra staff with access to a customer, until `ends_on` (inclusive) if set."""

    __tablename__ = "customer_team"
    __table_args__ = (UniqueConstraint("customer_id", "staff_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    ends_on: Mapped[date | None] = mapped_column(Date)


class Holding(Base):
    __tablename__ = "holding"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)
    product_type: Mapped[str] = mapped_column(String(24))
    product_name: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    start_date: Mapped[date | None] = mapped_column(Date)
    maturity_date: Mapped[date | None] = mapped_column(Date, index=True)


class Interaction(Base):
    """A follow-up note: what was discussed with a customer, and when to call again."""

    __tablename__ = "interaction"
    __table_args__ = (
        Index("ix_interaction_customer_occurred", "customer_id", "occurred_at"),
        UniqueConstraint("channel", "source_message_id"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"))
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    channel: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    next_followup_on: Mapped[date | None] = mapped_column(Date)
    source_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    undone_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class FollowUp(Base):
    """A follow-up task opened by a note; at most one per note."""

    __tablename__ = "followup"
    # Covering indexes for the reminder planner (open follow-ups by due date -> their owners)
    # and for each digest's overdue list (one customer's open follow-ups by due date).
    __table_args__ = (
        Index("ix_followup_status_due_owner", "status", "due_on", "owner_staff_id", "customer_id"),
        Index("ix_followup_customer_status_due", "customer_id", "status", "due_on"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"))
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    interaction_id: Mapped[str | None] = mapped_column(ForeignKey("interaction.id"), unique=True)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default="open")
    summary: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # "note" (opened by a note) or "retention" (opened on a churn warning, quiets it).
    kind: Mapped[str] = mapped_column(String(16), default="note", server_default="note")
    # The customer's owner, copied by database triggers (migration 0006) whenever a follow-up
    # is written or its customer changes hands, so the planner finds the staff with overdue
    # follow-ups from this table's index alone instead of one customer look-up per follow-up.
    # Never written by the application.
    owner_staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))


class NoteSignal(Base):
    """What a note says about churn (rule 4), computed once when the note is indexed."""

    __tablename__ = "note_signal"
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interaction.id"), primary_key=True)
    complaint: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)  # best similarity to the example bank
    matched: Mapped[str] = mapped_column(String(100))  # the keyword or example that matched
    classified_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RetentionAck(Base):
    """A churn reason a retention follow-up answers: quiet while open and a while after."""

    __tablename__ = "retention_ack"
    followup_id: Mapped[int] = mapped_column(ForeignKey("followup.id"), primary_key=True)
    reason_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)


class ConversationState(Base):
    """Per channel + staff member: a pending clarification, the last numbered list, the last
    note that may be undone. Kept in the database so a restart loses nothing."""

    __tablename__ = "conversation_state"
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditLog(Base):
    """Append-only record of every request and disclosure (triggers forbid update/delete)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Wall-clock time of the write, whatever clock the request ran under.
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # The business time the request pretended (`ask --now`); None when it ran on real time.
    as_of: Mapped[datetime | None] = mapped_column(UtcDateTime())
    actor_staff_id: Mapped[str | None] = mapped_column(String(32), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str | None] = mapped_column(String(128))
    chat_type: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str] = mapped_column(String(32))
    customer_ids: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(String(16))
    text_masked: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class Reminder(Base):
    """Outbox row: one thing to remind one staff member of, planned once per unique key."""

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("kind", "entity_id", "occurs_on", "lead_days", "recipient_staff_id"),
        # Pending reminders not yet in a digest, by recipient: the planner's digest opening
        # reads this range alone, and attaching a digest's items is one equality look-up.
        Index("ix_reminder_unassigned", "status", "digest_id", "recipient_staff_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # birthday | maturity | followup | retention | team_report
    kind: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(40))  # customer, holding or follow-up id
    # NULL only for a weekly team report (kind team_report), which is about no one customer;
    # typed as str because every other kind, and everything that reads them, has one.
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True, nullable=True)
    occurs_on: Mapped[date] = mapped_column(Date)
    lead_days: Mapped[int] = mapped_column(Integer)
    recipient_staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    business_date: Mapped[date] = mapped_column(Date)  # the digest day it was planned for
    # pending -> sent | acked | cancelled; digest_id is set when a digest takes the row.
    # A digest's rows are only ever looked up while pending: ix_reminder_unassigned serves it.
    status: Mapped[str] = mapped_column(String(12), default="pending")
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digest.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Digest(Base):
    """One morning message per staff member per business date, claimed by one sender."""

    __tablename__ = "digest"
    __table_args__ = (
        UniqueConstraint("recipient_staff_id", "business_date"),
        Index("ix_digest_status_next", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    recipient_staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    business_date: Mapped[date] = mapped_column(Date)
    # pending -> sending -> sent | failed | empty | undeliverable (no channel reaches the
    # recipient; sent after all once they are bound, if still on its business date).
    # SQLite keeps 0002's VARCHAR(12): it enforces no length, and changing the type would
    # rebuild a table that reminder rows point at.
    status: Mapped[str] = mapped_column(
        String(16).with_variant(String(12), "sqlite"), default="pending"
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str | None] = mapped_column(String(16))
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PlanRun(Base):
    """Business dates already planned: the next plan covers the days since the last one."""

    __tablename__ = "reminder_plan_run"
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    planned_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Its digests say "late" (planned after the digest time).
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Null until this plan's digests are opened: a sender opens those a crash left unopened.
    digests_opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class InboxMessage(Base):
    """A platform message, stored before it is acknowledged: a retried delivery is a
    duplicate key, and a row a crash left pending is processed after restart."""

    __tablename__ = "inbox_message"
    __table_args__ = (
        UniqueConstraint("channel", "msg_key"),
        Index("ix_inbox_message_status", "status", "received_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    msg_key: Mapped[str] = mapped_column(String(128))  # MsgId, or sender + CreateTime, update_id
    sender_id: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str] = mapped_column(String(128))
    chat_type: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|done|failed
    # A voice message's platform reference as JSON (MediaId or file_id, format, seconds):
    # the audio itself is never stored. NULL for text.
    voice: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # A WeCom callback as it came, still encrypted (bot/wecom.py), keyed by its signature:
    # serve acknowledges it without decrypting or parsing it, and the claim opens it. The
    # other message columns are placeholders until then. NULL once opened, and for the rest.
    sealed: Mapped[str | None] = mapped_column(Text)


class BindCode(Base):
    """A one-time code an admin issues so a staff member can bind a chat account."""

    __tablename__ = "bind_code"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class StoreMeta(Base):
    """Named values of the store itself, e.g. the data key check (never the key)."""

    __tablename__ = "store_meta"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SharedSecret(Base):
    """Short-lived values shared by every bot process, e.g. a platform access token."""

    __tablename__ = "shared_secret"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IndexChange(Base):
    """One write to the note index, logged after Chroma took it: every process with a vector
    cache on a Chroma server reads the log from the last id it applied (retrieval/change_feed.py).
    A NULL note id means the whole collection was rebuilt."""

    __tablename__ = "index_change"
    __table_args__ = (Index("ix_index_change_created_at", "created_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    note_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IndexOutbox(Base):
    """A note whose search-index entry must be written or removed, queued in the same
    transaction as the change; `retrieval.sync` applies it to Chroma after commit."""

    __tablename__ = "index_outbox"
    __table_args__ = (Index("ix_index_outbox_pending", "processed_at", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # No foreign key: a delete must outlive the note it removes from the index.
    note_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(8))  # upsert | delete
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
