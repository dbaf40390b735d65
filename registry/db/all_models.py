"""Every table on the shared metadata, so Alembic and the schema test see the whole
database. A new table goes in a module of this package, named here."""

from __future__ import annotations

import registry.db.audit
import registry.db.clients
import registry.db.idempotency
import registry.db.models
import registry.db.records
import registry.db.tsa  # noqa: F401
