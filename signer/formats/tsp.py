"""RFC 3161 time-stamping: the one codec of kyso, for the client, the verifier and the TSA.

Client side, with any RFC 3161 TSA (kyso's own, the Government TSA, OpenSSL's);
imports only the standard library, asn1crypto, cryptography and the shared core
(``signer.digest``, ``signer.formats._der``): a document system can verify tokens
without the server.

* ``make_request`` — a DER TimeStampReq and its nonce.
* ``check_response`` — the reply granted, answers *this* request (imprint,
  nonce, policy, certReq) and carries a valid token; returns the response DER
  (what ``openssl ts -verify -in reply.tsr`` reads).
* ``token_from_response`` — the TimeStampToken (ContentInfo) inside a reply,
  what CAdES/PAdES embed.
* ``verify_token`` — a token's signature, ESS signing-certificate binding, the
  TSA certificate (RFC 3161 §2.3) and, given trusted roots, its chain at genTime.
* ``post_query`` — RFC 3161 §3.4 over HTTP: one POST, the reply's bytes. The one HTTP
  exchange with a TSA: the CLI calls it once, the server's ``signer.timestamps``
  with the ``[cades]`` retries and limits.

Every failure raises ``TimestampError``. Revocation (CRL/OCSP) is not checked.

TSA side (``tsa.token`` adds the policy, the serial, the time and the signature):

* ``parse_request`` — a DER TimeStampReq, strictly checked, as a ``ParsedRequest``;
  anything else is a ``Rejection`` with its RFC 3161 PKIFailureInfo.
* ``rejection_response`` / ``granted_response`` — the DER TimeStampResp.
* ``encode_tst_info`` (with ``encode_accuracy``, ``encode_tsa_name``) — the TSTInfo.

Reading is asn1crypto's; writing on the TSA's per-request path is hand-encoded DER
(``signer.formats._der``), the fixed parts encoded once per TSA key.
"""

from __future__ import annotations

import enum
import hashlib
import http.client
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from asn1crypto import cms, core, parser, tsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from signer.digest import HashAlg
from signer.formats import _der

__all__ = [
    "ID_CT_TST_INFO",
    "MAX_NONCE_BITS",
    "FailureInfo",
    "ParsedRequest",
    "Rejection",
    "RequestPolicy",
    "TimeStampResp",
    "TimestampError",
    "TokenInfo",
    "TsaTransportError",
    "check_response",
    "encode_accuracy",
    "encode_tsa_name",
    "encode_tst_info",
    "granted_response",
    "make_request",
    "message_imprint",
    "parse_request",
    "post_query",
    "rejection_response",
    "token_from_response",
    "verify_token",
]

CHUNK = 1 << 20  # files are hashed 1 MiB at a time

_ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ID_CT_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_ID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_ID_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
_ID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"

# Hashes accepted in tokens: name, OID, cryptography class (Circular 15/2025: SHA-2 >= 256, SHA-3).
_HASHES: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "2.16.840.1.101.3.4.2.1": ("sha256", hashes.SHA256),
    "2.16.840.1.101.3.4.2.2": ("sha384", hashes.SHA384),
    "2.16.840.1.101.3.4.2.3": ("sha512", hashes.SHA512),
    "2.16.840.1.101.3.4.2.8": ("sha3_256", hashes.SHA3_256),
    "2.16.840.1.101.3.4.2.9": ("sha3_384", hashes.SHA3_384),
    "2.16.840.1.101.3.4.2.10": ("sha3_512", hashes.SHA3_512),
}
_OID_BY_NAME = {name: oid for oid, (name, _) in _HASHES.items()}
_WEAK = {"1.3.14.3.2.26": "SHA-1", "1.2.840.113549.2.5": "MD5", "2.16.840.1.101.3.4.2.4": "SHA-224"}
_REQUEST_HASHES = ("sha256", "sha384", "sha512")  # what kyso's TSA (and most others) accept

_RSA_WITH = {
    "1.2.840.113549.1.1.11": "2.16.840.1.101.3.4.2.1",
    "1.2.840.113549.1.1.12": "2.16.840.1.101.3.4.2.2",
    "1.2.840.113549.1.1.13": "2.16.840.1.101.3.4.2.3",
}
_ECDSA_WITH = {
    "1.2.840.10045.4.3.2": "2.16.840.1.101.3.4.2.1",
    "1.2.840.10045.4.3.3": "2.16.840.1.101.3.4.2.2",
    "1.2.840.10045.4.3.4": "2.16.840.1.101.3.4.2.3",
}
_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
_RSASSA_PSS = "1.2.840.113549.1.1.10"
_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_MAX_CHAIN = 8

