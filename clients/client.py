"""gRPC client for the kyso signer and registry services."""

from __future__ import annotations

import contextlib
import enum
import errno
import hashlib
import ipaddress
import json
import logging
import os
import socket
import stat
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import grpc

from kyso.common.v1 import common_pb2
from kyso.registry.v1 import (
    clients_pb2,
    clients_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    reports_pb2,
    reports_pb2_grpc,
)
from kyso.signer.v1 import signer_pb2, signer_pb2_grpc
from kyso.tsa.v1 import tsa_pb2, tsa_pb2_grpc
from signer.errors import RemoteError

if TYPE_CHECKING:  # the codec is imported when a timestamp is asked for
    from signer.formats.tsp import TokenInfo

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "127.0.0.1:50051"
CHUNK = 1 << 20  # hashing reads 1 MiB at a time: constant memory for any file size

HASHES = {
    "sha256": common_pb2.HASH_ALGORITHM_SHA256,
    "sha384": common_pb2.HASH_ALGORITHM_SHA384,
    "sha512": common_pb2.HASH_ALGORITHM_SHA512,
}
KEY_ALGORITHMS = {
    "rsa-2048": common_pb2.KEY_ALGORITHM_RSA_2048,
    "rsa-3072": common_pb2.KEY_ALGORITHM_RSA_3072,
    "rsa-4096": common_pb2.KEY_ALGORITHM_RSA_4096,
    "ec-p256": common_pb2.KEY_ALGORITHM_EC_P256,
    "ec-p384": common_pb2.KEY_ALGORITHM_EC_P384,
}
SCHEMES = {
    "pkcs1v15": common_pb2.SIGNATURE_SCHEME_RSA_PKCS1V15,
    "pss": common_pb2.SIGNATURE_SCHEME_RSA_PSS,
    "ecdsa": common_pb2.SIGNATURE_SCHEME_ECDSA,
}


class Status(enum.StrEnum):
    """A gRPC status name. A ``str``: ``exc.code == "NOT_FOUND"`` holds as before."""

    OK = "OK"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    INTERNAL = "INTERNAL"
    UNAVAILABLE = "UNAVAILABLE"
    DATA_LOSS = "DATA_LOSS"
    UNAUTHENTICATED = "UNAUTHENTICATED"


