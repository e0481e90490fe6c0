"""drop the reminder digest index: ix_reminder_unassigned serves every look-up by digest

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 02:50:42.673922
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_digest_id"))


def downgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_digest_id"), ["digest_id"], unique=False)
