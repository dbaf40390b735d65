"""The TSA's own part of a time-stamp: policy, and a token built and signed per request.

The RFC 3161 codec (request parsing with its refusals, TSTInfo and response encoding,
rejections) is ``signer.formats.tsp``, shared with the client and the verifier. A
``TokenBuilder`` is made once per TSA key and certificate; ``build_token`` then writes::

    ContentInfo { signedData, [0] SignedData {
        version 3,                                  RFC 5652 §5.1: eContentType is not id-data
        digestAlgorithms { hash },
        encapContentInfo { id-ct-TSTInfo, [0] OCTET STRING TSTInfo },
        [0] certificates { tsa, chain... },         only when the request has certReq
        signerInfos { SignerInfo {
          version 1, sid issuerAndSerialNumber, digestAlgorithm hash,
          [0] signedAttrs { content-type id-ct-TSTInfo, message-digest,
                            signing-time, signing-certificate-v2 },
          signatureAlgorithm, signature } } } }

with the TSTInfo of ``signer.formats.tsp.encode_tst_info``; ``build`` wraps it in a
granted TimeStampResp. Everything fixed for a builder (certificate set, sid,
ESSCertIDv2, accuracy, tsa name, algorithm identifiers) is DER bytes made in
``__init__``; a build hand-assembles the variable TLVs, hashes twice and has the key
sign once. docs/limits.md measured this template approach at ~27x asn1crypto with the
fixed parts pre-encoded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509 as c_x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from signer.digest import HashAlg
from signer.errors import ConfigError, NotUsable
from signer.formats import _der
from signer.formats._der import OCTET_STRING, SEQUENCE, SET, tlv
from signer.formats.signer_info import (
    HASHES,
    ID_CONTENT_TYPE,
    attribute,
    prepare_signer,
    sign_attributes,
    signed_data,
    signer_info,
)
from signer.formats.tsp import (
    ID_CT_TST_INFO,
    FailureInfo,
    ParsedRequest,
    Rejection,
    encode_accuracy,
    encode_tsa_name,
    encode_tst_info,
    granted_response,
    rejection_response,
)
from signer.keys.types import Scheme, SigningKey

__all__ = ["TokenBuilder", "TsaPolicy"]

_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


# --- policy ---------------------------------------------------------


@dataclass(frozen=True)
class TsaPolicy:
    """What the TSA grants. ``accepted_policies`` always ends up containing the default."""

    default_policy: str
    accepted_policies: frozenset[str]
    accuracy_ms: int  # 0: the TSTInfo carries no accuracy
    include_chain: bool  # with certReq: the chain certificates too, not only the TSA's
    ordering: bool = False

    def __post_init__(self) -> None:
        accepted = frozenset(self.accepted_policies) | {self.default_policy}
        for policy in sorted(accepted):
            if not _OID_RE.match(policy):
                raise ConfigError(
                    f"TSA policy {policy!r} is not a dotted OID such as 0.4.0.2023.1.1"
                )
            try:
                _der.oid(policy)
            except ValueError as exc:
                raise ConfigError(f"TSA policy {policy!r} is not a valid OID") from exc
        if self.accuracy_ms < 0:
            raise ConfigError("accuracy_ms must be zero (omit) or positive")
        if self.ordering:
            # RFC 3161 §2.4.2: ordering TRUE promises genTime order across all tokens,
            # which a TSA with several nodes and sub-second clocks cannot keep.
            raise ConfigError(
                "TSA ordering is not supported: tokens are issued with ordering FALSE"
            )
        object.__setattr__(self, "accepted_policies", accepted)


# --- tokens ----------------------------------------------------------------------

_ENCAP_OID = _der.oid(ID_CT_TST_INFO)


class TokenBuilder:
    """Builds granted TimeStampResps with one TSA key and certificate.

    Construction checks the certificate as RFC 3161 §2.3 requires of a TSA
    (critical extendedKeyUsage with id-kp-timeStamping only, not a CA) and
    that it certifies ``public_key_der``; it raises ``NotUsable`` otherwise.
    Immutable after construction: one instance may serve many threads.
    """

    __slots__ = (
        "_accuracy",
        "_certs",
        "_ct_attr",
        "_digest_size",
        "_hash",
        "_hash_alg",
        "_key",
        "_md_attr_head",
        "_not_after",
        "_not_before",
        "_policies",
        "_policy",
        "_scheme",
        "_scv2_attr",
        "_sd_head",
        "_si_head",
        "_sig_alg",
        "_tsa_name",
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
        policy: TsaPolicy,
    ) -> None:
        parts = prepare_signer(
            certificate_der=certificate_der, chain_der=chain_der, key=key,
            public_key_der=public_key_der, scheme=scheme, hash_alg=hash_alg,
            what="the TSA certificate",
        )
        _check_tsa_extensions(parts.cert, f"TSA {parts.name}")

        self._key = key
        self._scheme = scheme
        self._hash_alg = hash_alg
        self._hash = HASHES[hash_alg]
        self._digest_size = hash_alg.digest_size
        self._policy = policy
        self._not_before = parts.not_before
        self._not_after = parts.not_after

        # Encoded policy OIDs: build() only looks them up.
        self._policies = {p: _der.oid(p) for p in policy.accepted_policies}
        self._accuracy = encode_accuracy(policy.accuracy_ms)
        self._tsa_name = encode_tsa_name(parts.tbs["subject"].dump())

        # SignedData head: version 3 (RFC 5652 §5.1: eContentType other than id-data).
        self._sd_head = _der.integer(3) + _der.set_of([parts.digest_alg])
        certs = [certificate_der, *chain_der] if policy.include_chain else [certificate_der]
        # [0] IMPLICIT CertificateSet; DER SET OF order, duplicates dropped.
        self._certs = tlv(0xA0, b"".join(sorted(set(certs))))
        self._si_head = parts.si_head
        self._sig_alg = parts.sig_alg

        # RFC 3161 §2.4.2: content-type is id-ct-TSTInfo.
        self._ct_attr = attribute(ID_CONTENT_TYPE, _ENCAP_OID)
        self._md_attr_head = parts.md_attr_head
        self._scv2_attr = parts.scv2_attr

    @property
    def policy(self) -> TsaPolicy:
        return self._policy

    @property
    def hash_alg(self) -> HashAlg:
        return self._hash_alg

    @property
    def scheme(self) -> Scheme:
        return self._scheme

    @property
    def not_before(self) -> datetime:
        return self._not_before

    @property
    def not_after(self) -> datetime:
        return self._not_after

    def check_validity(self, now: datetime) -> None:
        """Raise ``NotUsable`` unless the TSA certificate is valid at ``now`` (tz-aware)."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        if not self._not_before <= now <= self._not_after:
            raise NotUsable(
                f"the TSA certificate is valid from {self._not_before:%Y-%m-%dT%H:%M:%SZ} to "
                f"{self._not_after:%Y-%m-%dT%H:%M:%SZ}, not at {now:%Y-%m-%dT%H:%M:%S%z}: "
                "renew the TSA certificate"
            )

    def build(self, req: ParsedRequest, *, serial: int, gen_time: datetime) -> bytes:
        """DER TimeStampResp granting ``req``: ``build_token``'s token, status granted."""
        return granted_response(self.build_token(req, serial=serial, gen_time=gen_time))

    def build_token(self, req: ParsedRequest, *, serial: int, gen_time: datetime) -> bytes:
        """DER TimeStampToken (ContentInfo) granting ``req``, stamped ``gen_time``.

        ``serial`` must be positive and at most 160 bits (RFC 3161 §2.4.2);
        ``gen_time`` must be timezone-aware, and its microseconds are kept (pass
        a time truncated to milliseconds for millisecond precision).
        """
        policy_oid = self._policies.get(req.policy)
        if policy_oid is None:
            raise Rejection(
                FailureInfo.UNACCEPTED_POLICY, f"policy {req.policy} is not accepted by this TSA"
            )
        tst_info = encode_tst_info(
            req, policy_der=policy_oid, serial=serial, gen_time=gen_time,
            accuracy_der=self._accuracy, tsa_name_der=self._tsa_name,
        )

        md_attr = self._md_attr_head + self._hash(tst_info).digest()
        signed_attrs, signature = sign_attributes(
            self._key, self._scheme, self._hash_alg,
            (self._ct_attr, md_attr, self._scv2_attr), gen_time)
        si = signer_info(self._si_head, signed_attrs, self._sig_alg, signature)
        encap = tlv(SEQUENCE, _ENCAP_OID + tlv(0xA0, tlv(OCTET_STRING, tst_info)))
        certs = self._certs if req.cert_req else b""
        return signed_data(self._sd_head + encap + certs + tlv(SET, si))

    def reject(self, failure: FailureInfo, text: str) -> bytes:
        """``signer.formats.tsp.rejection_response``."""
        return rejection_response(failure, text)


