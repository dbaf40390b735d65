"""What every CMS SignerInfo kyso builds needs, prepared once per key and
certificate: CAdES signatures (``cms``) and RFC 3161 tokens (``tsa.token``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import x509 as a_x509
from cryptography import x509 as c_x509

from signer.digest import Digest, HashAlg
from signer.errors import InvalidRequest, NotUsable
from signer.formats import _der
from signer.formats._der import OCTET_STRING, SEQUENCE, SET, seq, tlv
from signer.keys.types import Scheme, SigningKey

ID_DATA = "1.2.840.113549.1.7.1"
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
ID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
ID_SIGNING_TIME = "1.2.840.113549.1.9.5"
ID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"

_SIGNING_TIME_OID = _der.oid(ID_SIGNING_TIME)
_CONTENT_INFO_OID = _der.oid(ID_SIGNED_DATA)

HASHES = {
    HashAlg.SHA256: hashlib.sha256,
    HashAlg.SHA384: hashlib.sha384,
    HashAlg.SHA512: hashlib.sha512,
}


def attribute(attr_type: str, *values: bytes) -> bytes:
    """Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue }."""
    return seq(_der.oid(attr_type), _der.set_of(values))


def load_certificate(der: bytes, what: str) -> c_x509.Certificate:
    try:
        return c_x509.load_der_x509_certificate(der)
    except (ValueError, TypeError) as exc:
        raise NotUsable(f"{what} is not a DER X.509 certificate") from exc


@dataclass(frozen=True, slots=True)
class SignerParts:
    cert: c_x509.Certificate
    tbs: Any  # asn1crypto TbsCertificate
    name: str  # for messages: the certificate's subject and serial
    digest_alg: bytes  # DER AlgorithmIdentifier of the hash
    si_head: bytes  # SignerInfo version 1, sid issuerAndSerialNumber, digestAlgorithm
    sig_alg: bytes  # DER signatureAlgorithm
    md_attr_head: bytes  # message-digest attribute without its digest octets
    scv2_attr: bytes  # signing-certificate-v2 attribute
    not_before: datetime
    not_after: datetime


def prepare_signer(
    *,
    certificate_der: bytes,
    chain_der: Sequence[bytes],
    key: SigningKey,
    public_key_der: bytes,
    scheme: Scheme,
    hash_alg: HashAlg,
    what: str,
) -> SignerParts:
    """Check that ``key`` (whose public half is ``public_key_der``) and the
    certificate belong together and that ``scheme`` fits both; pre-encode the
    fixed parts. ``what`` names the certificate in messages ("the TSA certificate")."""
    cert = load_certificate(certificate_der, what)
    for i, extra in enumerate(chain_der):
        load_certificate(extra, f"{what.removeprefix('the ')} chain certificate #{i + 1}")
    if not scheme.fits(key.algorithm):
        raise NotUsable(
            f"signature scheme {scheme.value} cannot be used with a {key.algorithm.value} "
            f"key: configure {key.algorithm.default_scheme.value} for this key"
        )
    tbs = a_x509.Certificate.load(certificate_der)["tbs_certificate"]
    try:
        cert_spki = _der.load_spki(tbs["subject_public_key_info"].dump(), f"{what}'s public key")
        key_spki = _der.load_spki(public_key_der, "the key's public key")
        fits = _der.scheme_fits(scheme, cert_spki)
        same_key = _der.key_identity(cert_spki) == _der.key_identity(key_spki)
    except InvalidRequest as exc:  # a bad key here is configuration, not a request
        raise NotUsable(exc.message) from exc
    name = f"certificate {cert.subject.rfc4514_string()!r} (serial {cert.serial_number:x})"
    if not fits:
        raise NotUsable(
            f"signature scheme {scheme.value} does not fit the {name}'s "
            f"{cert_spki.algorithm} public key"
        )
    if not same_key:
        raise NotUsable(
            f"{name} is not for key {key.key_id.hex()}: its public key differs from the key "
            "in the token; import the certificate issued for this key"
        )
    # Raw issuer Name and serial INTEGER exactly as encoded in the certificate:
    # verifiers match the sid and ESSCertIDv2 issuerSerial against them byte for byte.
    issuer_der = tbs["issuer"].dump()
    serial_der = tbs["serial_number"].dump()
    digest_alg = _der.digest_algorithm(hash_alg)
    size = hash_alg.digest_size
    md_attr = attribute(ID_MESSAGE_DIGEST, tlv(OCTET_STRING, b"\x00" * size))
    # RFC 5035 §5.4 / RFC 5816 §2.2.1: ESSCertIDv2 { hashAlgorithm DEFAULT sha256
    # (omitted), certHash, issuerSerial { GeneralNames { [4] issuer }, serial } }.
    # ETSI EN 319 122-1 §5.2.2.3 uses this attribute; no SHA-1 ESSCertID.
    ess_cert_id = seq(
        tlv(OCTET_STRING, hashlib.sha256(certificate_der).digest()),
        seq(seq(tlv(0xA4, issuer_der)), serial_der),
    )
    return SignerParts(
        cert=cert,
        tbs=tbs,
        name=name,
        digest_alg=digest_alg,
        si_head=_der.integer(1) + seq(issuer_der, serial_der) + digest_alg,
        sig_alg=_der.cms_signature_algorithm(scheme, hash_alg),
        md_attr_head=md_attr[:-size],
        scv2_attr=attribute(ID_SIGNING_CERTIFICATE_V2, seq(seq(ess_cert_id))),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def sign_attributes(key: SigningKey, scheme: Scheme, hash_alg: HashAlg,
                    attrs: tuple[bytes, ...], signing_time: datetime) -> tuple[bytes, bytes]:
    """The signed attributes (``attrs`` and signing-time, DER SET OF in DER order) and the
    HSM's signature over them. RFC 5652 §5.4: the signature covers the SET OF
    (tag 0x31), though the SignerInfo carries it as [0] IMPLICIT (``signer_info``)."""
    time_attr = tlv(SEQUENCE, _SIGNING_TIME_OID + tlv(SET, _der.asn1_time(signing_time)))
    signed_attrs = tlv(SET, b"".join(sorted((*attrs, time_attr))))
    to_sign = Digest(hash_alg, HASHES[hash_alg](signed_attrs).digest())
    return signed_attrs, key.sign_digest(to_sign, scheme)


def signer_info(parts_head: bytes, signed_attrs: bytes, sig_alg: bytes, signature: bytes,
                unsigned: bytes = b"") -> bytes:
    """SignerInfo: ``parts_head`` (version, sid, digestAlgorithm: ``SignerParts.si_head``),
    the signed attributes as [0] IMPLICIT, the signature algorithm and value, and the
    unsigned attributes ([1] IMPLICIT, already tagged) if any."""
    return tlv(SEQUENCE, parts_head + b"\xa0" + signed_attrs[1:] + sig_alg
               + tlv(OCTET_STRING, signature) + unsigned)


def signed_data(body: bytes) -> bytes:
    """ContentInfo { id-signedData, [0] EXPLICIT SignedData } around SignedData's fields."""
    return tlv(SEQUENCE, _CONTENT_INFO_OID + tlv(0xA0, tlv(SEQUENCE, body)))
