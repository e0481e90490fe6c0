"""follow-ups carry their customer's owner, kept by triggers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 00:33:04.748501

The reminder planner opens a digest for every staff member with an overdue follow-up. Finding
them through `customer` cost one customer look-up per open follow-up (~180 ms for 25k overdue
follow-ups over 1M customers). `followup.owner_staff_id` is a copy of the customer's owner that
the database itself keeps true: set when a follow-up is written or moves to another customer,
and rewritten when a customer changes hands, whatever code or tool made the change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNER_OF_CUSTOMER = "(SELECT owner_staff_id FROM customer WHERE customer.id = NEW.customer_id)"

_SQLITE_TRIGGERS = {
    "followup_owner_on_insert": (
        "AFTER INSERT ON followup BEGIN "
        f"UPDATE followup SET owner_staff_id = {_OWNER_OF_CUSTOMER} WHERE id = NEW.id; END"
    ),
    "followup_owner_on_move": (
        "AFTER UPDATE OF customer_id ON followup BEGIN "
        f"UPDATE followup SET owner_staff_id = {_OWNER_OF_CUSTOMER} WHERE id = NEW.id; END"
    ),
    "customer_owner_to_followups": (
        "AFTER UPDATE OF owner_staff_id ON customer "
        "WHEN OLD.owner_staff_id IS NOT NEW.owner_staff_id BEGIN "
        "UPDATE followup SET owner_staff_id = NEW.owner_staff_id WHERE customer_id = NEW.id; END"
    ),
}

_POSTGRES = [
    "CREATE FUNCTION followup_owner() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"NEW.owner_staff_id := {_OWNER_OF_CUSTOMER}; RETURN NEW; END $$",
    "CREATE TRIGGER followup_owner BEFORE INSERT OR UPDATE OF customer_id ON followup "
    "FOR EACH ROW EXECUTE FUNCTION followup_owner()",
    "CREATE FUNCTION customer_owner_to_followups() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "UPDATE followup SET owner_staff_id = NEW.owner_staff_id WHERE customer_id = NEW.id; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER customer_owner_to_followups AFTER UPDATE OF owner_staff_id ON customer "
    "FOR EACH ROW WHEN (OLD.owner_staff_id IS DISTINCT FROM NEW.owner_staff_id) "
    "EXECUTE FUNCTION customer_owner_to_followups()",
]


def upgrade() -> None:
    with op.batch_alter_table("followup", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_staff_id", sa.String(length=32), nullable=True))
        batch_op.drop_index(batch_op.f("ix_followup_status_due_customer"))
        batch_op.create_index(
            "ix_followup_status_due_owner",
            ["status", "due_on", "owner_staff_id", "customer_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_followup_owner_staff_id_staff"), "staff", ["owner_staff_id"], ["id"]
        )
    op.execute(
        "UPDATE followup SET owner_staff_id = "
        "(SELECT owner_staff_id FROM customer WHERE customer.id = followup.customer_id)"
    )
    if op.get_bind().dialect.name == "sqlite":
        for name, body in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    else:
        for statement in _POSTGRES:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS customer_owner_to_followups ON customer")
        op.execute("DROP TRIGGER IF EXISTS followup_owner ON followup")
        op.execute("DROP FUNCTION IF EXISTS customer_owner_to_followups()")
        op.execute("DROP FUNCTION IF EXISTS followup_owner()")
    with op.batch_alter_table("followup", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_followup_owner_staff_id_staff"), type_="foreignkey")
        batch_op.drop_index("ix_followup_status_due_owner")
        batch_op.create_index(
            batch_op.f("ix_followup_status_due_customer"),
            ["status", "due_on", "customer_id"],
            unique=False,
        )
        batch_op.drop_column("owner_staff_id")
