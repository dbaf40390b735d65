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

from signer.catalogue import Message
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
    refusal,
)
from signer.verify.trust import NO_REVINFO, EmbeddedRevinfo, revinfo_of_signed_data
from signer.verify.tsr import check_token


def load_signed_data(der: bytes) -> cms.SignedData:
    try:
        ci = cms.ContentInfo.load(der)
        if ci["content_type"].native != "signed_data":
            raise refusal("cms.not_signed_data", content_type=ci["content_type"].native)
        sd = ci["content"]
        parse_fully(cms.ContentInfo.load(der)["content"])  # a copy: see parse_fully
    except InvalidRequest:
        raise
    except Exception as exc:  # asn1crypto raises many types on malformed input
        raise refusal("cms.not_der", detail=str(exc)) from exc
    return sd


def parse_fully(sd: cms.SignedData) -> None:
    """Parse every field of ``sd`` now, so that malformed input fails here.

    Field by field, and on a copy of the SignedData the verifier uses: asn1crypto's
    ``native`` marks a timestamp token in the unsigned attributes as changed, after which
    every ``contents`` above it re-encodes the whole subtree — the ``native`` of a whole
    5 KB CAdES-B-T SignedData took seconds, and so did dumping the token from an object
    ``native`` had walked."""
    for name in sd:
        if name != "signer_infos":
            sd[name].native  # noqa: B018
    for si in sd["signer_infos"]:
        for name in si:
            si[name].native  # noqa: B018


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
            out.notes.append(Message.of("cms.content_ignored"))
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
        out.notes.append(Message.of("cms.no_signer_info"))
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
        check.indeterminate(NO_SIGNING_CERTIFICATE_FOUND, Message.of("cms.no_signer_cert"))
        return report
    try:
        report.signing_time = extract_self_reported_ts(si)
    except Exception:  # a malformed signing-time attribute
        check.warn(Message.of("sig.signing_time_unreadable"))

    actual: bytes | None = None
    if content is not None:
        try:
            actual = hashlib.new(md, content).digest()
        except ValueError:
            check.fail(FORMAT_FAILURE, Message.of("sig.unsupported_digest", algorithm=md))
    elif digest is not None:
        if digest.alg.value == md:
            actual = digest.value
        else:
            check.indeterminate(SIGNED_DATA_NOT_FOUND, Message.of(
                "cms.digest_alg_mismatch", signature_alg=md, digest_alg=digest.alg.value))
    else:
        check.indeterminate(SIGNED_DATA_NOT_FOUND, Message.of("cms.content_missing"))
    try:
        intact, valid = validate_sig_integrity(
            si, signer, content_type, actual if actual is not None else b""
        )
    except SignatureValidationError as exc:
        check.fail(FORMAT_FAILURE, Message.of("sig.malformed", detail=exc.failure_message))
        intact, valid = False, False
    except Exception as exc:  # unsupported algorithm and the like
        check.fail(FORMAT_FAILURE, Message.of("sig.cannot_check", detail=str(exc)))
        intact, valid = False, False
    report.signature_valid = valid
    report.intact = intact and actual is not None
    if check.indication is not Indication.FAILED:
        if not valid:
            check.fail(SIG_CRYPTO_FAILURE, Message.of("sig.value_invalid"))
        elif actual is not None and not intact:
            check.fail(HASH_FAILURE, Message.of("cms.content_changed"))
    cert = x509.load_der_x509_certificate(signer.dump())
    describe_algorithms(report, cert, md, si["signature_algorithm"].signature_algo)

    token = signature_timestamp(si)
    if token is not None:
        report.timestamp = await timestamp_report(ctx, si, token, revinfo=revinfo)
        if report.timestamp.indication is not Indication.PASSED:
            check.warn(timestamp_warning(report.timestamp))
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
    tsa = sub.signer
    return TimestampReport(
        time=info.gen_time if info else sub.signing_time or _epoch(),
        tsa_subject=info.tsa_subject if info else (tsa.subject if tsa else ""),
        indication=sub.indication,
        sub_indication=sub.check.sub_indication,
        messages=tuple(sub.check.problems) or (Message.of("tsr.valid"),),
        hash_algorithm=info.hash_alg if info else "",
        tsa_common_name=tsa.common_name if tsa else "",
        tsa_organization=tsa.organization if tsa else "",
    )


def timestamp_warning(ts: TimestampReport) -> Message:
    """The warning of a signature whose signature timestamp did not pass: why, in its own
    messages."""
    return Message.of("sig.timestamp_not_passed", indication=ts.indication.name,
                      causes=tuple(m for m in ts.messages if m.code != "tsr.valid"))


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)
