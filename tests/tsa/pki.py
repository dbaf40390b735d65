"""A throwaway CA and TSA certificate with software keys, for the TSA unit tests only."""

from __future__ import annotations

import dataclasses
import functools
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import tsp as a_tsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signer.digest import HashAlg
from signer.formats.x509 import issue_certificate
from signer.keys.types import KeyAlgorithm, Scheme
from tests.signer.formats.soft_key import SoftKey
from tsa.token import TokenBuilder, TsaPolicy

NOW = datetime.now(UTC)
DEFAULT_POLICY = "1.3.6.1.4.1.99999.3161.1"  # no name in openssl.cnf
OTHER_POLICY = "1.3.6.1.4.1.99999.3161.2"
POLICY = TsaPolicy(
    default_policy=DEFAULT_POLICY,
    accepted_policies=frozenset({OTHER_POLICY}),
    accuracy_ms=1500,
    include_chain=True,
)
KINDS = {
    "rsa-pkcs1": (KeyAlgorithm.RSA2048, Scheme.PKCS1V15),
    "rsa-pss": (KeyAlgorithm.RSA2048, Scheme.PSS),
    "ec-p256": (KeyAlgorithm.EC_P256, Scheme.ECDSA),
}


@dataclasses.dataclass(frozen=True)
class Pki:
    ca_key: SoftKey
    tsa_key: SoftKey
    ca_der: bytes
    tsa_der: bytes
    scheme: Scheme

    def builder(self, policy: TsaPolicy = POLICY, **overrides: object) -> TokenBuilder:
        args: dict[str, object] = {
            "certificate_der": self.tsa_der,
            "chain_der": [self.ca_der],
            "key": self.tsa_key,
            "public_key_der": self.tsa_key.public_key_der,
            "scheme": self.scheme,
            "hash_alg": HashAlg.SHA256,
            "policy": policy,
        }
        args.update(overrides)
        return TokenBuilder(**args)  # type: ignore[arg-type]

    def issue(self, profile: str = "tsa", **overrides: object) -> bytes:
        """Another certificate for the TSA key, issued by the CA."""
        args: dict[str, object] = {
            "subject": {"CN": "kyso TSA thử nghiệm", "O": "kyso", "C": "VN"},
            "subject_public_key_der": self.tsa_key.public_key_der,
            "issuer": self.ca_der,
            "issuer_key": self.ca_key,
            "scheme": self.scheme,
            "hash_alg": HashAlg.SHA256,
            "not_before": NOW - timedelta(days=1),
            "not_after": NOW + timedelta(days=365),
            "profile": profile,
        }
        args.update(overrides)
        return issue_certificate(**args)  # type: ignore[arg-type]

    def write(self, directory: Path) -> None:
        """ca.pem, tsa.pem, tsa.key in ``directory``."""
        (directory / "ca.pem").write_bytes(pem(self.ca_der))
        (directory / "tsa.pem").write_bytes(pem(self.tsa_der))
        (directory / "tsa.key").write_bytes(self.tsa_key.private_pem())


@functools.cache
def make_ca(algorithm: KeyAlgorithm, scheme: Scheme, n: int = 0) -> tuple[SoftKey, bytes]:
    ca_key = SoftKey.generate(algorithm)
    ca_der = issue_certificate(
        subject={"CN": f"kyso test CA {n}", "O": "kyso", "C": "VN"},
        subject_public_key_der=ca_key.public_key_der,
        issuer_key=ca_key,
        scheme=scheme,
        hash_alg=HashAlg.SHA256,
        not_before=NOW - timedelta(days=2),
        not_after=NOW + timedelta(days=3650),
        profile="ca",
    )
    return ca_key, ca_der


@functools.cache
def pki(kind: str) -> Pki:
    algorithm, scheme = KINDS[kind]
    ca_key, ca_der = make_ca(algorithm, scheme)
    tsa_key = SoftKey.generate(algorithm)
    partial = Pki(ca_key, tsa_key, ca_der, b"", scheme)
    return dataclasses.replace(partial, tsa_der=partial.issue())


def pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)


def openssl(*args: str | Path, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        check=check,
    )


DATA = "Công văn số 123/UBND-VP về việc triển khai dấu thời gian\n".encode()
GEN_TIME = NOW.replace(microsecond=123000)


def query(work: Path, *options: str) -> bytes:
    """A TimeStampReq from `openssl ts -query` over ``work``/data.txt."""
    out = work / "req.tsq"
    openssl("ts", "-query", "-data", "data.txt", *options, "-out", out, cwd=work)
    return out.read_bytes()


def tst_info(resp_der: bytes) -> a_tsp.TSTInfo:
    """The TSTInfo inside a DER TimeStampResp."""
    resp = a_tsp.TimeStampResp.load(resp_der)
    return resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
