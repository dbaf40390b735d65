"""Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import registry.db.all_models  # noqa: F401
from registry.db.models import Base
from registry.db.store import RegistryStore


def test_migrations_match_models(db_url: str) -> None:
    store = RegistryStore(db_url)
    store.migrate()
    store.migrate()  # idempotent
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
