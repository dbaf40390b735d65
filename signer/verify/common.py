"""Pieces every format shares: the verification context, certificate selection,
algorithm description and strength, and the finishing steps (trust, agency)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from signer.catalogue import Message, legacy
from signer.verify.agency import VIETNAM, AgencyResolver
from signer.verify.fetch import FetchAllowance
from signer.verify.report import (
    CRYPTO_CONSTRAINTS_FAILURE,
    REVOKED,
    REVOKED_NO_POE,
    WEAK_HASHES,
    CertSummary,
    Indication,
    KeyCompromise,
    SignatureReport,
)
from signer.verify.trust import NO_REVINFO, EmbeddedRevinfo, TrustStore

MIN_RSA_BITS = 2048  # Circular 15/2025
MIN_EC_BITS = 256
_SCHEMES = {
    "rsassa_pkcs1v15": "PKCS#1 v1.5",
    "rsassa_pss": "PSS",
    "ecdsa": "ECDSA",
    "ed25519": "Ed25519",
    "ed448": "Ed448",
    "dsa": "DSA",
}
HASH_NAMES = {
    "sha1": "SHA-1", "md5": "MD5", "sha224": "SHA-224", "sha256": "SHA-256",
    "sha384": "SHA-384", "sha512": "SHA-512", "sha3_256": "SHA3-256", "sha3_384": "SHA3-384",
    "sha3_512": "SHA3-512",
}


@dataclass(frozen=True, slots=True)
class VerifyContext:
    """What a verification needs: the trust store, the agency registry, and (per Verify
    call) the download allowance every signature and timestamp of the document shares."""

    trust: TrustStore
    agencies: AgencyResolver | None
    fetches: FetchAllowance | None = None


def hash_label(name: str) -> str:
    return HASH_NAMES.get(name, name.upper())


def find_cert(sid: cms.SignerIdentifier, certs: Iterable[a_x509.Certificate]
              ) -> a_x509.Certificate | None:
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if cert.serial_number == ias["serial_number"].native and cert.issuer == ias["issuer"]:
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    return None


def key_label(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bit"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name} ({key.key_size} bit)"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size} bit"
    return type(key).__name__


def describe_algorithms(
    report: SignatureReport, cert: x509.Certificate, digest: str, scheme: str,
    extra_hashes: Iterable[str] = (),
) -> None:
    """Fill the algorithm fields and cap the indication for weak ones (Circular 15/2025:
    SHA-1 and MD5 are not accepted; RSA >= 2048, ECDSA >= 256)."""
    report.digest_algorithm = digest
    label = key_label(cert)
    scheme_text = _SCHEMES.get(scheme, scheme)
    report.signature_algorithm = label if scheme_text in ("ECDSA", label) else (
        f"{label} {scheme_text}" if scheme_text else label
    )
    weak: list[str] = []
    for h in dict.fromkeys((digest, *extra_hashes)):
        if h in WEAK_HASHES:
            weak.append(WEAK_HASHES[h])
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        weak.append(f"RSA {key.key_size} bit")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.key_size < MIN_EC_BITS:
        weak.append(f"EC {key.key_size} bit")
    if isinstance(key, dsa.DSAPublicKey):
        weak.append("DSA")
    report.weak_algorithms = weak
    if weak and report.indication is not Indication.FAILED:
        report.check.indeterminate(
            CRYPTO_CONSTRAINTS_FAILURE, Message.of("algo.weak", algorithms=", ".join(weak)))


async def finish(
    ctx: VerifyContext,
    report: SignatureReport,
    signer: a_x509.Certificate,
    others: Iterable[a_x509.Certificate],
    *,
    what: str = "signer",
    extended_key_usage: set[str] | None = None,
    signed_at: datetime | None = None,
    revinfo: EmbeddedRevinfo = NO_REVINFO,
) -> None:
    """Signer summary, trust path and revocation (``revinfo``: what the document embeds),
    and the signer's agency."""
    cert = x509.load_der_x509_certificate(signer.dump())
    report.signer = CertSummary.of(cert)
    await ctx.trust.check(report, signer, others, what=what,
                          extended_key_usage=extended_key_usage, revinfo=revinfo,
                          fetches=ctx.fetches)
    if ctx.agencies is not None:
        report.agency = ctx.agencies.resolve(
            signer.dump(), signer.public_key.dump(), signed_at or report.best_time()
        )
        compromise = ctx.agencies.compromise(signer.public_key.dump())
        if compromise is not None:
            judge_compromise(report, compromise)


def judge_compromise(report: SignatureReport, compromise: KeyCompromise) -> None:
    """The signer's key was marked compromised in this registry: a signature proven (by a
    sound timestamp) to exist before that moment keeps its indication, with a warning; one
    made after it — proven, or by the signer's own claim — fails (REVOKED); otherwise
    nothing proves it older than the compromise (INDETERMINATE/REVOKED_NO_POE: a claimed
    signing time is what whoever holds the key writes)."""
    report.key_compromise = compromise
    key, at = compromise.key_id, vietnam_time(compromise.at)
    report.revocation = "compromised"
    report.revocation_message = Message.of("compromise.marked", key=key, at=at)
    report.revocation_detail = legacy(report.revocation_message)
    proven = report.timestamp.time if (
        report.timestamp is not None and report.timestamp.indication is Indication.PASSED
    ) else None
    if proven is not None and proven < compromise.at:
        report.check.warn(Message.of("compromise.proven_before", proven=vietnam_time(proven),
                                     key=key, at=at))
    elif proven is not None:
        report.check.fail(REVOKED, Message.of("compromise.after_proof",
                                              proven=vietnam_time(proven), key=key, at=at))
    elif report.signing_time is not None and report.signing_time >= compromise.at:
        report.check.fail(REVOKED, Message.of(
            "compromise.after_claim", claimed=vietnam_time(report.signing_time),
            key=key, at=at))
    else:
        report.check.indeterminate(REVOKED_NO_POE, Message.of("compromise.no_proof",
                                                              key=key, at=at))


def vietnam_time(t: datetime) -> str:
    """``t`` as a person in Vietnam reads it: ISO 8601 at +07:00, to the second."""
    return t.astimezone(VIETNAM).isoformat(timespec="seconds")
