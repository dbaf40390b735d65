"""RFC 3161 requests in, time-stamp responses out: the ASN.1 layer of kyso's TSA.

``parse_request`` reads a DER TimeStampReq (strict DER, hand-decoded: it must
answer arbitrary bytes with a ``Rejection`` and nothing else). A ``TokenBuilder``
is made once per TSA key and certificate; ``build`` then writes::

    TimeStampResp { PKIStatusInfo { granted },
      ContentInfo { signedData, [0] SignedData {
        version 3,                                  RFC 5652 §5.1: eContentType is not id-data
        digestAlgorithms { hash },
        encapContentInfo { id-ct-TSTInfo, [0] OCTET STRING TSTInfo },
        [0] certificates { tsa, chain... },         only when the request has certReq
        signerInfos { SignerInfo {
          version 1, sid issuerAndSerialNumber, digestAlgorithm hash,
          [0] signedAttrs { content-type id-ct-TSTInfo, message-digest,
                            signing-time, signing-certificate-v2 },
          signatureAlgorithm, signature } } } } }

    TSTInfo { version 1, policy, messageImprint (the request's bytes), serialNumber,
              genTime (UTC, fractional seconds), accuracy?, nonce?, tsa [0] directoryName }

Everything fixed for a builder (certificate set, sid, ESSCertIDv2, accuracy,
tsa name, algorithm identifiers) is DER bytes made in ``__init__``; ``build``
hand-assembles the variable TLVs, hashes twice and has the key sign once.
LIMITS.md measured this template approach at ~27x asn1crypto with the fixed
parts pre-encoded.

Refusals are not kyso errors: ``Rejection`` carries an RFC 3161
PKIFailureInfo, and transports answer it with ``rejection_response`` (a
TimeStampResp with status rejection), never with a gRPC or HTTP error.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509 as c_x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from signer.digest import Digest, HashAlg
from signer.errors import ConfigError, NotUsable
from signer.formats import _der
from signer.formats._der import OCTET_STRING, SEQUENCE, SET, seq, tlv
from signer.formats.cms import (
    ID_CONTENT_TYPE,
    ID_SIGNED_DATA,
    ID_SIGNING_TIME,
)
from signer.formats.signer_info import HASHES, attribute, prepare_signer
from signer.keys.types import Scheme, SigningKey

__all__ = [
    "ID_CT_TST_INFO",
    "FailureInfo",
    "ParsedRequest",
    "Rejection",
    "TokenBuilder",
    "TsaPolicy",
    "parse_request",
    "rejection_response",
]

ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"

_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


# --- policy and refusals ---------------------------------------------------------


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


MAX_NONCE_BITS = 160


class FailureInfo(enum.Enum):
    """RFC 3161 §2.4.2 PKIFailureInfo bits kyso answers with (value = bit number)."""

    BAD_ALG = 0  # unrecognized or unsupported Algorithm Identifier
    BAD_REQUEST = 2  # transaction not permitted or supported
    BAD_DATA_FORMAT = 5  # the data submitted has the wrong format
    TIME_NOT_AVAILABLE = 14  # the TSA's time source is not available
    UNACCEPTED_POLICY = 15  # the requested TSA policy is not supported by the TSA
    UNACCEPTED_EXTENSION = 16  # the requested extension is not supported by the TSA
    SYSTEM_FAILURE = 25  # the request cannot be handled due to system failure

    @property
    def rfc_name(self) -> str:
        """The ASN.1 name: ``badAlg``, ``timeNotAvailable``..."""
        head, *rest = self.name.lower().split("_")
        return head + "".join(w.capitalize() for w in rest)


class Rejection(Exception):
    """A request the TSA refuses; answered as a TimeStampResp with status rejection (2)."""

    def __init__(self, failure: FailureInfo, text: str) -> None:
        super().__init__(f"{failure.rfc_name}: {text}")
        self.failure = failure
        self.text = text


# --- requests --------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedRequest:
    """A TimeStampReq that passed every check of ``parse_request``.

    ``message_imprint_der`` is the request's MessageImprint exactly as encoded
    (RFC 3161 §2.4.2: the TSTInfo carries the same value); empty means
    "encode it canonically" for requests made without DER.
    """

    hash_alg: HashAlg
    imprint: bytes
    policy: str  # the requested policy, or the default when none was asked for
    nonce: int | None
    cert_req: bool
    der: bytes = field(repr=False)
    message_imprint_der: bytes = field(default=b"", repr=False)


_HASH_BY_OID = {alg.oid: alg for alg in HashAlg}
# Names for hash OIDs a client may send, so a refusal says what was sent.
_OTHER_HASHES = {
    "1.3.14.3.2.26": "SHA-1",
    "1.2.840.113549.2.5": "MD5",
    "1.2.840.113549.2.2": "MD2",
    "1.2.840.113549.2.4": "MD4",
    "1.3.36.3.2.1": "RIPEMD-160",
    "2.16.840.1.101.3.4.2.4": "SHA-224",
    "2.16.840.1.101.3.4.2.5": "SHA-512/224",
    "2.16.840.1.101.3.4.2.6": "SHA-512/256",
    "2.16.840.1.101.3.4.2.7": "SHA3-224",
    "2.16.840.1.101.3.4.2.8": "SHA3-256",
    "2.16.840.1.101.3.4.2.9": "SHA3-384",
    "2.16.840.1.101.3.4.2.10": "SHA3-512",
    "2.16.840.1.101.3.4.2.11": "SHAKE128",
    "2.16.840.1.101.3.4.2.12": "SHAKE256",
    "1.2.156.10197.1.401": "SM3",
    "1.2.643.7.1.1.2.2": "GOST R 34.11-2012 (256)",
    "1.2.643.7.1.1.2.3": "GOST R 34.11-2012 (512)",
}
_USE = "use SHA-256, SHA-384 or SHA-512"


class _Malformed(Exception):
    """Internal: the bytes are not the DER the reader expected."""


def _read(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """One DER TLV at ``pos``: (tag, content start, content end). Strict X.690 §10.1."""
    if pos + 2 > end:
        raise _Malformed("truncated")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise _Malformed("high tag numbers are not used in a TimeStampReq")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        size = first
    else:
        n = first & 0x7F
        if n == 0:
            raise _Malformed("indefinite length (BER) is not DER")
        if n > 4 or pos + n > end:
            raise _Malformed("bad length")
        size = int.from_bytes(buf[pos : pos + n], "big")
        if buf[pos] == 0 or size < 0x80:
            raise _Malformed("length not in its shortest form")
        pos += n
    if pos + size > end:
        raise _Malformed("truncated")
    return tag, pos, pos + size


def _decode_int(content: bytes) -> int:
    if not content:
        raise _Malformed("empty INTEGER")
    if len(content) > 1 and (
        (content[0] == 0 and content[1] < 0x80) or (content[0] == 0xFF and content[1] >= 0x80)
    ):
        raise _Malformed("INTEGER not minimally encoded")
    return int.from_bytes(content, "big", signed=True)


def _decode_oid(content: bytes) -> str:
    if not content or content[-1] & 0x80:
        raise _Malformed("bad OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    starting = True
    for b in content:
        if starting and b == 0x80:
            raise _Malformed("OBJECT IDENTIFIER arc not minimally encoded")
        value = (value << 7) | (b & 0x7F)
        starting = not b & 0x80
        if starting:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def parse_request(der: bytes, policy: TsaPolicy) -> ParsedRequest:
    """Decode and check a DER TimeStampReq (RFC 3161 §2.4.1); raise ``Rejection`` only.

    Structure, version, DER and trailing-byte faults are ``BAD_REQUEST``; a hash
    other than SHA-256/384/512 is ``BAD_ALG``; an imprint of the wrong length
    ``BAD_DATA_FORMAT``; a policy not accepted ``UNACCEPTED_POLICY``; any
    extension ``UNACCEPTED_EXTENSION`` (kyso supports none).
    """
    try:
        der = bytes(der)
        fields = _decode_request(der)
    except _Malformed as exc:
        raise Rejection(
            FailureInfo.BAD_REQUEST, f"the request is not a DER TimeStampReq (RFC 3161): {exc}"
        ) from None
    except Exception as exc:  # nothing but Rejection leaves, whatever the bytes
        raise Rejection(
            FailureInfo.BAD_REQUEST, "the request is not a DER TimeStampReq (RFC 3161)"
        ) from exc
    alg_oid, params, imprint, mi_der, req_policy, nonce, cert_req, extensions = fields
    if nonce is not None and nonce.bit_length() > MAX_NONCE_BITS:
        # RFC 3161 §2.4.1 leaves the size open; the nonce is echoed and recorded, so it
        # is bounded like every other input (64 bits is usual, 160 common practice).
        raise Rejection(
            FailureInfo.BAD_REQUEST,
            f"the nonce is {nonce.bit_length()} bits long: this TSA accepts nonces of at "
            f"most {MAX_NONCE_BITS} bits (a 64-bit random number is usual)",
        )

    hash_alg = _HASH_BY_OID.get(alg_oid)
    if hash_alg is None:
        name = _OTHER_HASHES.get(alg_oid, f"unknown hash algorithm {alg_oid}")
        raise Rejection(
            FailureInfo.BAD_ALG, f"{name} is not accepted for the message imprint: {_USE}"
        )
    if params not in (b"", _der.DER_NULL):
        # RFC 5754 §2: SHA-2 identifiers have absent (or, from old encoders, NULL) parameters.
        raise Rejection(
            FailureInfo.BAD_ALG,
            f"the {hash_alg.value.upper()} AlgorithmIdentifier has parameters: "
            "they must be absent or NULL",
        )
    if len(imprint) != hash_alg.digest_size:
        raise Rejection(
            FailureInfo.BAD_DATA_FORMAT,
            f"a {hash_alg.value.upper()} message imprint is {hash_alg.digest_size} bytes, "
            f"got {len(imprint)}",
        )
    chosen = policy.default_policy if req_policy is None else req_policy
    if chosen not in policy.accepted_policies:
        raise Rejection(
            FailureInfo.UNACCEPTED_POLICY,
            f"policy {chosen} is not accepted: ask for one of "
            + ", ".join(sorted(policy.accepted_policies))
            + " or for none",
        )
    if extensions is not None:
        raise Rejection(
            FailureInfo.UNACCEPTED_EXTENSION,
            "this TSA accepts no request extensions"
            + (f", got {', '.join(extensions)}" if extensions else ""),
        )
    return ParsedRequest(hash_alg, imprint, chosen, nonce, cert_req, der, mi_der)


_RequestFields = tuple[str, bytes, bytes, bytes, str | None, int | None, bool, list[str] | None]


def _decode_request(der: bytes) -> _RequestFields:
    """The fields of a TimeStampReq; ``_Malformed`` when the DER is not one."""
    end = len(der)
    tag, pos, body_end = _read(der, 0, end)
    if tag != SEQUENCE:
        raise _Malformed("not a SEQUENCE")
    if body_end != end:
        raise _Malformed(f"{end - body_end} bytes after the request")

    tag, s, e = _read(der, pos, body_end)  # version
    if tag != _der.INTEGER or _decode_int(der[s:e]) != 1:
        raise _Malformed("version must be v1 (1)")
    pos = e

    # messageImprint SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }
    tag, s, mi_end = _read(der, pos, body_end)
    if tag != SEQUENCE:
        raise _Malformed("messageImprint is not a SEQUENCE")
    mi_der = der[pos:mi_end]
    tag, a_s, a_e = _read(der, s, mi_end)
    if tag != SEQUENCE:
        raise _Malformed("hashAlgorithm is not a SEQUENCE")
    tag, o_s, o_e = _read(der, a_s, a_e)
    if tag != _der.OID:
        raise _Malformed("hashAlgorithm has no OID")
    alg_oid = _decode_oid(der[o_s:o_e])
    params = der[o_e:a_e]
    if params:
        _, _, p_e = _read(der, o_e, a_e)
        if p_e != a_e:
            raise _Malformed("hashAlgorithm has more than one parameter")
    tag, h_s, h_e = _read(der, a_e, mi_end)
    if tag != OCTET_STRING or h_e != mi_end:
        raise _Malformed("hashedMessage is not an OCTET STRING ending messageImprint")
    imprint = der[h_s:h_e]
    pos = mi_end

    req_policy: str | None = None
    nonce: int | None = None
    cert_req = False
    extensions: list[str] | None = None
    # Optional fields, each at most once and in this order (X.680 SEQUENCE).
    order = (_der.OID, _der.INTEGER, 0x01, 0xA0)
    at = 0
    while pos < body_end:
        tag, s, e = _read(der, pos, body_end)
        if tag not in order[at:]:
            raise _Malformed(f"unexpected or repeated field (tag 0x{tag:02x})")
        at = order.index(tag) + 1
        content = der[s:e]
        if tag == _der.OID:
            req_policy = _decode_oid(content)
        elif tag == _der.INTEGER:
            nonce = _decode_int(content)
        elif tag == 0x01:
            if content not in (b"\x00", b"\xff"):
                raise _Malformed("certReq is not a DER BOOLEAN")
            cert_req = content == b"\xff"
        else:
            extensions = _extension_ids(der, s, e)
        pos = e
    return alg_oid, params, imprint, mi_der, req_policy, nonce, cert_req, extensions


def _extension_ids(der: bytes, pos: int, end: int) -> list[str]:
    """The extnIDs of [0] Extensions, for the refusal message (best effort)."""
    ids: list[str] = []
    try:
        while pos < end:
            tag, s, e = _read(der, pos, end)
            t, o_s, o_e = _read(der, s, e)
            if tag == SEQUENCE and t == _der.OID:
                ids.append(_decode_oid(der[o_s:o_e]))
            pos = e
    except _Malformed:
        pass
    return ids


# --- responses -------------------------------------------------------------------

_GRANTED = seq(_der.integer(0))  # PKIStatusInfo { status granted }
_REJECTION = _der.integer(2)


def _failure_bits(failure: FailureInfo) -> bytes:
    """PKIFailureInfo BIT STRING with one named bit set.

    X.690 §11.2.2: a named bit list drops trailing zero bits, so the string ends
    at the set bit: bit n → n // 8 + 1 octets, 7 - n % 8 unused bits.
    """
    n = failure.value
    octets = bytearray(n // 8 + 1)
    octets[-1] = 0x80 >> (n % 8)
    return tlv(_der.BIT_STRING, bytes((7 - n % 8,)) + bytes(octets))


def rejection_response(failure: FailureInfo, text: str) -> bytes:
    """DER TimeStampResp { status rejection (2), statusString { text }, failInfo }."""
    status_string = seq(tlv(0x0C, text.encode("utf-8")))  # PKIFreeText: SEQUENCE OF UTF8String
    return seq(seq(_REJECTION, status_string, _failure_bits(failure)))




_CONTENT_INFO_OID = _der.oid(ID_SIGNED_DATA)
_SIGNING_TIME_OID = _der.oid(ID_SIGNING_TIME)
_TST_VERSION = _der.integer(1)
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
        self._accuracy = _accuracy(policy.accuracy_ms)
        # RFC 3161 §2.4.2: tsa [0] GeneralName, a hint that "MUST correspond to one of
        # the subject names" of the certificate. Given as directoryName of the subject,
        # so a token issued without certReq still names its TSA (OpenSSL's tsa_name = yes
        # does the same). [0] and [4] are explicit: GeneralName and Name are CHOICEs.
        self._tsa_name = tlv(0xA0, tlv(0xA4, parts.tbs["subject"].dump()))

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
        """DER TimeStampResp granting ``req`` with a token stamped ``gen_time``.

        ``serial`` must be positive and at most 160 bits (RFC 3161 §2.4.2);
        ``gen_time`` must be timezone-aware, and its microseconds are kept (pass
        a time truncated to milliseconds for millisecond precision).
        """
        policy_oid = self._policies.get(req.policy)
        if policy_oid is None:
            raise Rejection(
                FailureInfo.UNACCEPTED_POLICY, f"policy {req.policy} is not accepted by this TSA"
            )
        if not 0 < serial < 1 << 160:
            raise ValueError("a TSTInfo serialNumber must be positive and at most 160 bits")
        mi = req.message_imprint_der or seq(
            _der.digest_algorithm(req.hash_alg), tlv(OCTET_STRING, req.imprint)
        )
        tst_info = tlv(
            SEQUENCE,
            _TST_VERSION
            + policy_oid
            + mi
            + _der.integer(serial)
            + _der.generalized_time(gen_time)
            + self._accuracy
            # ordering FALSE is the DEFAULT: DER omits it (X.690 §11.5).
            # RFC 3161 §2.4.2: the nonce must be echoed when the request had one.
            + (b"" if req.nonce is None else _der.integer(req.nonce))
            + self._tsa_name,
        )

        time_attr = tlv(SEQUENCE, _SIGNING_TIME_OID + tlv(SET, _der.asn1_time(gen_time)))
        md_attr = self._md_attr_head + self._hash(tst_info).digest()
        attrs = b"".join(sorted((self._ct_attr, md_attr, time_attr, self._scv2_attr)))
        # RFC 5652 §5.4: the signature covers SET OF Attribute (tag 0x31), carried as [0].
        signed_attrs = tlv(SET, attrs)
        to_sign = Digest(self._hash_alg, self._hash(signed_attrs).digest())
        signature = self._key.sign_digest(to_sign, self._scheme)

        signer_info = tlv(
            SEQUENCE,
            self._si_head
            + b"\xa0"
            + signed_attrs[1:]
            + self._sig_alg
            + tlv(OCTET_STRING, signature),
        )
        encap = tlv(SEQUENCE, _ENCAP_OID + tlv(0xA0, tlv(OCTET_STRING, tst_info)))
        signed_data = tlv(
            SEQUENCE,
            self._sd_head + encap + (self._certs if req.cert_req else b"") + tlv(SET, signer_info),
        )
        token = tlv(SEQUENCE, _CONTENT_INFO_OID + tlv(0xA0, signed_data))
        return tlv(SEQUENCE, _GRANTED + token)

    def reject(self, failure: FailureInfo, text: str) -> bytes:
        """Same as ``rejection_response``."""
        return rejection_response(failure, text)


def _accuracy(ms: int) -> bytes:
    """Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] 1..999 OPTIONAL, ... }.

    Zero parts are omitted (an absent part means 0); ``ms == 0`` omits Accuracy.
    """
    if ms <= 0:
        return b""
    seconds, millis = divmod(ms, 1000)
    parts = b""
    if seconds:
        parts += _der.integer(seconds)
    if millis:
        parts += b"\x80" + _der.integer(millis)[1:]  # [0] IMPLICIT INTEGER
    return seq(parts)




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
