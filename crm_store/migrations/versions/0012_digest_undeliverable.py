"""digest status wide enough for 'undeliverable' (no channel reaches the recipient)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 03:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite does not enforce VARCHAR lengths: only PostgreSQL needs the wider column, and
    # a batch copy on SQLite would rebuild the table for nothing.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "digest", "status", type_=sa.String(16), existing_type=sa.String(12), nullable=False
        )


def downgrade() -> None:
    op.execute("UPDATE digest SET status = 'pending' WHERE status = 'undeliverable'")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "digest", "status", type_=sa.String(12), existing_type=sa.String(16), nullable=False
        )