# asn1crypto's PKIFailureInfo bit names -> RFC 3161 names.
_FAILURE_NAMES = {
    "bad_alg": "badAlg",
    "bad_request": "badRequest",
    "bad_data_format": "badDataFormat",
    "time_not_available": "timeNotAvailable",
    "unaccepted_policy": "unacceptedPolicy",
    "unaccepted_extensions": "unacceptedExtension",  # asn1crypto's spelling
    "add_info_not_available": "addInfoNotAvailable",
    "system_failure": "systemFailure",
}
_GRANTED = ("granted", "granted_with_mods")


class TimestampError(Exception):
    """A refused request or a token that does not verify.

    ``failure`` is the TSA's PKIFailureInfo name (``"badAlg"``...) for refusals,
    None for local verification failures; ``text`` says what went wrong (English, for
    logs); ``reason`` says it for programs: one of the constants below.
    """

    INVALID = "invalid"  # malformed, or not what RFC 3161 requires
    WEAK = "weak"  # a hash too weak to be trusted
    ALTERED = "altered"  # the TSTInfo does not match its message-digest attribute
    SIGNATURE = "signature"  # the signature does not verify with the TSA certificate's key
    NO_CERTIFICATE = "no_certificate"  # the TSA certificate is neither in the token nor given
    IMPRINT = "imprint"  # a sound token, of other data than the data given
    UNTRUSTED = "untrusted"  # the TSA certificate does not chain to the roots given
    UNREADABLE = "unreadable"  # the data or the roots given cannot be read
    NOT_A_TOKEN = "not_a_token"  # not DER, or DER of something else than a token/response

    def __init__(self, text: str, failure: str | None = None, *, reason: str = INVALID) -> None:
        super().__init__(f"{failure}: {text}" if failure else text)
        self.failure = failure
        self.text = text
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a verified token asserts."""

    serial: int
    gen_time: datetime  # timezone-aware (UTC)
    policy: str  # dotted OID
    hash_alg: str  # of the message imprint: "sha256"...
    imprint: bytes
    nonce: int | None
    tsa_subject: str  # RFC 4514 subject of the certificate that signed the token
    accuracy: str | None  # e.g. "1.5s"; None when the token states none


# --- requests --------------------------------------------------------------------


def make_request(
    digest: bytes,
    hash_alg: str = "sha256",
    *,
    nonce: int | None = None,
    cert_req: bool = True,
    policy: str | None = None,
) -> tuple[bytes, int]:
    """A DER TimeStampReq for ``digest`` and the nonce it carries (random 64-bit by default).

    ``cert_req`` asks the TSA to include its certificate (needed to verify the
    token without having that certificate at hand); ``policy`` is a dotted OID.
    """
    name = hash_alg.strip().lower().replace("-", "")
    if name not in _REQUEST_HASHES:
        raise ValueError(f"unsupported hash {hash_alg!r}: use one of {', '.join(_REQUEST_HASHES)}")
    size = hashlib.new(name).digest_size
    if len(digest) != size:
        raise ValueError(
            f"a {name.upper()} digest is {size} bytes, got {len(digest)}: pass the raw hash"
        )
    if nonce is None:
        # RFC 3161 §2.4.1: a large random number; ties this reply to this request.
        nonce = secrets.randbelow((1 << 64) - 1) + 1
    fields: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": _OID_BY_NAME[name]},
            "hashed_message": digest,
        },
        "nonce": nonce,
        "cert_req": cert_req,
    }
    if policy is not None:
        fields["req_policy"] = policy
    try:
        der: bytes = tsp.TimeStampReq(fields).dump()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot encode the request: {exc}") from exc
    return der, nonce


# --- HTTP transport (RFC 3161 §3.4) -------------------------------------------------

MAX_REPLY = 1 << 20  # a TimeStampResp with a long chain is a few KiB
# RFC 3161 §3.4 names application/timestamp-reply; some TSAs still send the draft's name.
_REPLY_TYPES = ("application/timestamp-reply", "application/timestamp-response")


class TsaTransportError(OSError):
    """No TimeStampResp came back: the TSA is unreachable or timed out, answered an HTTP
    error (``status``), or sent something else. Trying again later may help; a refusal
    is not one of these (it is a TimeStampResp, read by ``check_response``)."""

    def __init__(self, text: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(text)
        self.status = status
        self.detail = detail or text


def post_query(url: str, request_der: bytes, timeout: float) -> bytes:
    """POST a DER TimeStampReq to ``url``; the DER TimeStampResp (unchecked), or
    ``TsaTransportError``. One attempt: callers retry as their settings say."""
    req = urllib.request.Request(
        url, data=request_der, method="POST",
        headers={"Content-Type": "application/timestamp-query"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            ctype = resp.headers.get("Content-Type", "")
            if not ctype.startswith(_REPLY_TYPES):
                raise TsaTransportError(
                    f"{url} answered with Content-Type {ctype!r}, not "
                    "application/timestamp-reply: is it an RFC 3161 TSA?"
                )
            body: bytes = resp.read(MAX_REPLY)
            return body
    except urllib.error.HTTPError as exc:
        detail = exc.read(4096).decode("utf-8", "replace").strip()
        if exc.headers.get("Content-Type", "").startswith(_REPLY_TYPES):
            detail = "the TSA could not record the token; retry later"  # kyso's 503
        detail = detail or str(exc.reason)
        raise TsaTransportError(f"HTTP {exc.code}: {detail}", status=exc.code,
                                detail=detail) from None
    except urllib.error.URLError as exc:
        raise TsaTransportError(f"cannot reach {url}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets mid-reply
        if isinstance(exc, TsaTransportError):
            raise
        raise TsaTransportError(f"{url}: {exc or type(exc).__name__}") from None


# --- responses -------------------------------------------------------------------


class _TimeStampResp(core.Sequence):  # type: ignore[misc]
    """TimeStampResp as RFC 3161 §2.4.2 defines it.

    asn1crypto 1.5.1's ``tsp.TimeStampResp`` makes timeStampToken mandatory, so
    it cannot read a rejection (which has none).
    """

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _load_response(resp_der: bytes) -> Any:
    try:
        resp = _TimeStampResp.load(resp_der, strict=True)
        status = resp["status"]
        value = status["status"].native
        texts = status["status_string"].native or []
        bits = status["fail_info"].native or set()
    except Exception as exc:  # asn1crypto raises many types on malformed input
        raise TimestampError(f"the reply is not a DER TimeStampResp (RFC 3161): {exc}") from exc
    if value not in _GRANTED:
        failure = ",".join(sorted(_FAILURE_NAMES.get(b, str(b)) for b in bits)) or None
        text = "; ".join(texts) or "no reason given"
        raise TimestampError(f"the TSA refused the request ({value}): {text}", failure)
    return resp


def token_from_response(resp_der: bytes) -> bytes:
    """The DER TimeStampToken (ContentInfo) of a granted TimeStampResp."""
    token = _load_response(resp_der)["time_stamp_token"]
    if isinstance(token, core.Void):
        raise TimestampError("the reply is granted but carries no time-stamp token")
    der: bytes = token.dump()
    return der


def check_response(
    resp_der: bytes,
    *,
    request_der: bytes,
    trusted_roots_pem: bytes | None = None,
    tsa_certificate_der: bytes | None = None,
) -> bytes:
    """Check a reply against the request it answers and verify its token.

    Raises ``TimestampError`` for a refusal (``.failure`` names the
    PKIFailureInfo), a reply to another request (imprint, nonce, policy,
    missing certificate despite certReq) or a token that does not verify.
    Returns ``resp_der`` (write it as ``.tsr``).
    """
    try:
        req = tsp.TimeStampReq.load(request_der, strict=True)
        req_alg = req["message_imprint"]["hash_algorithm"]["algorithm"].dotted
        req_imprint = req["message_imprint"]["hashed_message"].native
        req_nonce = req["nonce"].native
        req_policy = req["req_policy"].dotted if req["req_policy"].native is not None else None
        req_certs = bool(req["cert_req"].native)
    except Exception as exc:
        raise ValueError(f"request_der is not a DER TimeStampReq: {exc}") from exc

    token_der = token_from_response(resp_der)
    verified = _verify(token_der, trusted_roots_pem, tsa_certificate_der)
    info = verified.info
    # RFC 3161 §2.4.2: the TSTInfo repeats the request's imprint, nonce and policy.
    if verified.imprint_alg != req_alg or info.imprint != req_imprint:
        raise TimestampError("the token stamps another message imprint than the one requested")
    if req_nonce is not None and info.nonce != req_nonce:
        raise TimestampError(
            "the token's nonce differs from the request's: the reply answers another request"
        )
    if req_policy is not None and info.policy != req_policy:
        raise TimestampError(
            f"the token has policy {info.policy}, the request asked for {req_policy}"
        )
    if req_certs and not verified.cert_in_token:
        # RFC 3161 §2.4.1: with certReq the TSA MUST include the certificate its ESSCertID names.
        raise TimestampError("the request asked for the TSA certificate but the token has none")
    return resp_der


# --- token verification ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Verified:
    info: TokenInfo
    imprint_alg: str  # dotted OID
    cert_in_token: bool


def verify_token(
    token_or_response_der: bytes,
    *,
    digest: bytes | None = None,
    data_path: str | os.PathLike[str] | None = None,
    trusted_roots_pem: bytes | None = None,
    tsa_certificate_der: bytes | None = None,
) -> TokenInfo:
    """Verify a TimeStampToken (or a granted TimeStampResp) and say what it asserts.

    Always checked: eContentType id-ct-TSTInfo; message-digest = H(TSTInfo);
    the signature over the signed attributes; ESS signing-certificate(-v2)
    naming the signer certificate; that certificate having a critical EKU
    with id-kp-timeStamping only and being valid at genTime. ``digest`` (or
    the hash of the file at ``data_path``, with the imprint's algorithm) must
    equal the imprint. With ``trusted_roots_pem`` the signer certificate must
    chain to one of those roots through the token's certificates (or
    ``tsa_certificate_der`` when the token has none), every certificate valid
    at genTime. Without it the token is only shown intact, not trusted.
    """
    info = _verify(token_or_response_der, trusted_roots_pem, tsa_certificate_der).info
    if digest is not None and digest != info.imprint:
        raise TimestampError("the token does not stamp this digest (message imprint differs)",
                             reason=TimestampError.IMPRINT)
    if data_path is not None:
        h = hashlib.new(info.hash_alg)
        try:
            with open(data_path, "rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
        except OSError as exc:
            raise TimestampError(f"cannot read {os.fspath(data_path)!r}: {exc}",
                                 reason=TimestampError.UNREADABLE) from exc
        if h.digest() != info.imprint:
            raise TimestampError(
                f"the token does not stamp {os.fspath(data_path)!r}: its {info.hash_alg} "
                "differs from the message imprint", reason=TimestampError.IMPRINT
            )
    return info


def _verify(
    der: bytes, trusted_roots_pem: bytes | None, tsa_certificate_der: bytes | None
) -> _Verified:
    token_der = token_from_response(der) if _is_response(der) else der
    try:
        return _verify_token(token_der, trusted_roots_pem, tsa_certificate_der)
    except TimestampError:
        raise
    except Exception as exc:  # asn1crypto raises many types on malformed input
        raise TimestampError(f"the time-stamp token is malformed: {exc}") from exc


def _is_response(der: bytes) -> bool:
    """TimeStampResp starts SEQUENCE { SEQUENCE PKIStatusInfo; ContentInfo with an OID."""
    try:
        _, _, _, _, contents, _ = parser.parse(der, strict=True)
        _, _, tag, _, _, _ = parser.parse(contents)
    except Exception as exc:
        raise TimestampError(f"not a DER time-stamp token or response: {exc}",
                             reason=TimestampError.NOT_A_TOKEN) from exc
    return bool(tag == 16)


def _verify_token(
    token_der: bytes, trusted_roots_pem: bytes | None, tsa_certificate_der: bytes | None
) -> _Verified:
    ci = cms.ContentInfo.load(token_der, strict=True)
    if ci["content_type"].dotted != _ID_SIGNED_DATA:
        raise TimestampError("the token is not a CMS SignedData",
                             reason=TimestampError.NOT_A_TOKEN)
    sd = ci["content"]
    encap = sd["encap_content_info"]
    if encap["content_type"].dotted != ID_CT_TST_INFO:
        raise TimestampError("the token's eContentType is not id-ct-TSTInfo (RFC 3161 §2.4.2)")
    if isinstance(encap["content"], core.Void):
        raise TimestampError("the token has no TSTInfo (eContent is absent)")
    tst_der = bytes(encap["content"])
    tst = tsp.TSTInfo.load(tst_der, strict=True)
    if tst["version"].native != "v1":
        raise TimestampError("the TSTInfo version is not 1")

    signer_infos = list(sd["signer_infos"])
    if len(signer_infos) != 1:
        # RFC 3161 §2.4.2: the token MUST NOT include any other signature than the TSA's.
        raise TimestampError(f"the token has {len(signer_infos)} signatures, not exactly one")
    si = signer_infos[0]

    in_token = [c.chosen.dump() for c in sd["certificates"] if c.name == "certificate"]
    pool = [*in_token, *([tsa_certificate_der] if tsa_certificate_der else [])]
    signer_der = _find_signer(si["sid"], pool)
    if signer_der is None:
        raise TimestampError(
            "the TSA certificate is neither in the token nor given: ask with certReq "
            "or pass tsa_certificate_der",
            reason=TimestampError.NO_CERTIFICATE,
        )
    signer = _load_cert(signer_der, "the TSA certificate")

    if isinstance(si["signed_attrs"], core.Void):
        raise TimestampError("the token's SignerInfo has no signed attributes")
    attrs = _attributes(si)
    md_oid = si["digest_algorithm"]["algorithm"].dotted
    md_name, md_class = _hash(md_oid, "the token's digest algorithm")

    content_type = _single(attrs, _ID_CONTENT_TYPE, "content-type")
    if cms.ContentType.load(content_type).dotted != ID_CT_TST_INFO:
        raise TimestampError("the content-type attribute is not id-ct-TSTInfo")
    message_digest = _single(attrs, _ID_MESSAGE_DIGEST, "message-digest")
    if cms.OctetString.load(message_digest).native != hashlib.new(md_name, tst_der).digest():
        raise TimestampError(
            "the message-digest attribute does not match the TSTInfo: the token was altered",
            reason=TimestampError.ALTERED,
        )

    # RFC 5652 §5.4: the signature covers the DER SET OF (tag 0x31), not the [0] form.
    contents = si["signed_attrs"].contents
    signed = b"\x31" + _der.length(len(contents)) + contents
    _check_signature(signer, si["signature_algorithm"], md_class, si["signature"].native, signed)
    _check_signing_certificate(attrs, signer_der)
    _check_tsa_certificate(signer)

    tsa_name = tst["tsa"]
    # RFC 3161 §2.4.2: the tsa hint "MUST correspond to one of the subject names" of the
    # certificate; only a directoryName can be compared without the SAN rules.
    if (
        not isinstance(tsa_name, core.Void)
        and tsa_name.name == "directory_name"
        and tsa_name.chosen != a_x509.Certificate.load(signer_der).subject
    ):
        raise TimestampError("the TSTInfo names another TSA than the certificate that signed it")

    gen_time: datetime = tst["gen_time"].native
    _check_valid_at(signer, gen_time)
    if trusted_roots_pem is not None:
        roots = _load_roots(trusted_roots_pem)
        others = [_load_cert(d, "a certificate in the token") for d in pool if d != signer_der]
        try:
            _check_chain(signer, others, roots, gen_time)
        except TimestampError as exc:
            raise TimestampError(exc.text, reason=TimestampError.UNTRUSTED) from exc

    imprint = tst["message_imprint"]
    imprint_alg = imprint["hash_algorithm"]["algorithm"].dotted
    imprint_name, _ = _hash(imprint_alg, "the message imprint")
    info = TokenInfo(
        serial=tst["serial_number"].native,
        gen_time=gen_time,
        policy=tst["policy"].dotted,
        hash_alg=imprint_name,
        imprint=imprint["hashed_message"].native,
        nonce=tst["nonce"].native,
        tsa_subject=signer.subject.rfc4514_string(),
        accuracy=_accuracy_text(tst["accuracy"].native),
    )
    return _Verified(info, imprint_alg, signer_der in in_token)


def _hash(oid: str, what: str) -> tuple[str, type[hashes.HashAlgorithm]]:
    found = _HASHES.get(oid)
    if found is None:
        weak = _WEAK.get(oid)
        if weak:
            raise TimestampError(f"{what} is {weak}, which is too weak to be trusted",
                                 reason=TimestampError.WEAK)
        raise TimestampError(f"{what} uses an unsupported hash algorithm ({oid})")
    return found


def _load_cert(der: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise TimestampError(f"{what} is not a DER X.509 certificate") from exc


def _load_roots(pem: bytes) -> list[x509.Certificate]:
    try:
        roots = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TimestampError(f"the trusted roots are not PEM certificates: {exc}",
                             reason=TimestampError.UNREADABLE) from exc
    return roots


def _find_signer(sid: Any, pool: Iterable[bytes]) -> bytes | None:
    """The certificate the SignerIdentifier names (issuerAndSerialNumber or SKI)."""
    for der in pool:
        cert = a_x509.Certificate.load(der)
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if cert.serial_number == ias["serial_number"].native and cert.issuer == ias["issuer"]:
                return der
        elif cert.key_identifier == sid.chosen.native:
            return der
    return None


def _attributes(si: Any) -> dict[str, list[bytes]]:
    """Signed attributes: OID -> DER values (each attribute type must appear once)."""
    out: dict[str, list[bytes]] = {}
    for attr in si["signed_attrs"]:
        oid = attr["type"].dotted
        if oid in out:
            # RFC 5652 §5.3: SignedAttributes MUST NOT include multiple instances of a type.
            raise TimestampError(f"the signed attribute {oid} appears twice")
        out[oid] = [v.dump() for v in attr["values"]]
    return out


def _single(attrs: dict[str, list[bytes]], oid: str, name: str) -> bytes:
    values = attrs.get(oid)
    if not values:
        raise TimestampError(f"the token has no {name} signed attribute")
    if len(values) != 1:
        raise TimestampError(f"the {name} attribute must have exactly one value")
    return values[0]


def _check_signature(
    cert: x509.Certificate,
    sig_alg: Any,
    digest_class: type[hashes.HashAlgorithm],
    signature: bytes,
    data: bytes,
) -> None:
    oid = sig_alg["algorithm"].dotted
    key = cert.public_key()
    try:
        if oid in (_RSA_ENCRYPTION, *_RSA_WITH) and isinstance(key, rsa.RSAPublicKey):
            h = _hash(_RSA_WITH[oid], "the signature hash")[1] if oid in _RSA_WITH else digest_class
            key.verify(signature, data, padding.PKCS1v15(), h())
        elif oid == _RSASSA_PSS and isinstance(key, rsa.RSAPublicKey):
            params = sig_alg["parameters"]
            h = _hash(params["hash_algorithm"]["algorithm"].dotted, "the PSS hash")[1]
            mgf = params["mask_gen_algorithm"]
            if mgf["algorithm"].dotted != "1.2.840.113549.1.1.8":
                raise TimestampError("the RSA-PSS signature uses a mask generation other than MGF1")
            mgf_h = _hash(mgf["parameters"]["algorithm"].dotted, "the PSS MGF1 hash")[1]
            pss = padding.PSS(mgf=padding.MGF1(mgf_h()), salt_length=params["salt_length"].native)
            key.verify(signature, data, pss, h())
        elif (oid == _EC_PUBLIC_KEY or oid in _ECDSA_WITH) and isinstance(
            key, ec.EllipticCurvePublicKey
        ):
            h = (
                _hash(_ECDSA_WITH[oid], "the signature hash")[1]
                if oid in _ECDSA_WITH
                else digest_class
            )
            key.verify(signature, data, ec.ECDSA(h()))
        else:
            raise TimestampError(
                f"unsupported signature algorithm {oid} for the TSA's "
                f"{type(key).__name__.removeprefix('_')} key"
            )
    except (InvalidSignature, UnsupportedAlgorithm, ValueError) as exc:
        raise TimestampError(
            "the token's signature does not verify with the TSA certificate's key: "
            "the token was altered or signed by another key",
            reason=TimestampError.SIGNATURE,
        ) from exc


def _check_signing_certificate(attrs: dict[str, list[bytes]], signer_der: bytes) -> None:
    """RFC 3161 §2.4.1 / RFC 5816: the ESS signing-certificate(-v2) attribute names the signer."""
    if _ID_SIGNING_CERTIFICATE_V2 in attrs:
        value = tsp.SigningCertificateV2.load(_single(attrs, _ID_SIGNING_CERTIFICATE_V2, "ESS"))
        first = value["certs"][0]
        hash_name, _ = _hash(first["hash_algorithm"]["algorithm"].dotted, "the ESSCertIDv2 hash")
    elif _ID_SIGNING_CERTIFICATE in attrs:
        value = tsp.SigningCertificate.load(_single(attrs, _ID_SIGNING_CERTIFICATE, "ESS"))
        first = value["certs"][0]
        hash_name = "sha1"  # ESSCertID: SHA-1 only identifies the certificate here
    else:
        raise TimestampError(
            "the token has no signing-certificate(-v2) attribute (RFC 3161 §2.4.1, RFC 5816)"
        )
    if first["cert_hash"].native != hashlib.new(hash_name, signer_der).digest():
        raise TimestampError(
            "the signing-certificate attribute names another certificate than the TSA's"
        )
    issuer_serial = first["issuer_serial"]
    if not isinstance(issuer_serial, core.Void):
        ours = a_x509.Certificate.load(signer_der)
        names = [n.chosen for n in issuer_serial["issuer"] if n.name == "directory_name"]
        if issuer_serial["serial_number"].native != ours.serial_number or not any(
            n == ours.issuer for n in names
        ):
            raise TimestampError(
                "the signing-certificate issuerSerial does not match the TSA certificate"
            )


def _check_tsa_certificate(cert: x509.Certificate) -> None:
    """RFC 3161 §2.3: the TSA certificate has one critical EKU, id-kp-timeStamping."""
    what = f"the TSA certificate {cert.subject.rfc4514_string()!r}"
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampError(f"{what} has no extendedKeyUsage (RFC 3161 §2.3)") from None
    except ValueError as exc:
        raise TimestampError(f"{what} has malformed extensions: {exc}") from exc
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TimestampError(
            f"{what} is not a TSA certificate: RFC 3161 §2.3 requires a critical "
            "extendedKeyUsage with id-kp-timeStamping only"
        )


def _check_valid_at(cert: x509.Certificate, moment: datetime) -> None:
    if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        raise TimestampError(
            f"certificate {cert.subject.rfc4514_string()!r} is valid from "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} to "
            f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC, not at the token's time "
            f"{moment:%Y-%m-%d %H:%M:%S} UTC"
        )


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _check_ca(cert: x509.Certificate, below: int) -> None:
    """``cert`` may issue certificates, with ``below`` intermediate CAs under it."""
    what = f"certificate {cert.subject.rfc4514_string()!r}"
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise TimestampError(f"{what} issues certificates but is not a CA") from None
    if not bc.ca:
        raise TimestampError(f"{what} issues certificates but is not a CA (CA:FALSE)")
    if bc.path_length is not None and below > bc.path_length:
        raise TimestampError(f"{what} allows {bc.path_length} CAs below it, the path has {below}")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise TimestampError(f"{what} is not allowed to sign certificates (keyUsage)")


def _check_chain(
    leaf: x509.Certificate,
    pool: list[x509.Certificate],
    roots: list[x509.Certificate],
    at: datetime,
) -> None:
    """Walk issuer links from ``leaf`` to one of ``roots``, all valid at ``at``.

    cryptography's ``x509.verification`` applies Web PKI (TLS) rules and only
    offers server and client verifiers, so the walk is done here: issuer name,
    issuer signature, CA basicConstraints with pathLen, keyUsage, validity.
    """
    if not roots:
        raise TimestampError("no trusted root certificates were given")
    current, path = leaf, [leaf]
    for depth in range(_MAX_CHAIN):
        if any(current == root for root in roots):
            return  # the TSA certificate itself is trusted directly
        for root in roots:
            if _issued_by(current, root):
                _check_ca(root, depth)
                _check_valid_at(root, at)
                return
        issuer = next((c for c in pool if c not in path and _issued_by(current, c)), None)
        if issuer is None:
            raise TimestampError(
                f"certificate {current.subject.rfc4514_string()!r} does not chain to a trusted "
                f"root: its issuer {current.issuer.rfc4514_string()!r} is neither a trusted "
                "root nor a certificate in the token"
            )
        _check_ca(issuer, depth)
        _check_valid_at(issuer, at)
        path.append(issuer)
        current = issuer
    raise TimestampError(f"the certificate chain is longer than {_MAX_CHAIN}")


def _accuracy_text(accuracy: dict[str, int | None] | None) -> str | None:
    if not accuracy:
        return None
    micros = (
        (accuracy.get("seconds") or 0) * 1_000_000
        + (accuracy.get("millis") or 0) * 1_000
        + (accuracy.get("micros") or 0)
    )
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{seconds}.{fraction:06d}".rstrip("0").rstrip(".") + "s"


# --- the TSA's side: requests in (strict, hand-decoded) ------------------------------
#
# ``parse_request`` reads a DER TimeStampReq strictly (X.690 DER, hand-decoded: it must
# answer arbitrary bytes with a ``Rejection`` and nothing else, and it is on the TSA's
# per-request path). Refusals are not kyso errors: ``Rejection`` carries an RFC 3161
# PKIFailureInfo, and transports answer it with ``rejection_response`` (a
# TimeStampResp with status rejection), never with a gRPC or HTTP error.

class RequestPolicy(Protocol):
    """What ``parse_request`` needs of a TSA's policy (``tsa.token.TsaPolicy``)."""

    @property
    def default_policy(self) -> str: ...

    @property
    def accepted_policies(self) -> AbstractSet[str]: ...


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


def parse_request(der: bytes, policy: RequestPolicy) -> ParsedRequest:
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
    if tag != _der.SEQUENCE:
        raise _Malformed("not a SEQUENCE")
    if body_end != end:
        raise _Malformed(f"{end - body_end} bytes after the request")

    tag, s, e = _read(der, pos, body_end)  # version
    if tag != _der.INTEGER or _decode_int(der[s:e]) != 1:
        raise _Malformed("version must be v1 (1)")
    pos = e

    # messageImprint SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }
    tag, s, mi_end = _read(der, pos, body_end)
    if tag != _der.SEQUENCE:
        raise _Malformed("messageImprint is not a SEQUENCE")
    mi_der = der[pos:mi_end]
    tag, a_s, a_e = _read(der, s, mi_end)
    if tag != _der.SEQUENCE:
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
    if tag != _der.OCTET_STRING or h_e != mi_end:
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
            if tag == _der.SEQUENCE and t == _der.OID:
                ids.append(_decode_oid(der[o_s:o_e]))
            pos = e
    except _Malformed:
        pass
    return ids


# --- the TSA's side: responses out (hand-encoded) -------------------------------------


_STATUS_GRANTED = _der.seq(_der.integer(0))  # PKIStatusInfo { status granted }
_STATUS_REJECTION = _der.integer(2)


def _failure_bits(failure: FailureInfo) -> bytes:
    """PKIFailureInfo BIT STRING with one named bit set.

    X.690 §11.2.2: a named bit list drops trailing zero bits, so the string ends
    at the set bit: bit n → n // 8 + 1 octets, 7 - n % 8 unused bits.
    """
    n = failure.value
    octets = bytearray(n // 8 + 1)
    octets[-1] = 0x80 >> (n % 8)
    return _der.tlv(_der.BIT_STRING, bytes((7 - n % 8,)) + bytes(octets))


def rejection_response(failure: FailureInfo, text: str) -> bytes:
    """DER TimeStampResp { status rejection (2), statusString { text }, failInfo }."""
    # PKIFreeText: SEQUENCE OF UTF8String
    status_string = _der.seq(_der.tlv(0x0C, text.encode("utf-8")))
    return _der.seq(_der.seq(_STATUS_REJECTION, status_string, _failure_bits(failure)))


def granted_response(token_der: bytes) -> bytes:
    """DER TimeStampResp { status granted (0), timeStampToken } around a DER ContentInfo."""
    return _der.tlv(_der.SEQUENCE, _STATUS_GRANTED + token_der)


_TST_VERSION = _der.integer(1)


def message_imprint(req: ParsedRequest) -> bytes:
    """The request's MessageImprint as it came (RFC 3161 §2.4.2: the TSTInfo repeats it),
    or encoded canonically for a request made without DER."""
    return req.message_imprint_der or _der.seq(
        _der.digest_algorithm(req.hash_alg), _der.tlv(_der.OCTET_STRING, req.imprint)
    )


def encode_tst_info(
    req: ParsedRequest, *, policy_der: bytes, serial: int, gen_time: datetime,
    accuracy_der: bytes, tsa_name_der: bytes,
) -> bytes:
    """DER TSTInfo { version 1, policy, messageImprint, serialNumber, genTime, accuracy?,
    nonce?, tsa [0] } granting ``req``.

    The per-request path of the TSA, hand-encoded (asn1crypto is ~27x slower, docs/limits.md):
    ``policy_der`` (an encoded OID), ``accuracy_der`` (``encode_accuracy``, empty for none)
    and ``tsa_name_der`` (``encode_tsa_name``) are encoded once per TSA key. ``serial``
    must be positive and at most 160 bits (RFC 3161 §2.4.2); ``gen_time`` timezone-aware,
    its microseconds kept.
    """
    if not 0 < serial < 1 << 160:
        raise ValueError("a TSTInfo serialNumber must be positive and at most 160 bits")
    return _der.tlv(
        _der.SEQUENCE,
        _TST_VERSION
        + policy_der
        + message_imprint(req)
        + _der.integer(serial)
        + _der.generalized_time(gen_time)
        + accuracy_der
        # ordering FALSE is the DEFAULT: DER omits it (X.690 §11.5).
        # RFC 3161 §2.4.2: the nonce must be echoed when the request had one.
        + (b"" if req.nonce is None else _der.integer(req.nonce))
        + tsa_name_der,
    )


def encode_tsa_name(subject_der: bytes) -> bytes:
    """TSTInfo's tsa [0] GeneralName: directoryName [4] of the TSA certificate's subject.

    RFC 3161 §2.4.2: a hint that "MUST correspond to one of the subject names" of the
    certificate; given as the subject, so a token issued without certReq still names its
    TSA (OpenSSL's tsa_name = yes does the same). [0] and [4] are explicit: GeneralName
    and Name are CHOICEs."""
    return _der.tlv(0xA0, _der.tlv(0xA4, subject_der))


def encode_accuracy(ms: int) -> bytes:
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
    return _der.seq(parts)


# Public name for callers that read responses themselves (rejections included).
TimeStampResp = _TimeStampResp
