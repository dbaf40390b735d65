"""X.509 v3 certificates and PKCS#10 requests signed by a ``SigningKey``.

For kyso's development CA, whose key lives in the token, and for requests the
registry sends to a real CA. Not a hot path: clarity over speed.

Profiles (RFC 5280 §4.2; all carry subjectKeyIdentifier and authorityKeyIdentifier)::

    ca    basicConstraints critical CA:TRUE, pathLen (0 by default)
          keyUsage critical keyCertSign, cRLSign
    seal  basicConstraints critical CA:FALSE                 organization signature
          keyUsage critical digitalSignature, nonRepudiation
    person  the same as seal                                a person's signature (the
                                                            leader's, Decree 30/2020)
    tsa   basicConstraints critical CA:FALSE                 RFC 3161 §2.3
          keyUsage critical digitalSignature
          extendedKeyUsage critical id-kp-timeStamping (only)

Every signature made here is checked against the signer's public key before it
is returned, so a token key that is not the one named (or a faulty token)
yields ``NotUsable`` instead of a certificate nobody can verify.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Literal, TypeAlias

from asn1crypto import algos as a_algos
from asn1crypto import keys as a_keys
from asn1crypto import x509 as a_x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from signer.digest import Digest, HashAlg
from signer.errors import InvalidRequest, NotUsable
from signer.formats import _der
from signer.keys.types import Scheme, SigningKey

__all__ = ["Profile", "Subject", "build_csr", "build_name", "issue_certificate"]

Profile = Literal["ca", "seal", "person", "tsa"]
Subject: TypeAlias = Mapping[str, str] | a_x509.Name
"""A distinguished name: an asn1crypto ``Name`` used as is, or attribute -> value."""

# Short names (RFC 4514 and the usual extras) -> asn1crypto attribute names.
_ATTRIBUTES = {
    "CN": "common_name",
    "O": "organization_name",
    "OU": "organizational_unit_name",
    "L": "locality_name",
    "ST": "state_or_province_name",
    "C": "country_name",
    "UID": "user_id",  # 0.9.2342.19200300.100.1.1, e.g. "MST:0123456789" (tax code)
    "SERIALNUMBER": "serial_number",
    "STREET": "street_address",
    "T": "title",
    "E": "email_address",
    "EMAILADDRESS": "email_address",
}
_LONG_NAMES = frozenset(_ATTRIBUTES.values())


def build_name(subject: Subject) -> a_x509.Name:
    """Build a Name: UTF8String values (NFC), country (and serialNumber) as PrintableString.

    Keys are short names (``CN``, ``O``, ``OU``, ``L``, ``ST``, ``C``, ``UID``,
    ``SERIALNUMBER``, ``STREET``, ``T``, ``E``; any case) or asn1crypto names
    (``common_name``...). RDNs are written in the conventional order (C, ST, L,
    O, OU, CN, UID...), which an RFC 4514 string shows reversed:
    ``UID=..., CN=..., O=..., L=..., C=VN``.
    """
    if isinstance(subject, a_x509.Name):
        return subject
    if not subject:
        raise InvalidRequest("a certificate subject needs at least one attribute (e.g. CN)")
    values: dict[str, str] = {}
    for key, value in subject.items():
        name = _ATTRIBUTES.get(key.upper(), key if key in _LONG_NAMES else None)
        if name is None:
            raise InvalidRequest(
                f"unsupported subject attribute {key!r}: use one of " + ", ".join(_ATTRIBUTES)
            )
        if name in values:
            raise InvalidRequest(f"subject attribute {key!r} given twice")
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest(f"subject attribute {key!r} must be a non-empty string")
        # NFC: Vietnamese text typed on different systems arrives composed or decomposed;
        # certificates and name comparisons (RFC 5280 §7.1) expect one form.
        values[name] = unicodedata.normalize("NFC", value)
    country = values.get("country_name")
    if country is not None and not (len(country) == 2 and country.isascii() and country.isupper()):
        raise InvalidRequest(
            f"country must be a two-letter ISO 3166 code such as 'VN', not {country!r}"
        )
    try:
        return a_x509.Name.build(values)
    except ValueError as exc:
        raise InvalidRequest(f"invalid subject: {exc}") from exc


def issue_certificate(
    *,
    subject: Subject,
    subject_public_key_der: bytes,
    issuer: bytes | Subject | None = None,
    issuer_key: SigningKey,
    issuer_public_key_der: bytes | None = None,
    scheme: Scheme,
    hash_alg: HashAlg,
    serial: int | None = None,
    not_before: datetime,
    not_after: datetime,
    profile: Profile,
    ca_path_length: int | None = 0,
) -> bytes:
    """Issue a DER X.509 v3 certificate signed by ``issuer_key``.

    ``issuer`` is the issuing CA's certificate (DER bytes; its subject becomes
    the issuer name and its key the authority key), or the issuer's name, or
    ``None`` for a self-signed certificate (issuer = subject, issuer key =
    subject key). ``issuer_public_key_der`` (SPKI) is required with a bare
    name and otherwise checked when given. ``serial`` defaults to a random
    159-bit positive integer. ``ca_path_length`` applies to the ``ca`` profile
    only (``None`` = no limit).
    """
    subject_name = build_name(subject)
    subject_spki = _der.load_spki(subject_public_key_der, "the subject public key")
    _der.check_key_policy(subject_spki, "the subject public key")

    issuer_name, issuer_spki_der = _resolve_issuer(
        issuer, subject_name, subject_public_key_der, issuer_public_key_der
    )
    issuer_spki = _der.load_spki(issuer_spki_der, "the issuer public key")
    _check_scheme(scheme, issuer_key, issuer_spki)

    if serial is None:
        # RFC 5280 §4.1.2.2: positive, at most 20 octets; 159 bits keep the top octet < 0x80.
        serial = secrets.randbits(158) | (1 << 158)
    elif not 0 < serial < 1 << 159:
        raise InvalidRequest("a certificate serial must be positive and fit in 20 octets")
    if not_before.tzinfo is None or not_after.tzinfo is None:
        raise InvalidRequest("certificate validity times must be timezone-aware")
    if not not_before < not_after:
        raise InvalidRequest("not_before must be earlier than not_after")
    if isinstance(issuer, bytes):
        ca = a_x509.Certificate.load(issuer)
        if not_after > ca.not_valid_after or not_before < ca.not_valid_before:
            raise InvalidRequest(
                f"the certificate would outlive its issuer, valid {ca.not_valid_before:%Y-%m-%d} "
                f"to {ca.not_valid_after:%Y-%m-%d}: shorten the validity or renew the CA"
            )

    sig_alg_der = _der.x509_signature_algorithm(scheme, hash_alg)
    tbs = a_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": a_algos.SignedDigestAlgorithm.load(sig_alg_der),
            "issuer": issuer_name,
            "validity": {
                "not_before": a_x509.Time.load(_der.asn1_time(not_before)),
                "not_after": a_x509.Time.load(_der.asn1_time(not_after)),
            },
            "subject": subject_name,
            "subject_public_key_info": subject_spki,
            "extensions": _extensions(profile, subject_spki, issuer_spki, ca_path_length),
        }
    )
    return _signed(tbs.dump(), sig_alg_der, issuer_key, issuer_spki_der, scheme, hash_alg)


def build_csr(
    *,
    subject: Subject,
    public_key_der: bytes,
    key: SigningKey,
    scheme: Scheme,
    hash_alg: HashAlg,
) -> bytes:
    """A DER PKCS#10 CertificationRequest (RFC 2986) for ``key``, without attributes."""
    name = build_name(subject)
    spki = _der.load_spki(public_key_der, "the public key")
    _der.check_key_policy(spki, "the public key")
    _check_scheme(scheme, key, spki)
    # CertificationRequestInfo { version v1(0), subject, subjectPKInfo, [0] attributes {} }:
    # RFC 2986 §4.1 makes the (here empty) attributes SET mandatory.
    info = _der.seq(_der.integer(0), name.dump(), spki.dump(), b"\xa0\x00")
    sig_alg_der = _der.x509_signature_algorithm(scheme, hash_alg)
    return _signed(info, sig_alg_der, key, public_key_der, scheme, hash_alg)


