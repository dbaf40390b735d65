"""DER primitives and the AlgorithmIdentifier table shared by ``cms`` and ``x509``.

Hand-assembled TLVs are used where speed matters (CMS per-call encoding); the
AlgorithmIdentifiers are built here once, as bytes, so both formats name a
(scheme, hash) pair identically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache

from asn1crypto import keys as a_keys

from signer.digest import HashAlg
from signer.errors import InvalidRequest
from signer.keys.types import Scheme

# Universal and context tags used by the hand-built encoders.
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
SET = 0x31


def length(n: int) -> bytes:
    """DER definite length octets (X.690 §8.1.3, shortest form)."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element with a single-octet tag."""
    return bytes((tag,)) + length(len(content)) + content


def seq(*parts: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(parts))


def set_of(parts: Iterable[bytes]) -> bytes:
    """DER SET OF: elements sorted by their encodings (X.690 §11.6)."""
    return tlv(SET, b"".join(sorted(parts)))


@cache
def oid(dotted: str) -> bytes:
    """Encode a dotted OID as a full DER element (cached: OIDs here are a small fixed set)."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise ValueError(f"not an OID: {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(OID, bytes(out))


def integer(value: int) -> bytes:
    """DER INTEGER (two's complement, minimal octets)."""
    size = (value.bit_length() + 8) // 8  # room for the sign bit
    return tlv(INTEGER, value.to_bytes(size, "big", signed=True))


DER_NULL = b"\x05\x00"


def asn1_time(moment: datetime) -> bytes:
    """RFC 5652 §11.3 / RFC 5280 §4.1.2.5: UTCTime for 1950-2049, else GeneralizedTime.

    Seconds precision, always ``Z``: fractional seconds are not allowed in
    either profile's DER.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a signing or validity time must be timezone-aware")
    utc = moment.astimezone(UTC)
    if 1950 <= utc.year <= 2049:
        return tlv(UTC_TIME, utc.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return tlv(GENERALIZED_TIME, f"{utc.year:04d}{utc:%m%d%H%M%S}Z".encode("ascii"))


def generalized_time(moment: datetime) -> bytes:
    """GeneralizedTime in UTC with fractional seconds, as RFC 3161 §2.4.2 genTime wants.

    X.690 §11.7 DER: ``YYYYMMDDHHMMSS[.f+]Z``, the fraction carrying the
    moment's microseconds with trailing zeros removed, and no ``.`` at all
    when the fraction is zero.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time-stamp time must be timezone-aware")
    u = moment.astimezone(UTC)
    text = f"{u.year:04d}{u.month:02d}{u.day:02d}{u.hour:02d}{u.minute:02d}{u.second:02d}"
    if u.microsecond:
        text += "." + f"{u.microsecond:06d}".rstrip("0")
    return tlv(GENERALIZED_TIME, (text + "Z").encode("ascii"))


# --- OIDs -------------------------------------------------------------------

RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSASSA_PSS = "1.2.840.113549.1.1.10"
MGF1 = "1.2.840.113549.1.1.8"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_RSA_WITH = {
    HashAlg.SHA256: "1.2.840.113549.1.1.11",
    HashAlg.SHA384: "1.2.840.113549.1.1.12",
    HashAlg.SHA512: "1.2.840.113549.1.1.13",
}
_ECDSA_WITH = {
    HashAlg.SHA256: "1.2.840.10045.4.3.2",
    HashAlg.SHA384: "1.2.840.10045.4.3.3",
    HashAlg.SHA512: "1.2.840.10045.4.3.4",
}


# --- AlgorithmIdentifiers ----------------------------------------------------


@cache
def digest_algorithm(hash_alg: HashAlg) -> bytes:
    """RFC 5754 §2: SHA-2 AlgorithmIdentifiers are generated with absent parameters."""
    return seq(oid(hash_alg.oid))


@cache
def pss_algorithm(hash_alg: HashAlg) -> bytes:
    """id-RSASSA-PSS with explicit RSASSA-PSS-params (RFC 4055 §3.1).

    kyso's PSS is MGF1 with the message hash and salt = hash length; the
    trailer field keeps its DEFAULT (1) and is therefore omitted. Hash
    identifiers inside carry absent parameters, as OpenSSL writes them;
    RFC 4055 §2.1 requires verifiers to accept absent and NULL alike.
    """
    hash_id = digest_algorithm(hash_alg)
    params = seq(
        tlv(0xA0, hash_id),  # [0] hashAlgorithm
        tlv(0xA1, seq(oid(MGF1), hash_id)),  # [1] maskGenAlgorithm
        tlv(0xA2, integer(hash_alg.digest_size)),  # [2] saltLength
    )
    return seq(oid(RSASSA_PSS), params)


@cache
def cms_signature_algorithm(scheme: Scheme, hash_alg: HashAlg) -> bytes:
    """SignerInfo.signatureAlgorithm.

    PKCS#1 v1.5 is named ``rsaEncryption`` (NULL parameters), the hash being
    given by SignerInfo.digestAlgorithm: RFC 3370 §3.2 makes it the identifier
    every CMS implementation MUST accept, and it is what OpenSSL, BouncyCastle
    (hence EU DSS and iText), .NET SignedCms and Adobe write themselves;
    ``sha256WithRSAEncryption`` there is only a MAY-accept (RFC 5754 §3.2) that
    some older verifiers reject.
    """
    if scheme is Scheme.PKCS1V15:
        return seq(oid(RSA_ENCRYPTION), DER_NULL)
    if scheme is Scheme.PSS:
        return pss_algorithm(hash_alg)
    return seq(oid(_ECDSA_WITH[hash_alg]))  # RFC 5758 §3.2: parameters absent


@cache
def x509_signature_algorithm(scheme: Scheme, hash_alg: HashAlg) -> bytes:
    """Certificate / CSR signatureAlgorithm (RFC 4055, RFC 5758): the hash is in the OID."""
    if scheme is Scheme.PKCS1V15:
        return seq(oid(_RSA_WITH[hash_alg]), DER_NULL)  # RFC 4055 §5: NULL parameters
    if scheme is Scheme.PSS:
        return pss_algorithm(hash_alg)
    return seq(oid(_ECDSA_WITH[hash_alg]))


# --- public keys ---------------------------------------------------------------

# Circular 15/2025/TT-BKHCN: RSA >= 2048 bits or ECDSA >= 256 bits.
_MIN_RSA_BITS = 2048
_CURVES = {"secp256r1", "secp384r1", "secp521r1"}


def load_spki(der: bytes, what: str) -> a_keys.PublicKeyInfo:
    """Parse a DER SubjectPublicKeyInfo, or raise InvalidRequest naming ``what``."""
    try:
        spki = a_keys.PublicKeyInfo.load(der, strict=True)
        family = spki.algorithm  # forces parsing of the algorithm and parameters
        if family in ("rsa", "rsassa_pss"):
            spki["public_key"].parsed.native  # noqa: B018 - validate RSAPublicKey
        elif family == "ec":
            spki.curve  # noqa: B018 - validate named-curve parameters
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidRequest(f"{what} is not a DER SubjectPublicKeyInfo") from exc
    return spki


def key_family(spki: a_keys.PublicKeyInfo) -> str:
    """``"rsa"`` (rsaEncryption or id-RSASSA-PSS keys) or ``"ec"``; anything else is refused."""
    family = spki.algorithm
    if family in ("rsa", "rsassa_pss"):
        return "rsa"
    if family == "ec":
        return "ec"
    raise InvalidRequest(f"unsupported public key algorithm {family!r}: kyso signs with RSA or EC")


def check_key_policy(spki: a_keys.PublicKeyInfo, what: str) -> None:
    """Refuse keys below the Circular 15/2025 minimum."""
    if key_family(spki) == "rsa":
        bits = spki["public_key"].parsed["modulus"].native.bit_length()
        if bits < _MIN_RSA_BITS:
            raise InvalidRequest(f"{what} is RSA-{bits}: at least RSA-{_MIN_RSA_BITS} is required")
    else:
        curve_kind, curve = spki.curve
        if curve_kind != "named" or curve not in _CURVES:
            raise InvalidRequest(
                f"{what} is on curve {curve!r}: use P-256, P-384 or P-521 (named curves)"
            )


def key_identity(spki: a_keys.PublicKeyInfo) -> tuple[str, object, bytes]:
    """What makes two SPKIs the same key, whatever the AlgorithmIdentifier spelling.

    An RSA key may be labelled rsaEncryption or id-RSASSA-PSS; an EC key's
    identity includes its curve.
    """
    family = key_family(spki)
    curve = spki.curve if family == "ec" else None
    return family, curve, bytes(spki["public_key"].contents)


def scheme_fits(scheme: Scheme, spki: a_keys.PublicKeyInfo) -> bool:
    """The scheme can make signatures this public key verifies.

    An id-RSASSA-PSS key (RFC 4055 §1.2) may only be used with PSS.
    """
    if spki.algorithm == "rsassa_pss":
        return scheme is Scheme.PSS
    return (key_family(spki) == "rsa") == (scheme is not Scheme.ECDSA)


def key_identifier(spki: a_keys.PublicKeyInfo) -> bytes:
    """RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value."""
    bits = spki["public_key"].contents  # first octet: number of unused bits (0 for keys)
    return hashlib.sha1(bits[1:], usedforsecurity=False).digest()
