"""retention: complaint signals of notes, reasons a retention follow-up answers

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "note_signal",
        sa.Column("interaction_id", sa.String(40), nullable=False),
        sa.Column("complaint", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("matched", sa.String(100), nullable=False),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interaction.id"],
            name=op.f("fk_note_signal_interaction_id_interaction"),
        ),
        sa.PrimaryKeyConstraint("interaction_id", name=op.f("pk_note_signal")),
    )
    op.create_table(
        "retention_ack",
        sa.Column("followup_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("reason_key", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["followup_id"], ["followup.id"], name=op.f("fk_retention_ack_followup_id_followup")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_retention_ack_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("followup_id", "reason_key", name=op.f("pk_retention_ack")),
    )
    # Rule 2 starts from the AUM rows of the last 90 days.
    op.create_index(
        op.f("ix_customer_aum_history_as_of"), "customer_aum_history", ["as_of"], unique=False
    )
    op.create_index(
        op.f("ix_retention_ack_customer_id"), "retention_ack", ["customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_retention_ack_customer_id"), table_name="retention_ack")
    op.drop_index(op.f("ix_customer_aum_history_as_of"), table_name="customer_aum_history")
    op.drop_table("retention_ack")
    op.drop_table("note_signal")