def _resolve_issuer(
    issuer: bytes | Subject | None,
    subject_name: a_x509.Name,
    subject_public_key_der: bytes,
    issuer_public_key_der: bytes | None,
) -> tuple[a_x509.Name, bytes]:
    """The issuer Name and SubjectPublicKeyInfo for the three ways of naming an issuer."""
    if issuer is None:  # self-signed
        if issuer_public_key_der is not None and _differs(
            issuer_public_key_der, subject_public_key_der
        ):
            raise InvalidRequest("a self-signed certificate is signed by its own subject key")
        return subject_name, subject_public_key_der
    if not isinstance(issuer, bytes):
        if issuer_public_key_der is None:
            raise InvalidRequest("issuer_public_key_der is needed when the issuer is given by name")
        return build_name(issuer), issuer_public_key_der
    try:
        ca = a_x509.Certificate.load(issuer, strict=True)
        ca_name = ca.subject
        ca_spki_der = ca.public_key.dump()
        is_ca, usage = ca.ca, ca.key_usage_value
    except (ValueError, TypeError) as exc:
        raise InvalidRequest("the issuer certificate is not DER X.509") from exc
    if not is_ca or (usage is not None and "key_cert_sign" not in usage.native):
        raise NotUsable(
            f"issuer {ca_name.human_friendly!r} is not a CA certificate allowed to sign "
            "certificates (basicConstraints CA:TRUE and keyUsage keyCertSign)"
        )
    if issuer_public_key_der is not None and _differs(issuer_public_key_der, ca_spki_der):
        raise NotUsable("issuer_public_key_der is not the issuer certificate's public key")
    return ca_name, ca_spki_der


