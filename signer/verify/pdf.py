"""PAdES: every signature embedded in a PDF, what it covers, what changed after it.

pyHanko reads the file, computes each signature's byte-range digest, its coverage
(the whole file, or one revision followed by incremental updates) and its
difference analysis (which modifications the later revisions made, judged by
pyHanko's default diff policy). Integrity and trust then go through the same
checks as CMS; document timestamps (/DocTimeStamp) through the RFC 3161 ones.
Certificates and revocation data in the document security store (/DSS, PAdES-B-LT)
and in each signature's SignedData are used for the trust and revocation checks, so
such a document needs no download.
"""

from __future__ import annotations

import logging
from io import BytesIO
from typing import Any

from asn1crypto import x509 as a_x509
from cryptography import x509

from signer.catalogue import Message
from signer.digest import Digest, HashAlg
from signer.errors import InvalidRequest
from signer.verify.common import VerifyContext, describe_algorithms, finish
from signer.verify.report import (
    FORMAT_FAILURE,
    HASH_FAILURE,
    SIG_CRYPTO_FAILURE,
    Indication,
    SignatureReport,
    VerifyReport,
    refusal,
)
from signer.verify.trust import NO_REVINFO, EmbeddedRevinfo, revinfo_of_signed_data

log = logging.getLogger(__name__)

_COVERAGE = {
    3: ("whole-file", "the signature covers the whole file"),
    2: ("revision", "the signature covers one revision; the file was updated after signing"),
    1: ("partial", "the signature covers only a block from the start of the file"),
    0: ("unclear", "what the signature covers is unclear"),
}
_COVERAGE_PROBLEM = {1: "pdf.partial", 0: "pdf.unclear"}


async def verify_pdf(ctx: VerifyContext, data: bytes) -> VerifyReport:
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        if reader.encrypted:
            raise refusal("pdf.encrypted")
        sigs = list(reader.embedded_signatures)
    except InvalidRequest:
        raise
    except (PdfError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise refusal("pdf.malformed", detail=str(exc)) from exc
    out = VerifyReport(kind="pdf")
    if not sigs:
        out.notes.append(Message.of("pdf.no_signatures"))
    total = reader.xrefs.total_revisions
    dss_certs, dss_revinfo = _dss(reader)
    for i, emb in enumerate(sigs, start=1):
        out.signatures.append(await _one(ctx, i, emb, total, dss_certs, dss_revinfo))
    return out


def _dss(reader: object) -> tuple[list[a_x509.Certificate], EmbeddedRevinfo]:
    """The certificates, CRLs and OCSP responses of the document security store (ISO
    32000-2 §12.8.4.3), if the PDF has a readable one."""
    from asn1crypto import crl, ocsp
    from pyhanko.pdf_utils.decode_limits import DecodePurpose
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError

    try:
        dss = DocumentSecurityStore.read_dss(reader)  # type: ignore[arg-type]
        certs = list(dss.load_certs())
        crls = tuple(crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL))
                     for ref in dss.crls)
        ocsps = tuple(
            ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
            for ref in dss.ocsps
        )
    except NoDSSFoundError:
        return [], NO_REVINFO
    except Exception:  # a malformed DSS carries nothing usable; the checks say what is missing
        log.info("the PDF's document security store cannot be read", exc_info=True)
        return [], NO_REVINFO
    return certs, EmbeddedRevinfo(crls, ocsps)


def _merge(a: EmbeddedRevinfo, b: EmbeddedRevinfo) -> EmbeddedRevinfo:
    return EmbeddedRevinfo(a.crls + b.crls, a.ocsps + b.ocsps)


