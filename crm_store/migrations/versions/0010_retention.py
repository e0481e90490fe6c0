"""retention: AUM history, follow-up kinds, tags edited in chat

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_aum_history",
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("aum", sa.Numeric(18, 2), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_aum_history_customer_id_customer"),
        ),
        sa.PrimaryKeyConstraint("customer_id", "as_of", name=op.f("pk_customer_aum_history")),
    )
    # Plain ADD COLUMN (no batch copy): SQLite keeps followup's owner triggers (0006).
    op.add_column(
        "followup",
        sa.Column("kind", sa.String(16), nullable=False, server_default="note"),
    )
    op.create_table(
        "customer_tag_edit",
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("tag", sa.String(50), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("staff_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_customer_tag_edit_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_customer_tag_edit_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("customer_id", "tag", name=op.f("pk_customer_tag_edit")),
    )


def downgrade() -> None:
    op.drop_table("customer_tag_edit")
    op.drop_column("followup", "kind")  # no batch copy: the triggers stay
    op.drop_table("customer_aum_history")
