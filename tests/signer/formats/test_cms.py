"""signer.formats.cms: detached CAdES-B-B over a client digest, checked by openssl, asn1crypto."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as a_cms
from asn1crypto import tsp  # noqa: F401 - registers signing-certificate-v2 with asn1crypto.cms
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signer.digest import Digest, HashAlg
from signer.errors import InvalidRequest, NotUsable
from signer.formats.cms import CadesSigner
from signer.formats.x509 import issue_certificate
from signer.keys.types import KeyAlgorithm, Scheme
from tests.signer.formats.soft_key import SoftKey

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclasses.dataclass(frozen=True)
class Pki:
    ca_key: SoftKey
    key: SoftKey
    ca_der: bytes
    cert_der: bytes
    scheme: Scheme
    hash_alg: HashAlg

    def signer(self, **overrides: object) -> CadesSigner:
        args: dict[str, object] = {
            "certificate_der": self.cert_der,
            "chain_der": [self.ca_der],
            "key": self.key,
            "public_key_der": self.key.public_key_der,
            "scheme": self.scheme,
            "hash_alg": self.hash_alg,
        }
        args.update(overrides)
        return CadesSigner(**args)  # type: ignore[arg-type]


@functools.cache
def soft_key(algorithm: KeyAlgorithm, n: int) -> SoftKey:
    return SoftKey.generate(algorithm)


@functools.cache
def pki(
    algorithm: KeyAlgorithm,
    scheme: Scheme,
    hash_alg: HashAlg,
    not_after: datetime = NOW + timedelta(days=365),
    profile: str = "seal",
) -> Pki:
    ca_key, key = soft_key(algorithm, 0), soft_key(algorithm, 1)
    ca_der = issue_certificate(
        subject={"CN": "kyso development CA", "O": "kyso", "C": "VN"},
        subject_public_key_der=ca_key.public_key_der,
        issuer_key=ca_key,
        scheme=scheme,
        hash_alg=hash_alg,
        not_before=NOW - timedelta(days=2),
        not_after=NOW + timedelta(days=365 * 30),
        profile="ca",
    )
    cert_der = issue_certificate(
        subject={"CN": "Ủy ban nhân dân thành phố Cần Thơ", "L": "Cần Thơ", "C": "VN"},
        subject_public_key_der=key.public_key_der,
        issuer=ca_der,
        issuer_key=ca_key,
        scheme=scheme,
        hash_alg=hash_alg,
        not_before=NOW - timedelta(days=1),
        not_after=not_after,
        profile=profile,  # type: ignore[arg-type]
    )
    return Pki(ca_key, key, ca_der, cert_der, scheme, hash_alg)


def openssl_cms_verify(
    tmp_path: Path, p7s: bytes, content: bytes, ca_der: bytes
) -> tuple[int, str]:
    (tmp_path / "ca.pem").write_bytes(
        x509.load_der_x509_certificate(ca_der).public_bytes(Encoding.PEM)
    )
    (tmp_path / "F").write_bytes(content)
    (tmp_path / "F.p7s").write_bytes(p7s)
    result = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "F.p7s"),
            "-content",
            str(tmp_path / "F"),
            "-CAfile",
            str(tmp_path / "ca.pem"),
            "-purpose",
            "any",
            "-out",
            os.devnull,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stderr


CASES = [
    (KeyAlgorithm.RSA2048, Scheme.PKCS1V15, HashAlg.SHA256),
    (KeyAlgorithm.RSA3072, Scheme.PKCS1V15, HashAlg.SHA512),
    (KeyAlgorithm.RSA2048, Scheme.PSS, HashAlg.SHA256),
    (KeyAlgorithm.RSA2048, Scheme.PSS, HashAlg.SHA384),
    (KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256),
    (KeyAlgorithm.EC_P384, Scheme.ECDSA, HashAlg.SHA384),
    (KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA512),
]
IDS = [f"{a.value}-{s.value}-{h.value}" for a, s, h in CASES]

SIG_ALGS = {
    Scheme.PKCS1V15: "1.2.840.113549.1.1.1",  # rsaEncryption
    Scheme.PSS: "1.2.840.113549.1.1.10",
}
ECDSA_WITH = {
    HashAlg.SHA256: "1.2.840.10045.4.3.2",
    HashAlg.SHA384: "1.2.840.10045.4.3.3",
    HashAlg.SHA512: "1.2.840.10045.4.3.4",
}


@pytest.mark.parametrize(("algorithm", "scheme", "hash_alg"), CASES, ids=IDS)
def test_openssl_verifies_and_rejects_tampered_content(
    tmp_path: Path, algorithm: KeyAlgorithm, scheme: Scheme, hash_alg: HashAlg
) -> None:
    p = pki(algorithm, scheme, hash_alg)
    content = os.urandom(5000)
    p7s = p.signer().sign(Digest.of(hash_alg, content), NOW)

    rc, stderr = openssl_cms_verify(tmp_path, p7s, content, p.ca_der)
    assert rc == 0, stderr
    assert "Verification successful" in stderr

    tampered = bytearray(content)
    tampered[len(content) // 2] ^= 0x01
    rc, stderr = openssl_cms_verify(tmp_path, p7s, bytes(tampered), p.ca_der)
    assert rc != 0
    assert "Verification successful" not in stderr


@pytest.mark.parametrize(("algorithm", "scheme", "hash_alg"), CASES, ids=IDS)
def test_structure(algorithm: KeyAlgorithm, scheme: Scheme, hash_alg: HashAlg) -> None:
    p = pki(algorithm, scheme, hash_alg)
    digest = Digest.of(hash_alg, os.urandom(100))
    p7s = p.signer().sign(digest, NOW)

    info = a_cms.ContentInfo.load(p7s, strict=True)
    assert info.dump(force=True) == p7s  # canonical DER throughout
    assert info["content_type"].native == "signed_data"
    sd = info["content"]
    assert sd["version"].native == "v1"
    assert [a["algorithm"].dotted for a in sd["digest_algorithms"]] == [hash_alg.oid]
    assert sd["digest_algorithms"][0]["parameters"].native is None
    assert sd["encap_content_info"]["content_type"].native == "data"
    assert sd["encap_content_info"]["content"].native is None  # detached
    assert sorted(c.chosen.dump() for c in sd["certificates"]) == sorted([p.cert_der, p.ca_der])

    (si,) = sd["signer_infos"]
    assert si["version"].native == "v1"
    cert = a_x509.Certificate.load(p.cert_der)
    sid = si["sid"].chosen
    assert si["sid"].name == "issuer_and_serial_number"
    assert sid["issuer"].dump() == cert.issuer.dump()
    assert sid["serial_number"].native == cert.serial_number
    assert si["digest_algorithm"]["algorithm"].dotted == hash_alg.oid

    attrs = {a["type"].native: a["values"] for a in si["signed_attrs"]}
    assert set(attrs) == {
        "content_type",
        "message_digest",
        "signing_time",
        "signing_certificate_v2",
    }
    assert all(len(values) == 1 for values in attrs.values())
    assert attrs["content_type"][0].native == "data"
    assert attrs["message_digest"][0].native == digest.value
    assert attrs["signing_time"][0].native == NOW
    assert attrs["signing_time"][0].name == "utc_time"  # RFC 5652 §11.3, before 2050

    (ess,) = attrs["signing_certificate_v2"][0]["certs"]
    assert ess["cert_hash"].native == hashlib.sha256(p.cert_der).digest()
    # RFC 5035: hashAlgorithm is DEFAULT sha256, so DER leaves it out
    assert ess.contents.startswith(b"\x04\x20")
    (general_name,) = ess["issuer_serial"]["issuer"]
    assert general_name.name == "directory_name"
    assert general_name.chosen.untag().dump() == cert.issuer.dump()
    assert ess["issuer_serial"]["serial_number"].native == cert.serial_number

    sig_alg = si["signature_algorithm"]
    expected = ECDSA_WITH[hash_alg] if scheme is Scheme.ECDSA else SIG_ALGS[scheme]
    assert sig_alg["algorithm"].dotted == expected
    if scheme is Scheme.PSS:
        params = sig_alg["parameters"].native
        assert params["hash_algorithm"]["algorithm"] == hash_alg.value
        assert params["mask_gen_algorithm"]["algorithm"] == "mgf1"
        assert params["mask_gen_algorithm"]["parameters"]["algorithm"] == hash_alg.value
        assert params["salt_length"] == hash_alg.digest_size
        assert params["trailer_field"] == "trailer_field_bc"
    elif scheme is Scheme.PKCS1V15:
        assert sig_alg["parameters"].dump() == b"\x05\x00"
    else:
        assert sig_alg["parameters"].native is None

    # the key signed the hash of the DER SET OF signed attributes (RFC 5652 §5.4)
    signed_set = si["signed_attrs"].untag().dump(force=True)
    assert signed_set[0] == 0x31
    again = p.signer(key=RecordingKey(p.key)).sign(digest, NOW)
    assert again == p7s or scheme is not Scheme.PKCS1V15  # PKCS#1 v1.5 is deterministic
    assert RecordingKey.last == Digest(hash_alg, hashlib.new(hash_alg.value, signed_set).digest())


class RecordingKey:
    last: Digest | None = None

    def __init__(self, inner: SoftKey) -> None:
        self._inner = inner
        self.key_id = inner.key_id
        self.algorithm = inner.algorithm

    def sign_digest(self, digest: Digest, scheme: Scheme) -> bytes:
        RecordingKey.last = digest
        return self._inner.sign_digest(digest, scheme)


def test_signing_time_from_2050_is_generalized_time(tmp_path: Path) -> None:
    p = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256, NOW + timedelta(days=365 * 28))
    when = datetime(2050, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    content = b"hello"
    p7s = p.signer().sign(Digest.of(HashAlg.SHA256, content), when)
    (si,) = a_cms.ContentInfo.load(p7s)["content"]["signer_infos"]
    (time,) = next(a["values"] for a in si["signed_attrs"] if a["type"].native == "signing_time")
    assert time.name == "generalized_time"
    assert time.chosen.contents == b"20500301083015Z"  # no fractional seconds in DER
    rc, stderr = openssl_cms_verify(tmp_path, p7s, content, p.ca_der)
    assert rc == 0, stderr


def test_local_signing_time_is_written_in_utc() -> None:
    from datetime import timezone

    p = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256)
    vietnam = timezone(timedelta(hours=7))
    p7s = p.signer().sign(Digest.of(HashAlg.SHA256, b"x"), NOW.astimezone(vietnam))
    (si,) = a_cms.ContentInfo.load(p7s)["content"]["signer_infos"]
    (time,) = next(a["values"] for a in si["signed_attrs"] if a["type"].native == "signing_time")
    assert time.native == NOW
    assert time.chosen.contents.endswith(b"Z")


def test_certificates_are_not_duplicated() -> None:
    p = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256)
    p7s = p.signer(chain_der=[p.cert_der, p.ca_der, p.ca_der]).sign(
        Digest.of(HashAlg.SHA256, b"x"), NOW
    )
    assert len(a_cms.ContentInfo.load(p7s)["content"]["certificates"]) == 2


def test_wrong_length_digest_is_invalid() -> None:
    p = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256)
    with pytest.raises(InvalidRequest, match="32 bytes"):
        Digest(HashAlg.SHA256, b"\x00" * 20)
    # one that slipped past Digest's own check is refused too
    bad = Digest(HashAlg.SHA256, b"\x00" * 32)
    object.__setattr__(bad, "value", b"\x00" * 31)
    with pytest.raises(InvalidRequest, match="32 bytes"):
        p.signer().sign(bad, NOW)


def test_digest_algorithm_mismatch_is_invalid() -> None:
    p = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256)
    with pytest.raises(InvalidRequest, match="SHA256 digests, got a SHA384"):
        p.signer().sign(Digest.of(HashAlg.SHA384, b"x"), NOW)


def test_certificate_of_another_key_is_not_usable() -> None:
    p = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256)
    other = soft_key(KeyAlgorithm.EC_P256, 2)
    with pytest.raises(NotUsable, match="public key differs"):
        p.signer(key=other, public_key_der=other.public_key_der)
    # other curve, other algorithm
    p384 = soft_key(KeyAlgorithm.EC_P384, 2)
    with pytest.raises(NotUsable, match="public key differs"):
        p.signer(key=p384, public_key_der=p384.public_key_der)
    rsa = pki(KeyAlgorithm.RSA2048, Scheme.PKCS1V15, HashAlg.SHA256)
    with pytest.raises(NotUsable):
        rsa.signer(key=p.key, public_key_der=p.key.public_key_der, scheme=Scheme.ECDSA)


def test_scheme_must_fit_key_and_certificate() -> None:
    rsa = pki(KeyAlgorithm.RSA2048, Scheme.PKCS1V15, HashAlg.SHA256)
    with pytest.raises(NotUsable, match="ecdsa"):
        rsa.signer(scheme=Scheme.ECDSA)
    ec = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256)
    with pytest.raises(NotUsable, match="pss"):
        ec.signer(scheme=Scheme.PSS)
    # the same RSA certificate serves PSS as well as PKCS#1 v1.5
    assert rsa.signer(scheme=Scheme.PSS).scheme is Scheme.PSS


def test_ca_certificate_cannot_seal() -> None:
    p = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256)
    with pytest.raises(NotUsable, match="does not allow signing"):
        p.signer(certificate_der=p.ca_der, key=p.ca_key, public_key_der=p.ca_key.public_key_der)


def test_garbage_certificate_is_not_usable() -> None:
    p = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256)
    with pytest.raises(NotUsable, match="signer certificate"):
        p.signer(certificate_der=b"\x30\x03\x02\x01\x01")
    with pytest.raises(NotUsable, match="chain certificate #2"):
        p.signer(chain_der=[p.ca_der, b"not a certificate"])


def test_signing_outside_certificate_validity_is_not_usable() -> None:
    p = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256)
    signer = p.signer()
    digest = Digest.of(HashAlg.SHA256, b"x")
    with pytest.raises(NotUsable, match="valid from"):
        signer.sign(digest, NOW + timedelta(days=400))
    with pytest.raises(NotUsable, match="valid from"):
        signer.sign(digest, NOW - timedelta(days=3))
    with pytest.raises(ValueError, match="timezone"):
        signer.sign(digest, datetime(2026, 1, 1))


def test_tsa_certificate_may_sign_too() -> None:
    # keyUsage digitalSignature is enough for CMS; purpose checks are the caller's policy.
    p = pki(KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256, profile="tsa")
    p7s = p.signer().sign(Digest.of(HashAlg.SHA256, b"x"), NOW)
    assert a_cms.ContentInfo.load(p7s)["content_type"].native == "signed_data"
