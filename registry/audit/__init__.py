"""The tamper-evident audit log: every admin action, signature, timestamp and refused
call, in an append-only hash chain per node, with checkpoints signed by an HSM key and
witnessed by the HSM.

* ``records`` — the chain and checkpoint encodings (the tables are in ``registry.db.audit``);
* ``notary`` — trusted audit keys and witnesses, from the HSM (never the database);
* ``actions`` — administrative changes committed with their audit records;
* ``writer`` — the node's one durable writer (group commit, checkpoints, head checks);
* ``verification`` — ``verify`` and reading the log.
"""

from __future__ import annotations

import contextvars

#: Who is acting, for the records made while serving a call. The authentication
#: interceptor sets it to the client's name; outside calls it is "anonymous".
current_actor: contextvars.ContextVar[str] = contextvars.ContextVar(
    "kyso_audit_actor", default="anonymous"
)

from registry.audit.actions import AdminAction, note  # noqa: E402
from registry.audit.notary import (  # noqa: E402
    AUDIT_KEY_LABEL,
    AuditNotary,
    TrustedKeys,
    ensure_audit_key,
    fingerprint,
    read_witnesses,
    trusted_keys,
)
from registry.audit.records import (  # noqa: E402
    ZERO_HASH,
    Checkpoint,
    canonical_json,
    format_time,
    record_hash,
)
from registry.audit.verification import (  # noqa: E402
    AuditProblem,
    AuditRecord,
    AuditReport,
    NodeSummary,
    list_records,
    verify,
)
from registry.audit.writer import AuditEntry, AuditLog, wait_all  # noqa: E402

SYSTEM = "system"

__all__ = [
    "AUDIT_KEY_LABEL",
    "SYSTEM",
    "ZERO_HASH",
    "AdminAction",
    "AuditEntry",
    "AuditLog",
    "AuditNotary",
    "AuditProblem",
    "AuditRecord",
    "AuditReport",
    "Checkpoint",
    "NodeSummary",
    "TrustedKeys",
    "canonical_json",
    "current_actor",
    "ensure_audit_key",
    "fingerprint",
    "format_time",
    "list_records",
    "note",
    "read_witnesses",
    "record_hash",
    "trusted_keys",
    "verify",
    "wait_all",
]