class KysoClientError(RemoteError):
    """A call failed; ``code`` is the gRPC status (a ``Status``), ``message`` the server's
    words. Raised as the subclass of its status (``NotFound``, ``PermissionDenied`` …),
    so that a caller catches the kinds it handles; ``diagnostics()`` says it all, with
    what to do, for a log or a person.

    ``message_code`` and ``message_params``, when the server sent them, name the refusal in
    ``signer.catalogue`` (so that it can be said in the reader's language), and
    ``message_detail`` is the underlying library's words. ``unreachable``: no server
    answered at all (``endpoint``). A ``signer.errors.RemoteError``: shared code (the PAdES
    signer) recognises it by class."""

    #: What to do about an error of this kind (``diagnostics``).
    hint = "see the message"

    def __init__(self, code: str, message: str, *, message_code: str = "",
                 message_params: dict[str, str] | None = None, message_detail: str = "",
                 unreachable: bool = False, endpoint: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code: Status | str = Status(code) if code in Status.__members__ else code
        self.message = message
        self.message_code = message_code
        self.message_params = dict(message_params or {})
        self.message_detail = message_detail
        self.unreachable = unreachable
        self.endpoint = endpoint

    @classmethod
    def of(cls, code: str, message: str, **kw: Any) -> KysoClientError:
        """The error of status ``code``, as the subclass of that status."""
        kind = _ERRORS.get(code, cls) if cls is KysoClientError else cls
        return kind(code, message, **kw)

    def diagnostics(self) -> str:
        """Everything known about the failure, in lines a person can act on."""
        where = f" from kyso at {self.endpoint}" if self.endpoint else ""
        lines = [f"{self.code}{where}: {self.message}"]
        if self.message_code:
            params = ", ".join(f"{k}={v}" for k, v in sorted(self.message_params.items()))
            lines.append(f"  catalogue code: {self.message_code}"
                         + (f" ({params})" if params else ""))
        if self.message_detail:
            lines.append(f"  detail: {self.message_detail}")
        hint = ("start the server, or point KYSO_ENDPOINT (--server) at it"
                if self.unreachable else self.hint)
        lines.append(f"  what to do: {hint}")
        return "\n".join(lines)


class InvalidArgument(KysoClientError):
    hint = "the request is wrong: correct what the message names and send it again"


class NotFound(KysoClientError):
    hint = "check the agency code or key id (`kyso admin agency list`, `kyso admin key list`)"


class AlreadyExists(KysoClientError):
    hint = "it exists already: use it, or pick another code or name"


class Unauthenticated(KysoClientError):
    hint = ("check the token (KYSO_TOKEN, --token) or client certificate: it may be "
            "revoked; a key-admin issues a new one with `kyso admin client token NAME`")


class PermissionDenied(KysoClientError):
    hint = ("these credentials lack the role for this agency: a key-admin grants it with "
            "`kyso admin client grant NAME ROLE@CODE`")


class FailedPrecondition(KysoClientError):
    hint = "the agency, key or certificate is not usable now: the message says why"


class ResourceExhausted(KysoClientError):
    hint = "send less per call (smaller batches or files), or slower"


class DeadlineExceeded(KysoClientError):
    hint = "the call took longer than its deadline: raise the timeout, or retry"


class Unavailable(KysoClientError):
    hint = "the server or its HSM or database is away: retry in a moment"


class Aborted(KysoClientError):
    hint = "something changed while the request ran (e.g. a key rotation): send it again"


class Internal(KysoClientError):
    hint = "a fault in kyso: give the operators the incident id in the message"


_ERRORS: dict[str, type[KysoClientError]] = {
    "INVALID_ARGUMENT": InvalidArgument,
    "OUT_OF_RANGE": InvalidArgument,
    "NOT_FOUND": NotFound,
    "ALREADY_EXISTS": AlreadyExists,
    "UNAUTHENTICATED": Unauthenticated,
    "PERMISSION_DENIED": PermissionDenied,
    "FAILED_PRECONDITION": FailedPrecondition,
    "RESOURCE_EXHAUSTED": ResourceExhausted,
    "DEADLINE_EXCEEDED": DeadlineExceeded,
    "UNAVAILABLE": Unavailable,
    "ABORTED": Aborted,
    "INTERNAL": Internal,
    "UNKNOWN": Internal,
    "DATA_LOSS": Internal,
}


MESSAGE_KEY = "kyso-message-bin"  # signer.runtime.interceptors: a refusal's catalogue code


def _catalogue_code(exc: grpc.RpcError) -> tuple[str, dict[str, str], str]:
    """The catalogue code, parameters and detail a server put in the trailing metadata."""
    try:
        for key, value in exc.trailing_metadata() or ():
            if key == MESSAGE_KEY:
                body = json.loads(bytes(value).decode())
                params = {str(k): str(v) for k, v in dict(body.get("params") or {}).items()}
                return str(body.get("code", "")), params, str(body.get("detail", ""))
    except (AttributeError, TypeError, ValueError):  # no metadata, or not ours
        pass
    return "", {}, ""


@dataclass(frozen=True, slots=True)
class Limits:
    """A node's limits (``KysoClient.limits``)."""

    max_batch: int  # digests per SignDigests call
    max_message_bytes: int  # per gRPC message, each way


@dataclass(frozen=True, slots=True)
class SignedDigest:
    reference: str
    signature: bytes


def hash_file(path: str | os.PathLike[str] | BinaryIO, alg: str = "sha256") -> bytes:
    """Hash a file of any size in constant memory."""
    if alg not in HASHES:
        raise ValueError(f"unsupported hash {alg!r}: use one of {', '.join(HASHES)}")
    h = hashlib.new(alg)
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as f:
            return _hash_stream(h, f)
    return _hash_stream(h, path)


def _hash_stream(h: Any, f: BinaryIO) -> bytes:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while n := f.readinto(buf):  # type: ignore[attr-defined]
        h.update(view[:n])
    return h.digest()  # type: ignore[no-any-return]


# Every call: round-robin over the endpoints' addresses; UNAVAILABLE (a node down,
# draining, or without its HSM/database) is retried on the next one with backoff,
# within the call's deadline. Signing and timestamp requests carry an idempotency
# key, so a retry of a request the first node did complete returns its reply.
SERVICE_CONFIG = json.dumps({
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [{
        "name": [{}],
        "retryPolicy": {
            "maxAttempts": 5,
            "initialBackoff": "0.1s",
            "maxBackoff": "2s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        },
    }],
})


def channel_target(endpoint: str) -> tuple[str, list[tuple[str, Any]]]:
    """The gRPC target and options for ``endpoint``: ``host:port``, or several
    separated by commas (each host's addresses are resolved now; a DNS name with
    several addresses is balanced over them too)."""
    options: list[tuple[str, Any]] = [("grpc.service_config", SERVICE_CONFIG),
                                      ("grpc.enable_retries", 1)]
    parts = [p.strip() for p in endpoint.split(",") if p.strip()]
    if len(parts) <= 1:
        return endpoint.strip(), options
    addresses: list[str] = []
    for part in parts:
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"endpoint {part!r} must be host:port")
        try:
            infos = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ValueError(f"cannot resolve {host!r}: {exc}") from None
        for family, _, _, _, addr in infos:
            ip, aport = cast(tuple[str, int], addr[:2])
            a = f"[{ip}]:{aport}" if family == socket.AF_INET6 else f"{ip}:{aport}"
            if a not in addresses:
                addresses.append(a)
    # A static address list; TLS checks the server certificate against the first host.
    options.append(("grpc.default_authority", parts[0]))
    v4 = [a for a in addresses if not a.startswith("[")]
    if v4:  # one scheme per target: IPv4 when there is any
        return "ipv4:" + ",".join(v4), options
    return "ipv6:" + ",".join(addresses), options


# -- no bearer token in clear text off loopback ----------------------------------
# A token sent over plaintext gRPC can be read by anyone on the network path and
# used until it is revoked. In clear, a token goes only to loopback addresses (the
# demo, a sidecar); anything else needs TLS or an explicit ``insecure=True``.


class PlaintextTokenError(ValueError):
    """A bearer token would travel in clear text to a server that is not on loopback.

    ``endpoint`` is what was asked for; ``offenders`` says, per host, why it is not
    known to be loopback (an address, or a name that does not resolve)."""

    def __init__(self, endpoint: str, offenders: Sequence[str]) -> None:
        self.endpoint = endpoint
        self.offenders = tuple(offenders)
        super().__init__(
            f"refusing to send the bearer token in clear text to {endpoint}: "
            f"{'; '.join(self.offenders)}. Anyone on the network path could read the token "
            "and act as this client. Connect with TLS (root_certificates=<PEM of the CA that "
            "issued the server's certificate>), or, only on a network you trust, pass "
            "insecure=True."
        )


def _loopback_ip(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _host_port(part: str) -> tuple[str, int]:
    host, sep, port = part.rpartition(":")
    if not sep or (host and not host.endswith("]") and ":" in host):
        host, port = part, "443"  # gRPC's default port; a bare IPv6 literal has no port
    if not port.isdigit():
        raise ValueError(f"endpoint {part!r} must be host:port")
    return host.strip("[]"), int(port)


def plaintext_check(endpoint: str) -> tuple[str | None, list[str]]:
    """Where a plaintext channel to ``endpoint`` would really go.

    Returns ``(target, offenders)``. With no offenders every host of every endpoint
    (``a:1,b:2``) is a loopback address, or a name whose addresses are all loopback,
    and ``target`` is a gRPC target naming exactly the addresses checked, so the
    channel cannot resolve a name again and land elsewhere (DNS rebinding). Otherwise
    ``offenders`` says which host is not loopback or could not be checked."""
    stripped = endpoint.strip()
    if stripped.startswith(("unix:", "unix-abstract:")):
        return stripped, []  # a local socket never leaves the machine
    if ":///" in stripped or stripped.startswith(("ipv4:", "ipv6:", "dns:", "xds:")):
        return None, [f"{stripped!r} is a gRPC target this check cannot read: "
                      "give host:port"]
    parts = [p.strip() for p in stripped.split(",") if p.strip()]
    if not parts:
        return None, ["no endpoint given"]
    offenders: list[str] = []
    addresses: list[str] = []
    for part in parts:
        try:
            host, port = _host_port(part)
        except ValueError as exc:
            offenders.append(str(exc))
            continue
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            offenders.append(f"{host} does not resolve ({exc}), so it cannot be checked")
            continue
        remote = []
        for family, _, _, _, addr in infos:
            ip, aport = cast(tuple[str, int], addr[:2])
            if not _loopback_ip(ip):
                remote.append(ip)
                continue
            a = f"[{ip}]:{aport}" if family == socket.AF_INET6 else f"{ip}:{aport}"
            if a not in addresses:
                addresses.append(a)
        if remote:
            shown = ", ".join(dict.fromkeys(remote))
            offenders.append(f"{host} is not a loopback address" if shown == host
                             else f"{host} resolves to {shown}, which is not loopback")
    if offenders:
        return None, offenders
    v4 = [a for a in addresses if not a.startswith("[")]
    return ("ipv4:" + ",".join(v4)) if v4 else ("ipv6:" + ",".join(addresses)), []


def _file_from_environment(value: bytes | None, variable: str) -> bytes | None:
    """``value`` when given, else the contents of the file ``variable`` names."""
    if value is not None:
        return value
    path = os.environ.get(variable)
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"{variable} names {path}, which cannot be read: "
                         f"{exc.strerror}") from None


def token_from_environment() -> str | None:
    """The bearer token the environment names: ``KYSO_TOKEN``, else the contents of the
    file ``KYSO_TOKEN_FILE`` (both set and different: ``ValueError``)."""
    token = os.environ.get("KYSO_TOKEN") or None
    content = _file_from_environment(None, "KYSO_TOKEN_FILE")
    from_file = (content.decode().strip() or None) if content is not None else None
    if token is not None and from_file is not None and token != from_file:
        raise ValueError("KYSO_TOKEN and KYSO_TOKEN_FILE name two different bearer tokens; "
                         "unset one")
    return token or from_file


class KysoClient:
    """A connection to one kyso server (or several, comma-separated).

    Like the ``kyso`` command, it reads what is not given from the environment:
    ``KYSO_ENDPOINT``, ``KYSO_TOKEN`` or ``KYSO_TOKEN_FILE``, ``KYSO_TLS_CA``,
    ``KYSO_TLS_CERT`` and ``KYSO_TLS_KEY`` (file paths); an argument always wins, and
    ``token=""`` means "no token" whatever the environment says.

    >>> import os; os.environ["KYSO_TOKEN"] = open("var/demo-admin.token").read().strip()
    >>> with KysoClient() as c:  # KYSO_ENDPOINT, else 127.0.0.1:50051
    ...     sig = c.sign_cms_file("README.md", agency="000.00.00.H13")
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        timeout: float = 30.0,
        root_certificates: bytes | None = None,
        token: str | None = None,
        client_certificate: bytes | None = None,
        client_key: bytes | None = None,
        insecure: bool = False,
    ) -> None:
        """``token`` goes in clear text only to loopback addresses: off loopback, give
        ``root_certificates`` (TLS), or ``insecure=True`` on a network you trust (a
        warning is logged). Otherwise ``PlaintextTokenError`` (a ``ValueError``) is
        raised before any connection is made."""
        if endpoint is None:
            endpoint = os.environ.get("KYSO_ENDPOINT") or DEFAULT_ENDPOINT
        token = token_from_environment() if token is None else (token or None)
        root_certificates = _file_from_environment(root_certificates, "KYSO_TLS_CA")
        client_certificate = _file_from_environment(client_certificate, "KYSO_TLS_CERT")
        client_key = _file_from_environment(client_key, "KYSO_TLS_KEY")
        self.endpoint = endpoint
        self.timeout = timeout
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        tls = root_certificates is not None or client_certificate is not None
        pinned: str | None = None
        if token and not tls:
            pinned, offenders = plaintext_check(endpoint)
            if offenders and not insecure:
                raise PlaintextTokenError(endpoint, offenders)
            if offenders:
                log.warning(
                    "sending the bearer token in clear text to %s (%s) because insecure was "
                    "asked for: anyone on the network path can read it and act as this "
                    "client until the token is revoked; use TLS unless this network is "
                    "trusted", endpoint, "; ".join(offenders))
        target, options = channel_target(endpoint)
        if pinned is not None:
            target = pinned  # exactly the loopback addresses checked above
            if "," not in endpoint:
                options.append(("grpc.default_authority", endpoint.strip()))
        if tls:
            creds = grpc.ssl_channel_credentials(
                root_certificates=root_certificates,
                private_key=client_key,
                certificate_chain=client_certificate,
            )
            self._channel = grpc.secure_channel(target, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._signer = signer_pb2_grpc.SignerServiceStub(self._channel)
        self._registry = registry_pb2_grpc.RegistryServiceStub(self._channel)
        self._tsa = tsa_pb2_grpc.TimestampServiceStub(self._channel)
        self._clients = clients_pb2_grpc.ClientServiceStub(self._channel)
        self._limits: Limits | None = None
        self._reports = reports_pb2_grpc.ReportServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> KysoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            code = exc.code()
            details = exc.details() or ""
            # Only transport failures are rewritten; a server's own UNAVAILABLE (HSM,
            # database or timestamp authority away) keeps its message.
            transport = not details.strip() or details.startswith(
                ("failed to connect to all addresses", "DNS resolution failed",
                 "connections to all backends failing")  # the last: an ipv4:/ipv6: list
            )
            unreachable = code == grpc.StatusCode.UNAVAILABLE and transport
            if unreachable:
                details = (f"cannot reach kyso at {self.endpoint}: is the server running? "
                           f"({details.strip() or 'no answer'})")
            msg_code, params, detail = _catalogue_code(exc)
            raise KysoClientError.of(code.name, details, message_code=msg_code,
                                     message_params=params, message_detail=detail,
                                     unreachable=unreachable, endpoint=self.endpoint) from None

    # -- signing ------------------------------------------------------------

    def sign_digests(
        self,
        agency: str,
        digests: Sequence[bytes],
        *,
        document_type: str = "",
        document_number: str = "",
        hash_alg: str = "sha256",
        cms: bool = False,
        scheme: str | None = None,
        references: Sequence[str] | None = None,
        timestamp: bool = False,
        idempotency_key: str | None = None,
    ) -> signer_pb2.SignDigestsResponse:
        """Sign digests; the response carries the signer certificate and chain, and one
        signature per digest, in order.

        More digests than the node takes in one call (``limits().max_batch``) are sent
        in several calls, transparently; the parts must all be signed by the same key
        (a key rotated in between raises ``Aborted``: sign again). With ``cms`` and
        ``timestamp`` the signatures are CAdES-B-T; each ``SignedDigest.level`` says
        which level was reached. Each call carries an idempotency key (derived from
        ``idempotency_key`` when given, else fresh): retries of it, automatic or yours
        with the same key, return the first reply and sign nothing twice.
        """
        if hash_alg not in HASHES:
            raise ValueError(f"unsupported hash {hash_alg!r}: use one of {', '.join(HASHES)}")
        if isinstance(digests, (bytes, bytearray)):
            raise TypeError("digests is a list of digests: pass [digest], not the digest itself")
        refs = references or [""] * len(digests)
        if len(refs) != len(digests):
            raise ValueError(f"{len(digests)} digests but {len(refs)} references: give one "
                             "reference per digest, or none")
        if scheme is not None and scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}: use one of {', '.join(SCHEMES)}")
        key = idempotency_key or uuid.uuid4().hex
        size = self.limits().max_batch if len(digests) > 1 else 1
        if len(digests) > size:
            parts = [self.sign_digests(
                agency, digests[i:i + size], document_type=document_type,
                document_number=document_number, hash_alg=hash_alg, cms=cms, scheme=scheme,
                references=refs[i:i + size], timestamp=timestamp,
                idempotency_key=f"{key[:100]}.{i // size}")
                for i in range(0, len(digests), size)]
            if len({p.key_id for p in parts}) != 1:
                raise Aborted(
                    "ABORTED", f"agency {agency}'s key changed while the batch was signed in "
                    f"{len(parts)} parts: sign it again (every part is signed and recorded)")
            merged = signer_pb2.SignDigestsResponse()
            merged.CopyFrom(parts[0])
            for p in parts[1:]:
                merged.signatures.extend(p.signatures)
            return merged
        req = signer_pb2.SignDigestsRequest(
            agency_code=agency,
            digests=[
                signer_pb2.DigestToSign(
                    digest=d, hash_algorithm=HASHES[hash_alg], reference=r,
                    document_type=document_type, document_number=document_number,
                )
                for d, r in zip(digests, refs, strict=True)
            ],
            format=signer_pb2.OUTPUT_FORMAT_CMS if cms else signer_pb2.OUTPUT_FORMAT_RAW,
            scheme=SCHEMES[scheme] if scheme else common_pb2.SIGNATURE_SCHEME_UNSPECIFIED,
            level=signer_pb2.CADES_LEVEL_B_T if timestamp else signer_pb2.CADES_LEVEL_UNSPECIFIED,
            idempotency_key=key,
        )
        resp: signer_pb2.SignDigestsResponse = self._call(self._signer.SignDigests, req)
        return resp

    def limits(self) -> Limits:
        """The node's limits, asked once per client (a server older than GetLimits:
        no known batch limit)."""
        if self._limits is None:
            try:
                r = self._call(self._signer.GetLimits, signer_pb2.GetLimitsRequest())
                self._limits = Limits(r.max_batch or 1_000_000, r.max_message_bytes)
            except KysoClientError as exc:
                if exc.code != "UNIMPLEMENTED":
                    raise
                self._limits = Limits(1_000_000, 0)
        return self._limits

    def sign_cms_file(
        self, path: str | os.PathLike[str], *, agency: str, hash_alg: str = "sha256"
    ) -> bytes:
        """Detached CAdES-B-B signature (DER) of a file hashed locally."""
        digest = hash_file(path, hash_alg)
        resp = self.sign_digests(agency, [digest], hash_alg=hash_alg, cms=True)
        return bytes(resp.signatures[0].signature)

    def signing_certificate(self, agency: str) -> signer_pb2.GetSigningCertificateResponse:
        resp: signer_pb2.GetSigningCertificateResponse = self._call(
            self._signer.GetSigningCertificate,
            signer_pb2.GetSigningCertificateRequest(agency_code=agency),
        )
        return resp

    # -- timestamps ---------------------------------------------------------

    def timestamp(self, request_der: bytes, *, idempotency_key: str | None = None) -> bytes:
        """Send a DER TimeStampReq over gRPC; return the DER TimeStampResp (one token
        however often the call is retried: see ``sign_digests``)."""
        resp: tsa_pb2.TimestampResponse = self._call(
            self._tsa.Timestamp, tsa_pb2.TimestampRequest(
                time_stamp_req=request_der, idempotency_key=idempotency_key or uuid.uuid4().hex)
        )
        return bytes(resp.time_stamp_resp)

    def timestamp_file(self, path: str | os.PathLike[str], *, hash_alg: str = "sha256",
                       url: str | None = None, policy: str | None = None) -> bytes:
        """An RFC 3161 timestamp of a file hashed here: the DER TimeStampResp, asked of
        kyso over gRPC (or of the TSA at ``url`` over HTTP), checked by
        ``timestamp_checked``."""
        send = ((lambda req: post_timestamp_query(url, req, self.timeout)) if url
                else self.timestamp)
        return timestamp_checked(path, send, hash_alg=hash_alg, policy=policy)[0]

    # -- statistics ---------------------------------------------------------

    def monthly_report(self, month: str, agency: str = "") -> reports_pb2.MonthlyReportResponse:
        resp: reports_pb2.MonthlyReportResponse = self._call(
            self._reports.MonthlyReport,
            reports_pb2.MonthlyReportRequest(month=month, agency_code=agency))
        return resp

    # -- clients and grants -------------------------------------------------

    def create_client(
        self, name: str, *, kind: str = "system", certificate: bytes = b"",
        no_token: bool = False, grants: Sequence[tuple[str, str, bool]] = (),
    ) -> clients_pb2.CreateClientResponse:
        req = clients_pb2.CreateClientRequest(
            name=name, kind=kind, certificate=certificate, no_token=no_token,
            grants=[clients_pb2.RoleGrant(role=r, scope=s, subtree=t) for r, s, t in grants],
        )
        resp: clients_pb2.CreateClientResponse = self._call(self._clients.CreateClient, req)
        return resp

    def list_clients(self) -> list[clients_pb2.Client]:
        resp = self._call(self._clients.ListClients, clients_pb2.ListClientsRequest())
        return list(resp.clients)

    def revoke_client(self, name: str) -> clients_pb2.Client:
        c: clients_pb2.Client = self._call(
            self._clients.RevokeClient, clients_pb2.ClientRef(name=name))
        return c

    def replace_token(self, name: str) -> clients_pb2.CreateClientResponse:
        resp: clients_pb2.CreateClientResponse = self._call(
            self._clients.ReplaceToken, clients_pb2.ClientRef(name=name))
        return resp

    def grant_role(self, name: str, role: str, scope: str = "",
                   subtree: bool = False, *, revoke: bool = False) -> clients_pb2.Client:
        req = clients_pb2.GrantRoleRequest(
            name=name, grant=clients_pb2.RoleGrant(role=role, scope=scope, subtree=subtree))
        method = self._clients.RevokeRole if revoke else self._clients.GrantRole
        c: clients_pb2.Client = self._call(method, req)
        return c

    def whoami(self) -> clients_pb2.Client:
        c: clients_pb2.Client = self._call(self._clients.WhoAmI, clients_pb2.WhoAmIRequest())
        return c

    # -- registry -----------------------------------------------------------

    def create_agency(self, code: str, name: str) -> registry_pb2.Agency:
        agency: registry_pb2.Agency = self._call(
            self._registry.CreateAgency, registry_pb2.CreateAgencyRequest(code=code, name=name)
        )
        return agency

    def get_agency(self, code: str) -> registry_pb2.Agency:
        agency: registry_pb2.Agency = self._call(
            self._registry.GetAgency, registry_pb2.GetAgencyRequest(code=code)
        )
        return agency

    def list_agencies(self) -> list[registry_pb2.Agency]:
        resp = self._call(self._registry.ListAgencies, registry_pb2.ListAgenciesRequest())
        return list(resp.agencies)

    def generate_key(
        self, agency: str, algorithm: str = "rsa-2048", scheme: str | None = None
    ) -> registry_pb2.Key:
        if algorithm not in KEY_ALGORITHMS:
            raise ValueError(f"unsupported key algorithm {algorithm!r}")
        req = registry_pb2.GenerateKeyRequest(
            agency_code=agency,
            algorithm=KEY_ALGORITHMS[algorithm],
            scheme=SCHEMES[scheme] if scheme else common_pb2.SIGNATURE_SCHEME_UNSPECIFIED,
        )
        key: registry_pb2.Key = self._call(self._registry.GenerateKey, req)
        return key

    def issue_dev_certificate(
        self, agency: str, key_id: str = "", validity_days: int = 365
    ) -> registry_pb2.Key:
        req = registry_pb2.IssueDevCertificateRequest(
            agency_code=agency, key_id=key_id, validity_days=validity_days
        )
        key: registry_pb2.Key = self._call(self._registry.IssueDevCertificate, req)
        return key

    def ca_certificate(self) -> bytes:
        resp = self._call(self._registry.GetCaCertificate, registry_pb2.GetCaCertificateRequest())
        return bytes(resp.der)

    # -- key and certificate lifecycle, seal images (kyso.registry.v1.KeyService) --------
    # Messages are kyso.registry.v1.keys_pb2 types; imported here to keep this block whole.

    def _key_service(self) -> Any:
        from kyso.registry.v1 import keys_pb2_grpc

        stub = self.__dict__.get("_keys_stub")
        if stub is None:
            make: Any = keys_pb2_grpc.KeyServiceStub  # generated code is untyped
            stub = self.__dict__["_keys_stub"] = make(self._channel)
        return stub

    def create_csr(
        self, agency: str, key_id: str = "", subject: dict[str, str] | None = None
    ) -> Any:
        """A PKCS#10 request (``csr_der``) signed in the HSM; ``subject`` overrides the
        agency-derived subject (CN, O, OU, L, ST, C, UID; "" removes an attribute)."""
        from kyso.registry.v1 import keys_pb2

        req = keys_pb2.CreateCsrRequest(agency_code=agency, key_id=key_id,
                                        subject=subject or {})
        return self._call(self._key_service().CreateCsr, req)

    def import_certificate(
        self, agency: str, certificate: bytes, chain: Sequence[bytes] = (),
        *, activate: bool = True, tsa: bool = False,
    ) -> Any:
        """Import a CA-issued certificate (PEM or DER) and its chain; returns a KeyEntry.
        With ``tsa`` (and no agency): the certificate of the TSA's pending key."""
        from kyso.registry.v1 import keys_pb2

        req = keys_pb2.ImportCertificateRequest(
            agency_code=agency, certificate=certificate, chain=list(chain),
            no_activate=not activate, tsa=tsa,
        )
        return self._call(self._key_service().ImportCertificate, req)

    def activate_key(self, key_id: str, agency: str = "") -> Any:
        from kyso.registry.v1 import keys_pb2

        req = keys_pb2.ActivateKeyRequest(key_id=key_id, agency_code=agency)
        return self._call(self._key_service().ActivateKey, req)

    def rotate_key(self, agency: str, algorithm: str | None = None,
                   scheme: str | None = None, *, tsa: bool = False) -> Any:
        """New key; with the dev CA active at once, else ``csr_der`` to send to the CA.
        With ``tsa`` (and no agency): a new key for the time-stamp authority."""
        from kyso.registry.v1 import keys_pb2

        if algorithm is not None and algorithm not in KEY_ALGORITHMS:
            raise ValueError(f"unsupported key algorithm {algorithm!r}")
        req = keys_pb2.RotateKeyRequest(
            agency_code=agency,
            algorithm=KEY_ALGORITHMS[algorithm] if algorithm
            else common_pb2.KEY_ALGORITHM_UNSPECIFIED,
            scheme=SCHEMES[scheme] if scheme else common_pb2.SIGNATURE_SCHEME_UNSPECIFIED,
            tsa=tsa,
        )
        return self._call(self._key_service().RotateKey, req)

    def retire_key(self, key_id: str, *, force: bool = False, agency: str = "") -> Any:
        from kyso.registry.v1 import keys_pb2

        req = keys_pb2.RetireKeyRequest(key_id=key_id, force=force, agency_code=agency)
        return self._call(self._key_service().RetireKey, req)

    def mark_compromised(self, key_id: str, reason: str, agency: str = "") -> Any:
        from kyso.registry.v1 import keys_pb2

        req = keys_pb2.MarkCompromisedRequest(key_id=key_id, reason=reason, agency_code=agency)
        return self._call(self._key_service().MarkCompromised, req)

    def list_keys(self, agency: str) -> list[Any]:
        from kyso.registry.v1 import keys_pb2

        resp = self._call(self._key_service().ListKeys,
                          keys_pb2.ListKeysRequest(agency_code=agency))
        return list(resp.keys)

    def set_seal_image(self, agency: str, png: bytes, width_mm: float = 0.0,
                       height_mm: float = 0.0) -> Any:
        from kyso.registry.v1 import keys_pb2

        req = keys_pb2.SetSealImageRequest(agency_code=agency, png=png, width_mm=width_mm,
                                           height_mm=height_mm)
        return self._call(self._key_service().SetSealImage, req)

    def get_seal_image(self, agency: str) -> Any:
        from kyso.registry.v1 import keys_pb2

        return self._call(self._key_service().GetSealImage,
                          keys_pb2.GetSealImageRequest(agency_code=agency))

    def set_default_profile(self, agency: str, profile: str) -> Any:
        """``profile``: seal, attachment or copy."""
        from kyso.registry.v1 import keys_pb2

        profiles = {"seal": keys_pb2.SIGNATURE_PROFILE_SEAL,
                    "attachment": keys_pb2.SIGNATURE_PROFILE_ATTACHMENT,
                    "copy": keys_pb2.SIGNATURE_PROFILE_COPY}
        if profile not in profiles:
            raise ValueError(f"unknown profile {profile!r}: use seal, attachment or copy")
        req = keys_pb2.SetDefaultProfileRequest(agency_code=agency, profile=profiles[profile])
        return self._call(self._key_service().SetDefaultProfile, req)

    def set_pdf_policy(self, agency: str, *, skip_personal_signature_check: bool) -> Any:
        """pdf: whether the seal profile may sign without a valid personal signature."""
        from kyso.registry.v1 import keys_pb2

        req = keys_pb2.SetPdfPolicyRequest(
            agency_code=agency, skip_personal_signature_check=skip_personal_signature_check)
        return self._call(self._key_service().SetPdfPolicy, req)

    def set_xml_form(self, agency: str, form: str) -> Any:
        """The XML signature the agency makes by default: "xml-dsig" (QCVN 102:2016's exact
        form), "xades-b-b" (with a signing time) or "xades-b-t" (and a timestamp)."""
        from kyso.registry.v1 import keys_pb2

        return self._call(self._key_service().SetXmlForm,
                          keys_pb2.SetXmlFormRequest(agency_code=agency, form=form))

    def issue_person_certificate(self, csr: bytes, validity_days: int = 365) -> Any:
        """The development CA certifies a person's key from a PKCS#10 request (PEM or DER):
        a ``keys_pb2.IssuePersonCertificateResponse`` (the demo's leader-then-seal flow)."""
        from kyso.registry.v1 import keys_pb2

        req = keys_pb2.IssuePersonCertificateRequest(csr=csr, validity_days=validity_days)
        return self._call(self._key_service().IssuePersonCertificate, req)

    # -- agency-code registry (kyso.registry.v1.AgencyService) -------------------------
    # Messages are kyso.registry.v1.agencies_pb2 types; imported here to keep this block
    # whole. Dates are "YYYY-MM-DD" strings; reissue maps old sub-unit codes to new ones.

    def _agency_service(self) -> Any:
        from kyso.registry.v1 import agencies_pb2_grpc

        stub = self.__dict__.get("_agencies_stub")
        if stub is None:
            make: Any = agencies_pb2_grpc.AgencyServiceStub  # generated code is untyped
            stub = self.__dict__["_agencies_stub"] = make(self._channel)
        return stub

    @staticmethod
    def _reissue(reissue: dict[str, str] | None) -> list[Any]:
        from kyso.registry.v1 import agencies_pb2

        return [agencies_pb2.Reissue(old_code=o, new_code=n) for o, n in (reissue or {}).items()]

    def rename_agency(self, code: str, name: str, effective: str, note: str = "") -> Any:
        from kyso.registry.v1 import agencies_pb2

        req = agencies_pb2.RenameAgencyRequest(code=code, name=name, effective=effective,
                                               note=note)
        return self._call(self._agency_service().RenameAgency, req)

    def move_agency(self, code: str, new_code: str, effective: str, name: str = "") -> Any:
        from kyso.registry.v1 import agencies_pb2

        req = agencies_pb2.MoveAgencyRequest(code=code, new_code=new_code,
                                             effective=effective, name=name)
        return self._call(self._agency_service().MoveAgency, req)

    def merge_agencies(self, codes: Sequence[str], into: str, effective: str, name: str = "",
                       reissue: dict[str, str] | None = None) -> Any:
        from kyso.registry.v1 import agencies_pb2

        req = agencies_pb2.MergeAgenciesRequest(codes=list(codes), into=into,
                                                effective=effective, name=name,
                                                reissue=self._reissue(reissue))
        return self._call(self._agency_service().MergeAgencies, req)

    def split_agency(self, code: str, parts: Sequence[tuple[str, str]], effective: str,
                     reissue: dict[str, str] | None = None) -> list[Any]:
        from kyso.registry.v1 import agencies_pb2

        req = agencies_pb2.SplitAgencyRequest(
            code=code, parts=[agencies_pb2.SplitPart(code=c, name=n) for c, n in parts],
            effective=effective, reissue=self._reissue(reissue))
        return list(self._call(self._agency_service().SplitAgency, req).agencies)

    def close_agency(self, code: str, effective: str, successor: str = "",
                     reissue: dict[str, str] | None = None) -> Any:
        from kyso.registry.v1 import agencies_pb2

        req = agencies_pb2.CloseAgencyRequest(code=code, effective=effective,
                                              successor_code=successor,
                                              reissue=self._reissue(reissue))
        return self._call(self._agency_service().CloseAgency, req)

    def agency_history(self, code: str, on: str = "") -> Any:
        """``name_on_date`` on ``on`` (default today), ``successors`` today, ``events``."""
        from kyso.registry.v1 import agencies_pb2

        return self._call(self._agency_service().GetAgencyHistory,
                          agencies_pb2.GetAgencyHistoryRequest(code=code, on=on))

    def agency_children(self, code: str, include_closed: bool = False) -> list[Any]:
        from kyso.registry.v1 import agencies_pb2

        req = agencies_pb2.ListAgencyTreeRequest(code=code, include_closed=include_closed)
        return list(self._call(self._agency_service().ListChildren, req).agencies)

    def agency_subtree(self, code: str, include_closed: bool = False) -> list[Any]:
        from kyso.registry.v1 import agencies_pb2

        req = agencies_pb2.ListAgencyTreeRequest(code=code, include_closed=include_closed)
        return list(self._call(self._agency_service().ListSubtree, req).agencies)

    def import_agencies(self, content: bytes, fmt: str = "csv", dry_run: bool = False) -> Any:
        """The plan (create, rename, unchanged) or ``problems``; ``applied`` if written."""
        from kyso.registry.v1 import agencies_pb2

        req = agencies_pb2.ImportAgenciesRequest(content=content, format=fmt, dry_run=dry_run)
        return self._call(self._agency_service().ImportAgencies, req)

    def export_agencies(self, fmt: str = "csv", include_closed: bool = False) -> bytes:
        from kyso.registry.v1 import agencies_pb2

        req = agencies_pb2.ExportAgenciesRequest(format=fmt, include_closed=include_closed)
        return bytes(self._call(self._agency_service().ExportAgencies, req).content)

    # -- audit log ------------------------------------------------------------

    def verify_audit_log(self) -> Any:
        """Check the server's whole audit log: an ``audit_pb2.VerifyAuditLogResponse``."""
        from kyso.registry.v1 import audit_pb2, audit_pb2_grpc

        stub = audit_pb2_grpc.AuditServiceStub(self._channel)  # type: ignore[no-untyped-call, unused-ignore]
        return self._call(stub.VerifyAuditLog, audit_pb2.VerifyAuditLogRequest())

    def list_audit_records(self, *, node_id: str = "", after_id: int = 0, limit: int = 100,
                           action: str = "") -> Any:
        """A page of audit records: an ``audit_pb2.ListAuditRecordsResponse``."""
        from kyso.registry.v1 import audit_pb2, audit_pb2_grpc

        stub = audit_pb2_grpc.AuditServiceStub(self._channel)  # type: ignore[no-untyped-call, unused-ignore]
        req = audit_pb2.ListAuditRecordsRequest(node_id=node_id, after_id=after_id, limit=limit,
                                                action=action)
        return self._call(stub.ListAuditRecords, req)


    # -- verify: begin ----------------------------------------------------------
    # Messages are kyso.signer.v1.verify_pb2 types; imported here to keep this block whole.

    def verify(
        self, document: bytes, *, content: bytes | None = None,
        content_digest: bytes | None = None, content_hash: str = "sha256", kind: str = "auto",
    ) -> Any:
        """Verify signatures: a ``verify_pb2.VerifyResponse`` (indications per EN 319 102-1).

        For a detached CMS or an RFC 3161 token give the ``content`` or, better, only its
        ``content_digest`` (hashed with ``content_hash``): the document stays local.
        """
        from kyso.signer.v1 import verify_pb2, verify_pb2_grpc

        kinds = {"auto": verify_pb2.DOCUMENT_KIND_AUTO, "cms": verify_pb2.DOCUMENT_KIND_CMS,
                 "pdf": verify_pb2.DOCUMENT_KIND_PDF, "xml": verify_pb2.DOCUMENT_KIND_XML,
                 "tsr": verify_pb2.DOCUMENT_KIND_TSR}
        req = verify_pb2.VerifyRequest(document=document, kind=kinds[kind])
        if content is not None:
            req.content = content
        if content_digest is not None:
            if content_hash not in HASHES:
                raise ValueError(f"unsupported hash {content_hash!r}: use one of "
                                 + ", ".join(HASHES))
            req.content_digest = content_digest
            req.content_hash = HASHES[content_hash]
        stub = verify_pb2_grpc.VerifyServiceStub(self._channel)  # type: ignore[no-untyped-call, unused-ignore]
        return self._call(stub.Verify, req)
    # -- verify: end ------------------------------------------------------------


