"""plan runs record lateness and when their digests were opened

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 02:38:45.323449
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reminder_plan_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("digests_opened_at", sa.DateTime(timezone=True), nullable=True)
        )
    # Plans made before this revision opened their digests in the same transaction.
    op.execute("UPDATE reminder_plan_run SET digests_opened_at = planned_at")


def downgrade() -> None:
    with op.batch_alter_table("reminder_plan_run", schema=None) as batch_op:
        batch_op.drop_column("digests_opened_at")
        batch_op.drop_column("late")
