"""signer.v1 PdfService: PAdES signing of whole PDFs for clients that cannot run pyHanko.

The same code as the thin client (``signer.formats.pdf.pades``), with an in-process
``SignRaw`` that calls ``SignerCore`` (so every signature is recorded for the
statistics and the audit log like any other) and, for B-T/B-LT, this node's
TSA or the configured external one. The seal profile's leader check
(``signer.formats.pdf.personal``) asks this node's verifier — the ``Verify`` RPC's own,
with its ``[verify]`` anchors, revocation and fetch rules — about each personal
signature, exactly as the thin client asks it over ``Verify``. The PDF is held in
memory, bounded by ``MAX_PDF_BYTES``; the errors of ``signer.formats.pdf.pades`` are
``signer.errors`` classes, answered like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import grpc

from kyso.signer.v1 import pdf_pb2, pdf_pb2_grpc
from registry.db.store import RegistryStore
from registry.keys import KeyLifecycle
from signer.catalogue import Message, legacy
from signer.core import OutputFormat, SignerCore
from signer.digest import Digest, HashAlg
from signer.doctypes import parse_document_type
from signer.errors import InvalidRequest, LimitExceeded, NotUsable
from signer.formats.pdf.pades import (
    MAX_PDF_BYTES,
    PdfOptions,
    SealImage,
    SigningIdentity,
    sign_pdf,
)
from signer.formats.pdf.personal import SignatureEvidence, TrustCheck, TrustVerdict
from signer.runtime.context import Context
from signer.verify.engine import Kind, Verifier

log = logging.getLogger(__name__)

PDF_SERVICE = str(pdf_pb2.DESCRIPTOR.services_by_name["PdfService"].full_name)
CHUNK = 1 << 20  # response chunks: well under gRPC's 4 MiB default message limit

PROFILE_FROM_PB = {
    pdf_pb2.PDF_PROFILE_SEAL: "seal",
    pdf_pb2.PDF_PROFILE_ATTACHMENT: "attachment",
    pdf_pb2.PDF_PROFILE_COPY: "copy",
}
LEVEL_FROM_PB = {
    pdf_pb2.PADES_LEVEL_UNSPECIFIED: "B-B",
    pdf_pb2.PADES_LEVEL_B_B: "B-B",
    pdf_pb2.PADES_LEVEL_B_T: "B-T",
    pdf_pb2.PADES_LEVEL_B_LT: "B-LT",
}


def verifier_trust(verifier: Verifier) -> TrustCheck:
    """The leader check's trust question, answered by ``verifier`` (this node's ``Verify``):
    the signature's CMS against the digest of its byte ranges, trust path, revocation,
    algorithms, and whether the certificate is an organization key kyso holds."""

    def check(evidence: SignatureEvidence) -> TrustVerdict:
        try:
            report = verifier.verify(
                evidence.cms, kind=Kind.CMS,
                digest=Digest(HashAlg.parse(evidence.hash_alg), evidence.digest))
        except InvalidRequest as exc:
            why = Message(exc.code, tuple(sorted(exc.params.items())), exc.detail)
            return TrustVerdict("FAILED", "FORMAT_FAILURE", (exc.message,),
                                messages=(why,) if exc.code else ())
        if len(report.signatures) != 1:
            why = Message.of("seal.not_one_signer", count=len(report.signatures))
            return TrustVerdict("FAILED", "FORMAT_FAILURE", (legacy(why),), messages=(why,))
        s = report.signatures[0]
        return TrustVerdict(s.indication.name, s.check.sub_indication, tuple(s.check.errors),
                            s.agency.code if s.agency is not None else "",
                            messages=tuple(s.check.problems))

    return check


class PdfServicer(pdf_pb2_grpc.PdfServiceServicer):
    def __init__(
        self,
        core: SignerCore,
        registry: RegistryStore,
        keys: KeyLifecycle,
        timestamp: Callable[[bytes], bytes] | None,
        verifier: Verifier,
        max_bytes: int = MAX_PDF_BYTES,
        font: str | None = None,
    ) -> None:
        self._core = core
        self._registry = registry
        self._keys = keys
        self._timestamp = timestamp
        self._trust = verifier_trust(verifier)
        self._max = max_bytes
        self._font = font or None  # checked at start (signer.runtime.host.check_pdf_font)

    def SignPdf(
        self, request_iterator: Iterator[pdf_pb2.SignPdfRequest], context: grpc.ServicerContext
    ) -> Iterator[pdf_pb2.SignPdfResponse]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "options":
            raise InvalidRequest("the first SignPdfRequest must carry options")
        o = first.options
        parts: list[bytes] = []
        size = 0
        for req in request_iterator:
            if req.WhichOneof("part") != "chunk":
                raise InvalidRequest("after the options, send only chunks of the PDF")
            size += len(req.chunk)
            if size > self._max:
                raise LimitExceeded(
                    f"the PDF is larger than this server's limit of {self._max:,} bytes: "
                    "sign it with the thin client (`kyso sign pdf`), which sends only a digest")
            parts.append(req.chunk)
        data = b"".join(parts)
        if not data:
            raise InvalidRequest("no PDF received: send its bytes as chunks after the options")

        code = self._registry.get_agency(o.agency_code).code
        doc_type = parse_document_type(o.document_type)
        number = o.document_number.strip()[:64]
        assets = self._keys.seal_image(code)
        profile = PROFILE_FROM_PB.get(o.profile) or assets.default_profile.value
        level = LEVEL_FROM_PB.get(o.level)
        if level is None:
            raise InvalidRequest(f"unknown PAdES level {o.level}: use B_B, B_T or B_LT")
        key = self._core.signing_key(code)
        cert = key.certificate
        if cert is None:
            raise NotUsable(f"agency {code} has no certificate")
        identity = SigningIdentity(cert.der, list(cert.chain), key.scheme.value,
                                   self._registry.get_agency(code).name)

        def sign_raw(digest: bytes, hash_alg: str) -> bytes:
            result = self._core.sign_digests(
                code, [Digest(HashAlg.parse(hash_alg), digest)], OutputFormat.RAW,
                key.scheme, documents=[(doc_type, number)])
            if result.key.key_id != key.key_id:
                raise NotUsable(f"agency {code}'s key changed while signing: sign again")
            return result.signatures[0]

        options = PdfOptions(
            agency=code, profile=profile, number=number, doc_type=doc_type, level=level,
            copy_form=o.copy_form or "SAO Y",
            at=(o.page, o.x, o.y) if o.has_position else None,
            skip_personal_check=assets.skip_personal_signature_check,
        )
        seal = (SealImage(assets.seal_png, assets.seal_width_mm or 0.0,
                          assets.seal_height_mm or 0.0) if assets.seal_png else None)
        # sign_pdf's errors are signer.errors classes (BadPdf is an InvalidRequest...).
        signed = sign_pdf(data, options, identity, sign_raw, timestamp=self._timestamp,
                          seal=seal, personal_trust=self._trust, font=self._font)
        log.info("signed a PDF of %d bytes for %s as PAdES-%s", len(data), code, signed.level)
        yield pdf_pb2.SignPdfResponse(result=pdf_pb2.SignPdfResult(
            level=signed.level, signing_time=signed.signing_time,
            field_name=signed.field_name, size=len(signed.data), notes=signed.notes))
        for i in range(0, len(signed.data), CHUNK):
            yield pdf_pb2.SignPdfResponse(chunk=signed.data[i : i + CHUNK])


def register(server: grpc.Server, ctx: Context) -> tuple[str, ...]:
    """Serve PdfService on ``server``; returns its full name (health and reflection). The
    seal profile's check of the leader's signature trusts what Verify trusts (the node's
    verifier); the attachment/copy blocks' font was checked at start."""
    keys = KeyLifecycle(ctx.keystore, ctx.registry, ctx.admin.policy, devca=ctx.devca)
    pdf_pb2_grpc.add_PdfServiceServicer_to_server(  # type: ignore[no-untyped-call]
        PdfServicer(ctx.core, ctx.registry, keys, ctx.pdf_timestamp, ctx.verifier,
                    font=ctx.pdf_font), server)
    return (PDF_SERVICE,)
