"""inbox_message.sealed: a WeCom callback acknowledged still encrypted, opened by its claim

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column added at the end: no table rebuild on SQLite, no rewrite on PostgreSQL.
    op.add_column("inbox_message", sa.Column("sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox_message") as batch:
        batch.drop_column("sealed")
