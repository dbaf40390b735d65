"""CMS / CAdES signatures (ETSI EN 319 122-1), detached or enveloping.

The signed content may come as bytes or only as its digest (the client keeps the
document): pyHanko's ``validate_sig_integrity`` checks the signature over the
signed attributes and compares the message-digest attribute with the digest we
pass, so both cases share one path. A signature-time-stamp (CAdES-B-T) is checked
as an RFC 3161 token over the signature value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from asn1crypto import cms, core
from asn1crypto import x509 as a_x509
from cryptography import x509
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import extract_self_reported_ts, validate_sig_integrity

from signer.digest import Digest
from signer.errors import InvalidRequest
from signer.verify.common import VerifyContext, describe_algorithms, find_cert, finish
from signer.verify.report import (
    FORMAT_FAILURE,
    HASH_FAILURE,
    NO_SIGNING_CERTIFICATE_FOUND,
    SIG_CRYPTO_FAILURE,
    SIGNED_DATA_NOT_FOUND,
    Indication,
    SignatureReport,
    TimestampReport,
    VerifyReport,
)
from signer.verify.trust import NO_REVINFO, EmbeddedRevinfo, revinfo_of_signed_data
from signer.verify.tsr import check_token


def load_signed_data(der: bytes) -> cms.SignedData:
    try:
        ci = cms.ContentInfo.load(der)
        if ci["content_type"].native != "signed_data":
            raise InvalidRequest(
                f"the CMS object is {ci['content_type'].native}, not SignedData: not a signature"
            )
        sd = ci["content"]
        sd.native  # noqa: B018  (force a full parse so malformed input fails here)
    except InvalidRequest:
        raise
    except Exception as exc:  # asn1crypto raises many types on malformed input
        raise InvalidRequest(f"not a DER CMS signature (ContentInfo/SignedData): {exc}") from exc
    return sd


def digest_algorithms(der: bytes) -> list[str]:
    sd = load_signed_data(der)
    return [si["digest_algorithm"]["algorithm"].native for si in sd["signer_infos"]]


async def verify_cms(
    ctx: VerifyContext, der: bytes, content: bytes | None, digest: Digest | None
) -> VerifyReport:
    sd = load_signed_data(der)
    out = VerifyReport(kind="cms")
    encap = sd["encap_content_info"]
    embedded = encap["content"]
    content_type = encap["content_type"].native
    if not isinstance(embedded, core.Void) and embedded.native is not None:
        if content is not None or digest is not None:
            out.notes.append("the signature encloses its content; the content given was ignored")
        content, digest = bytes(embedded.native), None
        coverage = "enveloped-content"
    else:
        coverage = "detached-content"
    certs = [c.chosen for c in sd["certificates"] if c.name == "certificate"]
    revinfo = revinfo_of_signed_data(sd)
    for i, si in enumerate(sd["signer_infos"], start=1):
        out.signatures.append(await _signer_info(
            ctx, i, si, certs, content_type, content, digest, coverage, revinfo))
    if not out.signatures:
        out.notes.append("the CMS object has no SignerInfo")
    return out


async def _signer_info(
    ctx: VerifyContext, index: int, si: cms.SignerInfo, certs: list[object],
    content_type: str, content: bytes | None, digest: Digest | None, coverage: str,
    revinfo: EmbeddedRevinfo = NO_REVINFO,
) -> SignatureReport:
    has_ts = signature_timestamp(si) is not None
    report = SignatureReport(index=index, format="CAdES-B-T" if has_ts else "CAdES-B-B",
                             coverage=coverage)
    check = report.check
    md = si["digest_algorithm"]["algorithm"].native
    signer = find_cert(si["sid"], certs)
    if signer is None:
        check.indeterminate(NO_SIGNING_CERTIFICATE_FOUND,
                            "the signer's certificate is not in the signature")
        return report
    try:
        report.signing_time = extract_self_reported_ts(si)
    except Exception:  # a malformed signing-time attribute
        check.warn("the signing-time attribute cannot be read")

    actual: bytes | None = None
    if content is not None:
        try:
            actual = hashlib.new(md, content).digest()
        except ValueError:
            check.fail(FORMAT_FAILURE, f"unsupported digest algorithm {md}")
    elif digest is not None:
        if digest.alg.value == md:
            actual = digest.value
        else:
            check.indeterminate(
                SIGNED_DATA_NOT_FOUND,
                f"the signature uses {md}; a {digest.alg.value} digest of the content cannot "
                "be compared with it (hash the content with the signature's algorithm)",
            )
    else:
        check.indeterminate(SIGNED_DATA_NOT_FOUND,
                            "detached signature: the signed content was not given")
    try:
        intact, valid = validate_sig_integrity(
            si, signer, content_type, actual if actual is not None else b""
        )
    except SignatureValidationError as exc:
        check.fail(FORMAT_FAILURE, f"the signature is malformed: {exc.failure_message}")
        intact, valid = False, False
    except Exception as exc:  # unsupported algorithm and the like
        check.fail(FORMAT_FAILURE, f"the signature cannot be checked: {exc}")
        intact, valid = False, False
    report.signature_valid = valid
    report.intact = intact and actual is not None
    if check.indication is not Indication.FAILED:
        if not valid:
            check.fail(SIG_CRYPTO_FAILURE, "the signature value does not verify with the "
                       "signer certificate's key: the signature was altered or forged")
        elif actual is not None and not intact:
            check.fail(HASH_FAILURE, "the content does not match the signature: it was "
                       "changed after signing (or it is another file)")
    cert = x509.load_der_x509_certificate(signer.dump())
    describe_algorithms(report, cert, md, si["signature_algorithm"].signature_algo)

    token = signature_timestamp(si)
    if token is not None:
        report.timestamp = await timestamp_report(ctx, si, token, revinfo=revinfo)
        if report.timestamp.indication is not Indication.PASSED:
            check.warn(f"the signature timestamp is {report.timestamp.indication.name}: "
                       f"{report.timestamp.message}")
    await finish(ctx, report, signer, certs, revinfo=revinfo)
    return report


def signature_timestamp(si: cms.SignerInfo) -> bytes | None:
    attrs = si["unsigned_attrs"]
    if isinstance(attrs, core.Void):
        return None
    for attr in attrs:
        if attr["type"].native == "signature_time_stamp_token":
            return bytes(attr["values"][0].dump())
    return None


async def timestamp_report(
    ctx: VerifyContext, si: cms.SignerInfo, token: bytes, *,
    extra_certs: Sequence[a_x509.Certificate] = (), revinfo: EmbeddedRevinfo = NO_REVINFO,
) -> TimestampReport:
    """RFC 3161 Appendix A: the token stamps the hash of the signature value.
    ``extra_certs`` and ``revinfo``: what the enclosing document carries for its TSA."""
    return await token_report(ctx, token, bytes(si["signature"].native),
                              extra_certs=extra_certs, revinfo=revinfo)


async def token_report(
    ctx: VerifyContext, token: bytes, imprint_of: bytes, *,
    extra_certs: Sequence[a_x509.Certificate] = (), revinfo: EmbeddedRevinfo = NO_REVINFO,
) -> TimestampReport:
    """A signature timestamp's report: the token must stamp the hash of ``imprint_of``."""
    sub = SignatureReport(index=0, format="RFC 3161")
    info = await check_token(ctx, sub, token, imprint_of=imprint_of,
                             extra_certs=extra_certs, revinfo=revinfo)
    msg = "; ".join(sub.check.errors) or "the timestamp is valid"
    return TimestampReport(
        time=info.gen_time if info else sub.signing_time or _epoch(),
        tsa_subject=info.tsa_subject if info else "",
        indication=sub.indication,
        sub_indication=sub.check.sub_indication,
        message=msg,
        hash_algorithm=info.hash_alg if info else "",
    )


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)