def _differs(spki_a: bytes, spki_b: bytes) -> bool:
    a = _der.key_identity(_der.load_spki(spki_a, "a public key"))
    return a != _der.key_identity(_der.load_spki(spki_b, "a public key"))


def _check_scheme(scheme: Scheme, key: SigningKey, spki: a_keys.PublicKeyInfo) -> None:
    if not scheme.fits(key.algorithm) or not _der.scheme_fits(scheme, spki):
        raise InvalidRequest(
            f"signature scheme {scheme.value} cannot be used with the "
            f"{key.algorithm.value} signing key"
        )


def _extensions(
    profile: Profile,
    subject_spki: a_keys.PublicKeyInfo,
    issuer_spki: a_keys.PublicKeyInfo,
    ca_path_length: int | None,
) -> list[a_x509.Extension]:
    def ext(extn_id: str, critical: bool, value: object) -> a_x509.Extension:
        return a_x509.Extension({"extn_id": extn_id, "critical": critical, "extn_value": value})

    if profile == "ca":
        constraints: dict[str, object] = {"ca": True}
        if ca_path_length is not None:
            if ca_path_length < 0:
                raise InvalidRequest("ca_path_length must be zero or more")
            constraints["path_len_constraint"] = ca_path_length
        exts = [
            ext("basic_constraints", True, constraints),
            ext("key_usage", True, {"key_cert_sign", "crl_sign"}),
        ]
    elif profile in ("seal", "person"):
        exts = [
            ext("basic_constraints", True, {"ca": False}),
            ext("key_usage", True, {"digital_signature", "non_repudiation"}),
        ]
    elif profile == "tsa":
        # RFC 3161 §2.3: the EKU must be critical and contain only id-kp-timeStamping.
        exts = [
            ext("basic_constraints", True, {"ca": False}),
            ext("key_usage", True, {"digital_signature"}),
            ext("extended_key_usage", True, ["time_stamping"]),
        ]
    else:
        raise InvalidRequest(
            f"unknown certificate profile {profile!r}: use ca, seal, person or tsa")
    exts.append(ext("key_identifier", False, _der.key_identifier(subject_spki)))
    exts.append(
        ext(
            "authority_key_identifier",
            False,
            {"key_identifier": _der.key_identifier(issuer_spki)},
        )
    )
    return exts


def _signed(
    to_be_signed: bytes,
    sig_alg_der: bytes,
    key: SigningKey,
    public_key_der: bytes,
    scheme: Scheme,
    hash_alg: HashAlg,
) -> bytes:
    """SEQUENCE { toBeSigned, signatureAlgorithm, BIT STRING signature }, checked first."""
    signature = key.sign_digest(Digest.of(hash_alg, to_be_signed), scheme)
    _verify(public_key_der, scheme, hash_alg, to_be_signed, signature)
    return _der.seq(to_be_signed, sig_alg_der, _der.tlv(_der.BIT_STRING, b"\x00" + signature))


_HASHES: dict[HashAlg, type[hashes.HashAlgorithm]] = {
    HashAlg.SHA256: hashes.SHA256,
    HashAlg.SHA384: hashes.SHA384,
    HashAlg.SHA512: hashes.SHA512,
}


def _verify(
    public_key_der: bytes, scheme: Scheme, hash_alg: HashAlg, data: bytes, signature: bytes
) -> None:
    h = _HASHES[hash_alg]()
    try:
        public_key = serialization.load_der_public_key(public_key_der)
        if isinstance(public_key, rsa.RSAPublicKey) and scheme is Scheme.PKCS1V15:
            public_key.verify(signature, data, padding.PKCS1v15(), h)
        elif isinstance(public_key, rsa.RSAPublicKey) and scheme is Scheme.PSS:
            pss = padding.PSS(mgf=padding.MGF1(h), salt_length=hash_alg.digest_size)
            public_key.verify(signature, data, pss, h)
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and scheme is Scheme.ECDSA:
            public_key.verify(signature, data, ec.ECDSA(h))
        else:
            raise InvalidSignature
    except (InvalidSignature, UnsupportedAlgorithm, ValueError) as exc:
        raise NotUsable(
            "the signing key's signature does not verify with the given public key: "
            "the key in the token is not the one named (or the token misbehaved)"
        ) from exc
