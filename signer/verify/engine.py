"""The verifier: sniffs the kind of document and runs the matching format module."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import cms
from sqlalchemy.engine import Engine

from signer.digest import Digest
from signer.verify.agency import AgencyResolver
from signer.verify.common import VerifyContext
from signer.verify.fetch import FetchPolicy
from signer.verify.report import VerifyReport, refusal
from signer.verify.trust import Anchor, TrustStore, load_pem_anchors


class Kind(enum.Enum):
    AUTO = "auto"
    CMS = "cms"
    PDF = "pdf"
    XML = "xml"
    TSR = "tsr"


_ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"


def sniff(document: bytes) -> Kind:
    """The kind of ``document``: PDF when it starts with its header, XML when it starts
    with markup (after a BOM or whitespace), PDF when the header is later in the first
    1024 bytes (ISO 32000 readers allow leading bytes), then TSR, else CMS. Markup comes
    before the lenient PDF test: an XML document may say ``%PDF-`` in its text."""
    head = document[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF-"):
        return Kind.PDF
    if head.startswith(b"<"):
        return Kind.XML
    if document[:1024].find(b"%PDF-") != -1:
        return Kind.PDF
    from signer.verify.tsr import is_response

    if is_response(document):
        return Kind.TSR
    try:
        ci = cms.ContentInfo.load(document)
        if (ci["content_type"].native == "signed_data"
                and ci["content"]["encap_content_info"]["content_type"].dotted
                == _ID_CT_TST_INFO):
            return Kind.TSR
    except Exception:  # not DER: the CMS module reports it
        pass
    return Kind.CMS


class Verifier:
    """Thread-safe: each call runs its own event loop (pyHanko's validation is async) and
    has its own download allowance (``[verify] fetch_max_requests``, ``fetch_budget_s``),
    shared by every signature and timestamp in the document."""

    def __init__(self, trust: TrustStore, engine: Engine | None) -> None:
        self.ctx = VerifyContext(trust, AgencyResolver(engine) if engine is not None else None)

    @classmethod
    def from_settings(cls, settings: object, dev_ca_der: bytes | None,
                      engine: Engine | None) -> Verifier:
        from asn1crypto import x509 as a_x509

        from signer.config import VerifySettings

        assert isinstance(settings, VerifySettings)
        anchors: list[Anchor] = []
        if settings.trust_dev_ca and dev_ca_der is not None:
            anchors.append(Anchor(a_x509.Certificate.load(dev_ca_der), True,
                                  "the development CA"))
        for f in settings.trust_anchor_files:
            anchors += load_pem_anchors(Path(f), revocation_free=False)
        for f in settings.revocation_free_anchor_files:
            anchors += load_pem_anchors(Path(f), revocation_free=True)
        fetch = FetchPolicy(
            enabled=settings.fetch == "revocation",
            allowed_hosts=settings.allowed_hosts(),
            budget_s=settings.fetch_budget_s,
            max_requests=settings.fetch_max_requests,
            request_timeout_s=settings.fetch_timeout_s,
        )
        trust = TrustStore(anchors, revocation=settings.revocation, fetch=fetch)
        return cls(trust, engine)

    def verify(
        self, document: bytes, *, kind: Kind = Kind.AUTO, content: bytes | None = None,
        digest: Digest | None = None,
    ) -> VerifyReport:
        if not document:
            raise refusal("verify.empty")
        if content is not None and digest is not None:
            raise refusal("verify.content_and_digest")
        if kind is Kind.AUTO:
            kind = sniff(document)
        ctx = dataclasses.replace(self.ctx, fetches=self.ctx.trust.allowance())
        report = asyncio.run(self._verify(ctx, kind, document, content, digest))
        report.verified_at = datetime.now(UTC)
        report.trust_anchors = self.ctx.trust.subjects()
        return report

    @staticmethod
    async def _verify(ctx: VerifyContext, kind: Kind, document: bytes, content: bytes | None,
                      digest: Digest | None) -> VerifyReport:
        if kind is Kind.CMS:
            from signer.verify.cms import verify_cms

            return await verify_cms(ctx, document, content, digest)
        if kind is Kind.TSR:
            from signer.verify.tsr import verify_tsr

            return await verify_tsr(ctx, document, content, digest)
        if kind is Kind.PDF:
            from signer.verify.pdf import verify_pdf

            return await verify_pdf(ctx, document)
        from signer.verify.xml import verify_xml

        return await verify_xml(ctx, document)
