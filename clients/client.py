"""gRPC client for the kyso signer and registry services."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import grpc

from kyso.common.v1 import common_pb2
from kyso.registry.v1 import registry_pb2, registry_pb2_grpc
from kyso.signer.v1 import signer_pb2, signer_pb2_grpc
from kyso.tsa.v1 import tsa_pb2, tsa_pb2_grpc

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


class KysoClientError(Exception):
    """A call failed; ``code`` is the gRPC status name, ``message`` the server's words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


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


class KysoClient:
    """A connection to one kyso server.

    >>> with KysoClient("127.0.0.1:50051") as c:
    ...     sig = c.sign_cms_file("report.pdf", agency="000.00.00.H13")
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        timeout: float = 30.0,
        root_certificates: bytes | None = None,
        token: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        if root_certificates is not None:
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(endpoint, creds)
        else:
            self._channel = grpc.insecure_channel(endpoint)
        self._signer = signer_pb2_grpc.SignerServiceStub(self._channel)
        self._registry = registry_pb2_grpc.RegistryServiceStub(self._channel)
        self._tsa = tsa_pb2_grpc.TimestampServiceStub(self._channel)

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
                ("failed to connect to all addresses", "DNS resolution failed")
            )
            if code == grpc.StatusCode.UNAVAILABLE and transport:
                details = (f"cannot reach kyso at {self.endpoint}: is the server running? "
                           f"({details.strip() or 'no answer'})")
            raise KysoClientError(code.name, details) from None

    # -- signing ------------------------------------------------------------

    def sign_digests(
        self,
        agency: str,
        digests: Sequence[bytes],
        *,
        hash_alg: str = "sha256",
        cms: bool = False,
        scheme: str | None = None,
        references: Sequence[str] | None = None,
        timestamp: bool = False,
    ) -> signer_pb2.SignDigestsResponse:
        """Sign digests in one call; the response carries the signer certificate and chain.

        With ``cms`` and ``timestamp`` the signatures are CAdES-B-T; each
        ``SignedDigest.level`` says which level was reached.
        """
        if hash_alg not in HASHES:
            raise ValueError(f"unsupported hash {hash_alg!r}: use one of {', '.join(HASHES)}")
        refs = references or [""] * len(digests)
        req = signer_pb2.SignDigestsRequest(
            agency_code=agency,
            digests=[
                signer_pb2.DigestToSign(digest=d, hash_algorithm=HASHES[hash_alg], reference=r)
                for d, r in zip(digests, refs, strict=True)
            ],
            format=signer_pb2.OUTPUT_FORMAT_CMS if cms else signer_pb2.OUTPUT_FORMAT_RAW,
            scheme=SCHEMES[scheme] if scheme else common_pb2.SIGNATURE_SCHEME_UNSPECIFIED,
            level=signer_pb2.CADES_LEVEL_B_T if timestamp else signer_pb2.CADES_LEVEL_UNSPECIFIED,
        )
        resp: signer_pb2.SignDigestsResponse = self._call(self._signer.SignDigests, req)
        return resp

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

    def timestamp(self, request_der: bytes) -> bytes:
        """Send a DER TimeStampReq over gRPC; return the DER TimeStampResp."""
        resp: tsa_pb2.TimestampResponse = self._call(
            self._tsa.Timestamp, tsa_pb2.TimestampRequest(time_stamp_req=request_der)
        )
        return bytes(resp.time_stamp_resp)

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


def post_timestamp_query(url: str, request_der: bytes, timeout: float = 60.0) -> bytes:
    """RFC 3161 §3.4: POST a TimeStampReq over HTTP; return the TimeStampResp."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        url, data=request_der, method="POST",
        headers={"Content-Type": "application/timestamp-query"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body: bytes = resp.read(1 << 20)
            return body
    except urllib.error.HTTPError as exc:
        detail = exc.read(4096).decode("utf-8", "replace").strip()
        if exc.headers.get("Content-Type", "").startswith("application/timestamp-reply"):
            detail = "the TSA could not record the token; retry later"
        raise KysoClientError(f"HTTP {exc.code}", detail or str(exc.reason)) from None
    except urllib.error.URLError as exc:
        raise KysoClientError("UNAVAILABLE", f"cannot reach {url}: {exc.reason}") from None


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
