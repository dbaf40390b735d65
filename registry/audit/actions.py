"""Administrative changes and their audit records, committed in one transaction.

An administrator's action (create an agency, rotate a key, grant a role …) changes
rows through whatever code implements it. While it runs inside
:meth:`registry.audit.AuditLog.action`, every database transaction that writes
(INSERT, UPDATE, DELETE) gets, just before its COMMIT and in the same transaction,
one row in ``audit_outbox`` saying who did what to which target. The change and its
audit record therefore commit together or not at all: a failure of the audit log can
no longer leave an unaudited change behind.

The node's audit writer then moves outbox rows into its hash chain (deleting them in
the same transaction as it appends the records), at once for the action that waits,
and at start and every few seconds for any left behind by a crash or an outage.
``verify`` reports outbox rows that stayed unchained.

The hooks are SQLAlchemy engine events on the registry's engine; they cost one
context-variable lookup per statement when no action is running.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from registry.audit.records import canonical_json, clean
from registry.db.audit import ACTION_LEN, ACTOR_LEN, OUTBOX, TARGET_LEN
from registry.db.store import insert_statement
from signer.errors import StoreUnavailable

log = logging.getLogger(__name__)

_DML = ("INSERT", "UPDATE", "DELETE")
_WROTE = "kyso_admin_action"  # Connection.info key: the action whose transaction wrote


@dataclass
class AdminAction:
    """An administrative action in progress. ``details`` may still be completed (e.g.
    with the id of a key just generated) until the transaction that writes commits."""

    node_id: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    staged: list[str] = field(default_factory=list)  # outbox rows of committed writes

    def note(self, **details: Any) -> None:
        """Add to what the next committed write records."""
        self.details.update(details)


current_action: contextvars.ContextVar[AdminAction | None] = contextvars.ContextVar(
    "kyso_admin_action", default=None)


def note(**details: Any) -> None:
    """Add details to the administrative action in progress, if there is one."""
    action = current_action.get()
    if action is not None:
        action.note(**details)


def install(engine: Engine) -> None:
    """Attach the outbox hooks to ``engine`` (once)."""
    if event.contains(engine, "commit", _before_commit):
        return
    event.listen(engine, "before_cursor_execute", _before_execute)
    event.listen(engine, "commit", _before_commit)
    event.listen(engine, "rollback", _on_rollback)


def _before_execute(conn: Connection, cursor: Any, statement: str, parameters: Any,
                    context: Any, executemany: bool) -> None:
    action = current_action.get()
    if action is not None and statement.lstrip()[:6].upper() in _DML:
        conn.info[_WROTE] = action


def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_WROTE, None)


def _before_commit(conn: Connection) -> None:
    """Runs inside the transaction, just before COMMIT: stage the audit record."""
    action = conn.info.pop(_WROTE, None)
    if action is None:
        return
    details: Mapping[str, Any] = action.details
    if action.staged:  # the action's second (third …) write transaction
        details = {**details, "part": len(action.staged) + 1}
    row = {"id": uuid.uuid4().hex, "node_id": action.node_id, "time": datetime.now(UTC),
           "actor": clean(action.actor, ACTOR_LEN), "action": clean(action.action, ACTION_LEN),
           "target": clean(action.target, TARGET_LEN), "details": canonical_json(details)}
    names = tuple(row)
    sql, procs = insert_statement(conn.dialect, OUTBOX, names)
    params = tuple(p(row[n]) if p else row[n] for n, p in zip(names, procs, strict=True))
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
    except dbapi.Error as exc:
        log.error("cannot stage the audit record of %s on %s: %s", action.action,
                  action.target, exc)
        raise StoreUnavailable("the audit log cannot record this change, so it was not "
                               "made; retry later") from exc
    finally:
        cursor.close()
    action.staged.append(row["id"])
