"""Detached CMS SignedData, CAdES-B-B (ETSI EN 319 122-1 §5, §6.3), over a client's digest.

The client hashes its document and sends the digest; kyso returns a ``.p7s``
that verifies against the document with any CMS verifier::

    ContentInfo { signedData, [0] SignedData {
        version 1,                                  RFC 5652 §5.1: id-data, v1 SignerInfo only
        digestAlgorithms { hash },
        encapContentInfo { id-data },               no eContent: detached
        [0] certificates { signer, chain... },
        signerInfos { SignerInfo {
            version 1, sid issuerAndSerialNumber, digestAlgorithm hash,
            [0] signedAttrs { content-type, message-digest, signing-time,
                              signing-certificate-v2 },
            signatureAlgorithm, signature } } } }

A ``CadesSigner`` is built once per (certificate, key, scheme, hash) and is
immutable, so one instance may serve many threads. Everything that does not
change between calls is encoded in ``__init__``; ``sign`` only hand-assembles the
message-digest and signing-time attributes, hashes the signed attributes, has
the key sign that hash, and concatenates pre-encoded DER around the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from cryptography import x509 as c_x509

from signer.digest import Digest, HashAlg
from signer.errors import InvalidRequest, NotUsable
from signer.formats import _der
from signer.formats._der import SEQUENCE, SET, seq, tlv
from signer.formats.signer_info import (
    HASHES,
    ID_CONTENT_TYPE,
    ID_DATA,
    attribute,
    prepare_signer,
    sign_attributes,
    signed_data,
    signer_info,
)
from signer.keys.types import Scheme, SigningKey

__all__ = ["CadesSigner"]

_SIGNATURE_TIME_STAMP_OID = _der.oid("1.2.840.113549.1.9.16.2.14")  # id-aa-signatureTimeStampToken




class CadesSigner:
    """Makes detached CAdES-B-B signatures with one key and its certificate.

    ``public_key_der`` is the key's SubjectPublicKeyInfo as the token reports it;
    it must be the certificate's key. ``chain_der`` holds the certificates a
    verifier needs to reach a trust anchor (issuing CAs, optionally the root).
    Construction raises ``NotUsable`` when the certificate cannot serve this
    key and scheme.
    """

    __slots__ = (
        "_ct_attr",
        "_digest_size",
        "_hash",
        "_hash_alg",
        "_key",
        "_md_attr_head",
        "_not_after",
        "_not_before",
        "_scheme",
        "_scv2_attr",
        "_sd_head",
        "_si_head",
        "_sig_alg",
    )

    def __init__(
        self,
        *,
        certificate_der: bytes,
        chain_der: Sequence[bytes] = (),
        key: SigningKey,
        public_key_der: bytes,
        scheme: Scheme,
        hash_alg: HashAlg,
    ) -> None:
        parts = prepare_signer(
            certificate_der=certificate_der, chain_der=chain_der, key=key,
            public_key_der=public_key_der, scheme=scheme, hash_alg=hash_alg,
            what="the signer certificate",
        )
        _check_key_usage(parts.cert)

        self._key = key
        self._scheme = scheme
        self._hash_alg = hash_alg
        self._digest_size = hash_alg.digest_size
        self._hash = HASHES[hash_alg]
        self._not_before = parts.not_before
        self._not_after = parts.not_after

        # SignedData up to, not including, signerInfos.
        certs = sorted({certificate_der, *chain_der})  # DER SET OF order, duplicates dropped
        self._sd_head = (
            _der.integer(1)
            + _der.set_of([parts.digest_alg])
            + seq(_der.oid(ID_DATA))
            + tlv(0xA0, b"".join(certs))  # [0] IMPLICIT CertificateSet
        )
        # SignerInfo up to, not including, signedAttrs.
        self._si_head = parts.si_head
        self._sig_alg = parts.sig_alg
        self._ct_attr = attribute(ID_CONTENT_TYPE, _der.oid(ID_DATA))
        # message-digest: everything but the digest octets is fixed for this hash.
        self._md_attr_head = parts.md_attr_head
        self._scv2_attr = parts.scv2_attr

    @property
    def hash_alg(self) -> HashAlg:
        return self._hash_alg

    @property
    def scheme(self) -> Scheme:
        return self._scheme

    def sign(
        self,
        digest: Digest,
        signing_time: datetime,
        timestamper: Callable[[Digest], bytes | None] | None = None,
    ) -> bytes:
        """Return DER ContentInfo(SignedData) signing the content whose hash is ``digest``.

        ``signing_time`` must be timezone-aware and inside the certificate's
        validity period (Circular 15/2025: check the certificate before signing).

        With ``timestamper`` the result is CAdES-B-T: it is given the hash of the
        signature value and returns a DER TimeStampToken (ContentInfo), which is
        embedded as the unsigned signature-time-stamp attribute (ETSI EN 319 122-1
        §5.3; RFC 3161 Appendix A). If it returns None the result stays CAdES-B-B.
        """
        if digest.alg is not self._hash_alg:
            raise InvalidRequest(
                f"this key signs {self._hash_alg.value.upper()} digests, "
                f"got a {digest.alg.value.upper()} digest: hash the document with "
                f"{self._hash_alg.value.upper()}"
            )
        value = digest.value
        if len(value) != self._digest_size:  # Digest checks this; a bypassed one must not pass
            raise InvalidRequest(
                f"a {self._hash_alg.value.upper()} digest is {self._digest_size} bytes, "
                f"got {len(value)}"
            )
        if signing_time.tzinfo is None or signing_time.utcoffset() is None:
            raise ValueError("signing_time must be timezone-aware")
        if not self._not_before <= signing_time <= self._not_after:
            raise NotUsable(
                f"the signing certificate is valid from {self._not_before:%Y-%m-%dT%H:%M:%SZ} "
                f"to {self._not_after:%Y-%m-%dT%H:%M:%SZ}, not at "
                f"{signing_time:%Y-%m-%dT%H:%M:%S%z}: renew the certificate"
            )

        signed_attrs, signature = sign_attributes(
            self._key, self._scheme, self._hash_alg,
            (self._ct_attr, self._md_attr_head + value, self._scv2_attr), signing_time)

        unsigned = b""
        if timestamper is not None:
            # RFC 3161 Appendix A: the timestamp imprint is the hash of the signature
            # value (the OCTET STRING's content, without tag and length).
            token = timestamper(Digest(self._hash_alg, self._hash(signature).digest()))
            if token is not None:
                attr = tlv(SEQUENCE, _SIGNATURE_TIME_STAMP_OID + tlv(SET, token))
                unsigned = tlv(0xA1, attr)  # unsignedAttrs [1] IMPLICIT SET OF Attribute
        si = signer_info(self._si_head, signed_attrs, self._sig_alg, signature, unsigned)
        return signed_data(self._sd_head + tlv(SET, si))


def _check_key_usage(cert: c_x509.Certificate) -> None:
    """RFC 5280 §4.2.1.3: a signing certificate must allow digitalSignature or nonRepudiation."""
    try:
        usage = cert.extensions.get_extension_for_class(c_x509.KeyUsage).value
    except c_x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise NotUsable(
            f"certificate {cert.subject.rfc4514_string()!r} does not allow signing "
            "(keyUsage has neither digitalSignature nor nonRepudiation)"
        )
