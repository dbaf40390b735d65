"""Alembic environment: run by ``registry.db.store.RegistryStore.migrate`` and by
``alembic -c registry/db/migrations/alembic.ini`` (the URL comes from the caller)."""

from __future__ import annotations

from alembic import context

import registry.db.all_models  # noqa: F401  (every table on the shared metadata)
from registry.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through registry.db.store.RegistryStore.migrate()")
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