async def _one(
    ctx: VerifyContext, index: int, emb: object, total: int,
    dss_certs: list[a_x509.Certificate], dss_revinfo: EmbeddedRevinfo,
) -> SignatureReport:
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    e: object = emb
    is_doc_ts = str(e.sig_object_type) == "/DocTimeStamp"  # type: ignore[attr-defined]
    report = SignatureReport(index=index, format="PDF document timestamp" if is_doc_ts
                             else "PAdES", field_name=str(e.field_name))  # type: ignore[attr-defined]
    check = report.check
    try:
        e.compute_integrity_info(diff_policy=DEFAULT_DIFF_POLICY)  # type: ignore[attr-defined]
    except Exception as exc:  # pyHanko raises many types on malformed byte ranges
        check.fail(FORMAT_FAILURE, Message.of("pdf.byte_range", detail=str(exc)))
        return report
    level = int(e.coverage.value)  # type: ignore[attr-defined]
    report.coverage, report.coverage_detail = _COVERAGE.get(level, _COVERAGE[0])
    signed_rev = e.signed_revision + 1  # type: ignore[attr-defined]
    if level == 2:
        report.coverage_detail = f"revision {signed_rev} of {total}; " + report.coverage_detail
        report.signed_revision, report.total_revisions = signed_rev, total
    if level >= 2:
        _judge_changes(report, e)
    else:  # pyHanko's difference analysis calls this suspicious too: one problem is enough
        check.fail(FORMAT_FAILURE, Message.of(_COVERAGE_PROBLEM.get(level, "pdf.unclear")))

    si = e.signer_info  # type: ignore[attr-defined]
    md = si["digest_algorithm"]["algorithm"].native
    digest = e.compute_digest()  # type: ignore[attr-defined]
    if is_doc_ts:
        from signer.verify.tsr import check_token

        try:
            d = Digest(HashAlg.parse(md), digest)
        except InvalidRequest:
            d = None
        info = await check_token(ctx, report, _content_info(e), digest=d,
                                 extra_certs=dss_certs, revinfo=dss_revinfo)
        if info is not None:
            report.signing_time = info.gen_time
        return report
    signer = e.signer_cert  # type: ignore[attr-defined]
    report.signing_time = e.self_reported_timestamp  # type: ignore[attr-defined]
    try:
        intact, valid = validate_sig_integrity(si, signer, "data", digest)
    except Exception as exc:
        check.fail(FORMAT_FAILURE, Message.of("sig.malformed", detail=str(exc)))
        intact, valid = False, False
    report.intact, report.signature_valid = intact, valid
    if not valid:
        check.fail(SIG_CRYPTO_FAILURE, Message.of("sig.value_invalid"))
    elif not intact:
        check.fail(HASH_FAILURE, Message.of("pdf.signed_bytes_changed"))
    describe_algorithms(report, x509.load_der_x509_certificate(signer.dump()), md,
                        si["signature_algorithm"].signature_algo)
    from signer.verify.cms import signature_timestamp, timestamp_report, timestamp_warning

    token = signature_timestamp(si)
    if token is not None:
        report.format = "PAdES-B-T"
        report.timestamp = await timestamp_report(ctx, si, token, extra_certs=dss_certs,
                                                  revinfo=dss_revinfo)
        if report.timestamp.indication is not Indication.PASSED:
            check.warn(timestamp_warning(report.timestamp))
    others = list(e.other_embedded_certs) + dss_certs  # type: ignore[attr-defined]
    revinfo = _merge(revinfo_of_signed_data(e.signed_data), dss_revinfo)  # type: ignore[attr-defined]
    await finish(ctx, report, signer, others, revinfo=revinfo)
    return report


def _judge_changes(report: SignatureReport, e: Any) -> None:
    """What changed after the signature, and whether the signature allows it.

    pyHanko's difference analysis classifies the later revisions (``ModificationLevel``,
    or ``SuspiciousModification`` for changes no rule explains: page content, new pages,
    a broken field lock). Like pyHanko's own ``docmdp_ok``, a change is disallowed when it
    is suspicious or OTHER, or above the signature's DocMDP permission. The signed bytes
    are intact then, so the sub-indication is not HASH_FAILURE: it is FAILED/
    FORMAT_FAILURE, as EU DSS reports a DocMDP, FieldMDP or SigFieldLock violation or
    undefined changes (its format-checking building block, EN 319 102-1 §5.2.2:
    ``DocMDPCheck``, ``FieldMDPCheck``, ``SigFieldLockCheck``, ``UndefinedChangesCheck``).
    Annotations after a signature that sets no permission are a warning only."""
    from pyhanko.sign.diff_analysis import ModificationLevel, SuspiciousModification

    diff = e.diff_result
    if diff is None:
        return
    docmdp = e.docmdp_level
    permitted = int(docmdp.value) if docmdp is not None else None
    if isinstance(diff, SuspiciousModification):
        report.modifications = "suspicious"
        level = int(ModificationLevel.OTHER.value)
        detail = " ".join(str(diff).split())
    else:
        level = int(diff.modification_level.value)
        report.modifications = diff.modification_level.name.lower().replace("_", "-")
        detail = ""
    disallowed = level >= ModificationLevel.OTHER.value or (
        permitted is not None and level > permitted)
    if disallowed:
        report.changes_disallowed = True
        if permitted is not None and permitted in (1, 2, 3):
            why = Message.of("pdf.changed_beyond_permission", level=report.modifications,
                             permitted=str(permitted), detail=detail)
        else:
            why = Message.of("pdf.changed_disallowed", level=report.modifications,
                             detail=detail)
        report.check.fail(FORMAT_FAILURE, why)
    elif level >= ModificationLevel.ANNOTATIONS.value:
        report.check.warn(Message.of("pdf.changes_after_signing", level=report.modifications))


def _content_info(e: object) -> bytes:
    from asn1crypto import cms

    sd = e.signed_data  # type: ignore[attr-defined]
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump())
