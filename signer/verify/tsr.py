"""RFC 3161 time-stamp tokens (and granted TimeStampResp replies), alone or inside CAdES.

Integrity, the ESS signing-certificate binding and the TSA certificate's EKU are
``signer.formats.tsp.verify_token``'s; the TSA's path to an anchor and its revocation are
``trust``'s, like every other signer's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from asn1crypto import cms
from asn1crypto import x509 as a_x509

from signer.catalogue import Message
from signer.digest import Digest
from signer.formats.tsp import TimestampError, TokenInfo, token_from_response, verify_token
from signer.verify.common import VerifyContext, describe_algorithms, find_cert, finish
from signer.verify.report import (
    CRYPTO_CONSTRAINTS_FAILURE,
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

_TIME_STAMPING = "time_stamping"


def is_response(der: bytes) -> bool:
    """TimeStampResp: SEQUENCE { PKIStatusInfo SEQUENCE, ... }; a token starts with an OID."""
    from asn1crypto import parser

    try:
        _, _, _, _, contents, _ = parser.parse(der, strict=False)
        _, _, tag, _, _, _ = parser.parse(contents)
    except Exception:  # asn1crypto raises many types on malformed input
        return False
    return bool(tag == 16)


def _token_parts(token_der: bytes) -> tuple[a_x509.Certificate | None, list[a_x509.Certificate],
                                             str, str]:
    sd = cms.ContentInfo.load(token_der)["content"]
    certs = [c.chosen for c in sd["certificates"] if c.name == "certificate"]
    si = sd["signer_infos"][0]
    signer = find_cert(si["sid"], certs)
    return signer, certs, si["digest_algorithm"]["algorithm"].native, \
        si["signature_algorithm"].signature_algo


_CLASSES = {
    TimestampError.WEAK: (Indication.INDETERMINATE, CRYPTO_CONSTRAINTS_FAILURE, "tsr.weak"),
    TimestampError.ALTERED: (Indication.FAILED, HASH_FAILURE, "tsr.altered"),
    TimestampError.SIGNATURE: (Indication.FAILED, SIG_CRYPTO_FAILURE, "tsr.signature_invalid"),
    TimestampError.NO_CERTIFICATE: (Indication.INDETERMINATE, NO_SIGNING_CERTIFICATE_FOUND,
                                    "tsr.no_certificate"),
}


def _classify(exc: TimestampError) -> tuple[Indication, str, str]:
    """Indication, sub-indication and catalogue code of a token ``verify_token`` refused
    (by its ``reason``; its words stay the message's detail)."""
    return _CLASSES.get(exc.reason, (Indication.FAILED, FORMAT_FAILURE, "tsr.malformed"))


async def check_token(
    ctx: VerifyContext, report: SignatureReport, token_der: bytes,
    *, imprint_of: bytes | None = None, digest: Digest | None = None,
    extra_certs: Sequence[a_x509.Certificate] = (), revinfo: EmbeddedRevinfo = NO_REVINFO,
) -> TokenInfo | None:
    """Verify one token into ``report``: integrity, imprint (of ``imprint_of`` data, or
    equal to ``digest``), TSA certificate path. ``extra_certs`` and ``revinfo``: what the
    enclosing document carries besides the token's own. Returns what it asserts, if
    readable."""
    check = report.check
    try:
        info = verify_token(token_der)
    except TimestampError as exc:
        indication, sub, code = _classify(exc)
        why = Message.of(code, detail=exc.text)
        if indication is Indication.FAILED:
            check.fail(sub, why)
        else:
            check.indeterminate(sub, why)
        report.intact = False
        try:
            signer, certs, _, _ = _token_parts(token_der)
            if signer is not None:
                await finish(ctx, report, signer, [*certs, *extra_certs],
                             what="tsa", extended_key_usage={_TIME_STAMPING},
                             revinfo=_with_token_revinfo(token_der, revinfo))
        except Exception:  # a malformed token: the error above says enough
            pass
        return None
    report.signature_valid = True
    report.signing_time = info.gen_time
    signer, certs, md, scheme = _token_parts(token_der)
    if imprint_of is not None:
        report.intact = hashlib.new(info.hash_alg, imprint_of).digest() == info.imprint
    elif digest is not None and digest.alg.value != info.hash_alg:
        # a digest made with another hash cannot be compared with the imprint
        check.indeterminate(SIGNED_DATA_NOT_FOUND, Message.of(
            "tsr.alg_mismatch", token_alg=info.hash_alg, digest_alg=digest.alg.value))
        report.intact = False
    elif digest is not None:
        report.intact = digest.value == info.imprint
    else:
        report.intact = True  # only the token itself was checked
    compared = imprint_of is not None or (digest is not None
                                          and digest.alg.value == info.hash_alg)
    if compared and not report.intact:
        check.fail(HASH_FAILURE, Message.of("tsr.imprint_mismatch"))
    assert signer is not None  # verify_token found it
    from cryptography import x509

    describe_algorithms(report, x509.load_der_x509_certificate(signer.dump()), md, scheme,
                        extra_hashes=(info.hash_alg,))
    await finish(ctx, report, signer, [*certs, *extra_certs], what="tsa",
                 extended_key_usage={_TIME_STAMPING}, signed_at=info.gen_time,
                 revinfo=_with_token_revinfo(token_der, revinfo))
    return info


def _with_token_revinfo(token_der: bytes, revinfo: EmbeddedRevinfo) -> EmbeddedRevinfo:
    own = revinfo_of_signed_data(cms.ContentInfo.load(token_der)["content"])
    return EmbeddedRevinfo(own.crls + revinfo.crls, own.ocsps + revinfo.ocsps)


async def verify_tsr(
    ctx: VerifyContext, der: bytes, content: bytes | None, digest: Digest | None
) -> VerifyReport:
    if is_response(der):
        try:
            der = token_from_response(der)
        except TimestampError as exc:
            raise refusal("tsr.reply_without_token", detail=exc.text) from exc
    try:
        cms.ContentInfo.load(der).native  # noqa: B018  (parse everything once)
    except Exception as exc:
        raise refusal("tsr.not_der", detail=str(exc)) from exc
    out = VerifyReport(kind="tsr")
    report = SignatureReport(index=1, format="RFC 3161", coverage="imprint")
    info = await check_token(ctx, report, der, imprint_of=content, digest=digest)
    if info is not None:
        tsa = report.signer
        report.timestamp = TimestampReport(
            time=info.gen_time, tsa_subject=info.tsa_subject, indication=report.indication,
            sub_indication=report.check.sub_indication, hash_algorithm=info.hash_alg,
            messages=tuple(report.check.problems) or (Message.of("tsr.valid"),),
            tsa_common_name=tsa.common_name if tsa else "",
            tsa_organization=tsa.organization if tsa else "",
        )
        report.coverage_detail = f"{info.hash_alg} {info.imprint.hex()}"
        report.field_name = f"serial {info.serial:x}, policy {info.policy}"
        report.token_serial_hex, report.token_policy = f"{info.serial:x}", str(info.policy)
    if content is None and digest is None:
        report.check.indeterminate(SIGNED_DATA_NOT_FOUND, Message.of("tsr.data_not_given"))
    out.signatures.append(report)
    return out
