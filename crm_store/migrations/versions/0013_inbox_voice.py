"""inbox_message.voice: a voice message's platform reference (never the audio)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column added at the end: no table rebuild on SQLite.
    op.add_column("inbox_message", sa.Column("voice", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox_message") as batch:
        batch.drop_column("voice")