def post_timestamp_query(url: str, request_der: bytes, timeout: float = 60.0) -> bytes:
    """RFC 3161 §3.4: POST a TimeStampReq over HTTP; return the TimeStampResp.

    ``signer.formats.tsp.post_query``, the server's own exchange (without its retries),
    with its failures as ``KysoClientError``."""
    from signer.formats.tsp import TsaTransportError, post_query

    try:
        return post_query(url, request_der, timeout)
    except TsaTransportError as exc:
        code = f"HTTP {exc.status}" if exc.status is not None else "UNAVAILABLE"
        raise KysoClientError.of(code, exc.detail) from None


def timestamp_checked(path: str | os.PathLike[str], send: Callable[[bytes], bytes], *,
                      hash_alg: str = "sha256", policy: str | None = None
                      ) -> tuple[bytes, TokenInfo]:
    """Hash the file at ``path``, ``send`` a TimeStampReq with a fresh nonce (to kyso or
    any TSA), and check the reply before returning it with what its token asserts:
    status granted, nonce and imprint echoed, token signature sound
    (``signer.formats.tsp.TimestampError`` otherwise)."""
    from signer.formats.tsp import check_response, make_request, verify_token

    digest = hash_file(path, hash_alg)
    request, _nonce = make_request(digest, hash_alg, policy=policy)
    reply = send(request)
    check_response(reply, request_der=request)
    return reply, verify_token(reply, digest=digest)


def write_output(path: Path, data: bytes) -> None:
    """Write a command's output to ``path`` the way a person expects of ``-o``.

    * ``-``: standard output.
    * A symbolic link: followed, deliberately — the data goes where it points (a link to
      a missing file creates that file); the link stays a link.
    * A character or block device, a FIFO or a socket (``/dev/null``, ``/dev/stdout``, a
      pipe to another program): written through, never replaced (as root, renaming a
      regular file over ``/dev/null`` would break every program on the machine).
    * A regular file or a new path: the data goes to a temporary file in the same
      directory, flushed to disk, then renamed over the path: a reader sees the old file
      or the new one, never half of one. An existing file keeps its permissions; a new
      one gets the usual ones (0666 less the umask).

    ``IsADirectoryError`` (an ``OSError``) for a directory."""
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    real = Path(os.path.realpath(path))
    try:
        st: os.stat_result | None = real.stat()
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(real, "wb") as f:  # a device, FIFO or socket: through it, not over it
            f.write(data)
        return
    if st is not None:
        mode = stat.S_IMODE(st.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