def _check_tsa_extensions(cert: c_x509.Certificate, name: str) -> None:
    """RFC 3161 §2.3: critical EKU with id-kp-timeStamping only; not a CA; may sign."""
    try:
        extensions = cert.extensions
    except ValueError as exc:
        raise NotUsable(f"{name} has malformed extensions: {exc}") from exc
    try:
        eku = extensions.get_extension_for_class(c_x509.ExtendedKeyUsage)
    except c_x509.ExtensionNotFound:
        raise NotUsable(
            f"{name} has no extendedKeyUsage: RFC 3161 §2.3 requires a critical "
            "extendedKeyUsage with id-kp-timeStamping only; issue a TSA certificate"
        ) from None
    if not eku.critical:
        raise NotUsable(
            f"{name} has a non-critical extendedKeyUsage: RFC 3161 §2.3 requires it critical"
        )
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        usages = ", ".join(u.dotted_string for u in eku.value)
        raise NotUsable(
            f"{name} has extendedKeyUsage {usages}: RFC 3161 §2.3 requires "
            "id-kp-timeStamping (1.3.6.1.5.5.7.3.8) and nothing else"
        )
    try:
        constraints = extensions.get_extension_for_class(c_x509.BasicConstraints).value
    except c_x509.ExtensionNotFound:
        pass
    else:
        if constraints.ca:
            raise NotUsable(
                f"{name} is a CA certificate: a TSA signs with an end-entity certificate"
            )
    try:
        usage = extensions.get_extension_for_class(c_x509.KeyUsage).value
    except c_x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise NotUsable(
            f"{name} does not allow signing (keyUsage has neither digitalSignature "
            "nor nonRepudiation)"
        )
