"""registry.v1 AuditService: verify and read the audit log (protobuf stops here)."""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from sqlalchemy.engine import Engine

from kyso.registry.v1 import audit_pb2, audit_pb2_grpc
from registry.audit import (
    AUDIT_KEY_LABEL,
    AuditLog,
    AuditProblem,
    AuditRecord,
    fingerprint,
    list_records,
    read_witnesses,
    trusted_keys,
    verify,
)
from registry.db.store import translate_sql_errors
from signer.errors import InvalidRequest
from signer.keys.store import Pkcs11KeyStore
from signer.runtime.context import Context


def problem_pb(p: AuditProblem) -> audit_pb2.AuditProblem:
    return audit_pb2.AuditProblem(node_id=p.node_id, seq=p.seq, record_id=p.record_id or 0,
                                  kind=p.kind, message=p.message)


def record_pb(r: AuditRecord) -> audit_pb2.AuditRecord:
    return audit_pb2.AuditRecord(
        id=r.id, node_id=r.node_id, seq=r.seq, time=r.time, actor=r.actor, action=r.action,
        target=r.target, details_json=r.details, prev_hash=r.prev_hash, hash=r.hash,
    )


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):  # type: ignore[misc, unused-ignore]
    """Trusted keys and witnesses are read from the HSM at every verification, never
    from the database (``registry.audit.notary``)."""

    def __init__(self, engine: Engine, keystore: Pkcs11KeyStore, audit: AuditLog | None,
                 pinned: frozenset[bytes] = frozenset(),
                 actions: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self._engine = engine
        self._keystore = keystore
        self._audit = audit
        self._pinned = pinned
        self._actions = dict(actions or {})

    def VerifyAuditLog(
        self, request: audit_pb2.VerifyAuditLogRequest, context: grpc.ServicerContext
    ) -> audit_pb2.VerifyAuditLogResponse:
        if self._audit is not None and self._audit.healthy:
            self._audit.checkpoint()  # this node's records so far are signed and witnessed
        witnesses = read_witnesses(self._keystore)  # before the walk: see verify()
        trusted = trusted_keys(self._keystore, self._pinned)
        with translate_sql_errors("verifying the audit log"):
            report = verify(self._engine, trusted=trusted, witnesses=witnesses)
        keys = {i.key_id: i for i in self._keystore.find_keys(label=AUDIT_KEY_LABEL)
                if i.key_id in trusted.keys}
        return audit_pb2.VerifyAuditLogResponse(
            ok=report.ok,
            records=report.records,
            checkpoints_verified=report.checkpoints_verified,
            nodes=[
                audit_pb2.AuditNodeSummary(
                    node_id=n.node_id, records=n.records, last_seq=n.last_seq,
                    checkpoints_verified=n.checkpoints, last_checkpoint_seq=n.last_checkpoint_seq,
                    problems=n.problems,
                )
                for n in report.nodes
            ],
            first_problem=problem_pb(report.first_problem) if report.first_problem else None,
            problems=[problem_pb(p) for p in report.problems],
            problem_count=report.problem_count,
            trusted_keys=[f"{kid.hex()} sha256:{fingerprint(i.public_key_der).hex()}"
                          for kid, i in sorted(keys.items())],
            node_damage=(self._audit.damage or "") if self._audit is not None else "",
        )

    def ListAuditRecords(
        self, request: audit_pb2.ListAuditRecordsRequest, context: grpc.ServicerContext
    ) -> audit_pb2.ListAuditRecordsResponse:
        if request.limit < 0 or request.after_id < 0:
            raise InvalidRequest("limit and after_id must not be negative")
        limit = min(request.limit or 100, 1000)
        with translate_sql_errors("listing audit records"):
            records = list_records(self._engine, node_id=request.node_id,
                                   after_id=request.after_id, limit=limit,
                                   actions=self._names_of(request.action))
        return audit_pb2.ListAuditRecordsResponse(
            records=[record_pb(r) for r in records],
            next_after_id=records[-1].id if len(records) == limit else 0,
        )


    def _names_of(self, action: str) -> tuple[str, ...]:
        """The names records of ``action`` carry (this release's and older ones'); an
        action nobody records is refused, naming the ones there are, rather than
        silently matching nothing."""
        if not action:
            return ()
        names = self._actions.get(action.strip())
        if names is None and self._actions:
            raise InvalidRequest(
                f"unknown audit action {action!r}: use one of "
                + ", ".join(self._actions))
        return names or (action,)


SERVICE = str(audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name)


def register(server: grpc.Server, ctx: Context) -> tuple[str, ...]:
    """Serve AuditService on ``server``; returns its full name (health, reflection)."""
    audit_pb2_grpc.add_AuditServiceServicer_to_server(  # type: ignore[no-untyped-call, unused-ignore]
        AuditServicer(ctx.registry.engine, ctx.keystore, ctx.audit,
                      ctx.settings.audit.pinned(), ctx.audit_actions), server
    )
    return (SERVICE,)
