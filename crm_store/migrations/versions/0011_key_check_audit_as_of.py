"""key check, audit "as of" time, ID numbers kept to their last 4 and no birth year

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Small named values of the store itself; `data_key_check` is a MAC of a fixed label under
    # the data key, so a command can refuse a different key before it writes anything.
    op.create_table(
        "store_meta",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_store_meta")),
    )
    # `at` is the wall-clock time of the write; `as_of` the business time a request pretended
    # (`ask --now`), kept beside it. Adding a column is allowed by the append-only triggers.
    op.add_column("audit_log", sa.Column("as_of", sa.DateTime(timezone=True), nullable=True))
    _keep_less_of_id_numbers()


def _keep_less_of_id_numbers() -> None:
    """First 3 ID digits + last 4 + the full birthday narrowed an ID to about 2 candidates:
    the masked form keeps the last 4 only, and the birth year (used by nothing) goes."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, id_number_last4 FROM customer WHERE id_number_masked IS NOT NULL")
    ).all()
    for customer_id, last4 in rows:
        masked = "*" * 14 + (last4 or "")
        bind.execute(
            sa.text("UPDATE customer SET id_number_masked = :m WHERE id = :i"),
            {"m": masked, "i": customer_id},
        )
    # Plain ALTER on both engines: a batch rebuild on SQLite would drop the customer triggers.
    op.execute("ALTER TABLE customer DROP COLUMN birth_year")


def downgrade() -> None:
    op.execute("ALTER TABLE customer ADD COLUMN birth_year INTEGER")
    op.drop_column("audit_log", "as_of")
    op.drop_table("store_meta")
