"""signer.v1 VerifyService: protobuf in, ``Verifier`` call, protobuf out.

The verifier never sees ``_pb2`` types; this module converts both ways.
"""

from __future__ import annotations

from datetime import datetime

import grpc

from kyso.signer.v1 import verify_pb2, verify_pb2_grpc
from signer.catalogue import Message, legacy, render
from signer.digest import Digest
from signer.runtime.context import Context
from signer.verify.engine import Kind, Verifier
from signer.verify.report import (
    CertSummary,
    Indication,
    SignatureReport,
    VerifyReport,
    refusal,
)
from signer.wire import HASH_FROM_PB

SERVICE = str(verify_pb2.DESCRIPTOR.services_by_name["VerifyService"].full_name)

_KINDS = {
    verify_pb2.DOCUMENT_KIND_AUTO: Kind.AUTO,
    verify_pb2.DOCUMENT_KIND_CMS: Kind.CMS,
    verify_pb2.DOCUMENT_KIND_PDF: Kind.PDF,
    verify_pb2.DOCUMENT_KIND_XML: Kind.XML,
    verify_pb2.DOCUMENT_KIND_TSR: Kind.TSR,
}
_INDICATIONS = {
    Indication.PASSED: verify_pb2.INDICATION_PASSED,
    Indication.FAILED: verify_pb2.INDICATION_FAILED,
    Indication.INDETERMINATE: verify_pb2.INDICATION_INDETERMINATE,
}


def _unix(t: datetime | None) -> int:
    return int(t.timestamp()) if t is not None else 0


def _cert(c: CertSummary) -> verify_pb2.CertificateSummary:
    return verify_pb2.CertificateSummary(
        subject=c.subject, issuer=c.issuer, serial_hex=c.serial_hex,
        not_before_unix=_unix(c.not_before), not_after_unix=_unix(c.not_after),
        common_name=c.common_name, organization=c.organization,
        issuer_common_name=c.issuer_common_name, issuer_organization=c.issuer_organization,
        self_signed=c.self_signed,
    )


def message_pb(m: Message) -> verify_pb2.ReportMessage:
    return verify_pb2.ReportMessage(code=m.code, params=m.args, detail=m.detail,
                                    text=render(m, "en"),
                                    causes=[message_pb(c) for c in m.causes])


def signature_pb(s: SignatureReport) -> verify_pb2.SignatureReport:
    msg = verify_pb2.SignatureReport(
        index=s.index, format=s.format, indication=_INDICATIONS[s.indication],
        sub_indication=s.check.sub_indication if s.indication is not Indication.PASSED else "",
        errors=s.check.errors, warnings=s.check.warning_texts,
        chain=[_cert(c) for c in s.chain], intact=s.intact, signature_valid=s.signature_valid,
        trusted=s.trusted, trust_anchor=s.trust_anchor, revocation=s.revocation,
        revocation_detail=s.revocation_detail, signing_time_unix=_unix(s.signing_time),
        has_signing_time=s.signing_time is not None,
        digest_algorithm=s.digest_algorithm, signature_algorithm=s.signature_algorithm,
        weak_algorithms=s.weak_algorithms, coverage=s.coverage,
        coverage_detail=s.coverage_detail, modifications=s.modifications,
        field_name=s.field_name,
        problems=[message_pb(m) for m in s.check.problems],
        warning_messages=[message_pb(m) for m in s.check.warnings],
        integrity=s.integrity, signed_revision=s.signed_revision,
        total_revisions=s.total_revisions, references=s.references,
        token_serial_hex=s.token_serial_hex, token_policy=s.token_policy,
    )
    if s.revocation_message is not None:
        msg.revocation_message.CopyFrom(message_pb(s.revocation_message))
    if s.signer is not None:
        msg.signer.CopyFrom(_cert(s.signer))
    if s.agency is not None:
        a = s.agency
        msg.agency.CopyFrom(verify_pb2.AgencyMatch(
            code=a.code, name_on_signing_date=a.name_on_signing_date,
            signing_date=a.signing_date, current_name=a.current_name, status=a.status,
            successors=a.successors, successor_names=a.successor_names,
            matched_by=a.matched_by,
        ))
    if s.timestamp is not None:
        t = s.timestamp
        msg.timestamp.CopyFrom(verify_pb2.TimestampReport(
            time_unix=_unix(t.time), time_micros=t.time.microsecond, tsa_subject=t.tsa_subject,
            indication=_INDICATIONS[t.indication], sub_indication=t.sub_indication,
            message=t.message, hash_algorithm=t.hash_algorithm,
            messages=[message_pb(m) for m in t.messages],
            tsa_common_name=t.tsa_common_name, tsa_organization=t.tsa_organization,
        ))
    return msg


def response_pb(r: VerifyReport) -> verify_pb2.VerifyResponse:
    return verify_pb2.VerifyResponse(
        kind=r.kind, overall_indication=_INDICATIONS[r.overall],
        signatures=[signature_pb(s) for s in r.signatures],
        notes=[legacy(n) for n in r.notes], note_messages=[message_pb(n) for n in r.notes],
        verified_at_unix=_unix(r.verified_at), trust_anchors=r.trust_anchors,
    )


class VerifyServicer(verify_pb2_grpc.VerifyServiceServicer):  # type: ignore[misc]
    def __init__(self, verifier: Verifier) -> None:
        self._verifier = verifier

    def Verify(
        self, request: verify_pb2.VerifyRequest, context: grpc.ServicerContext
    ) -> verify_pb2.VerifyResponse:
        kind = _KINDS.get(request.kind)
        if kind is None:
            raise refusal("verify.unknown_kind", kind=request.kind)
        digest = None
        if request.content_digest:
            alg = HASH_FROM_PB.get(request.content_hash)
            if alg is None:
                raise refusal("verify.digest_needs_hash")
            digest = Digest(alg, bytes(request.content_digest))
        report = self._verifier.verify(
            bytes(request.document), kind=kind,
            content=bytes(request.content) if request.content else None, digest=digest,
        )
        return response_pb(report)


def register(server: grpc.Server, ctx: Context) -> tuple[str, ...]:
    """Serve VerifyService on ``server``; returns its full name (health, reflection)."""
    verify_pb2_grpc.add_VerifyServiceServicer_to_server(VerifyServicer(ctx.verifier), server)
    return (SERVICE,)
