"""Alembic environment: runs on the connection `crm_store.schema` hands over."""

from __future__ import annotations

from alembic import context

from crm_store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations on the connection given in the config attributes."""
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("crm_store.schema passes the connection; run `bankbot init`")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
