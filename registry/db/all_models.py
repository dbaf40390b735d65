"""Imports every module that defines tables on the shared metadata, so Alembic
and the schema test see the whole database. Add a line per new models module."""

from __future__ import annotations

import registry.audit
import registry.auth
import registry.db.models
import registry.db.records
import registry.db.tsa  # noqa: F401
