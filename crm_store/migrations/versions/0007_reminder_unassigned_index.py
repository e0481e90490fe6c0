"""reminder index by (status, digest, recipient) for digest opening and attaching

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 00:42:01.657556
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_recipient_status"))
        batch_op.create_index(
            "ix_reminder_unassigned", ["status", "digest_id", "recipient_staff_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_unassigned")
        batch_op.create_index(
            batch_op.f("ix_reminder_recipient_status"),
            ["recipient_staff_id", "status"],
            unique=False,
        )
