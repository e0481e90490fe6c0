"""reminders without a customer: the weekly team report rides in the outbox too

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.alter_column("customer_id", existing_type=sa.String(32), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM reminder WHERE customer_id IS NULL")
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.alter_column("customer_id", existing_type=sa.String(32), nullable=False)
