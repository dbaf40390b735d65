"""signer.formats.x509: certificates and CSRs signed through the SigningKey interface.

Checked with someone else's parsers: ``cryptography.x509`` and ``openssl``.
"""

from __future__ import annotations

import functools
import subprocess
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signer.digest import HashAlg
from signer.errors import InvalidRequest, NotUsable
from signer.formats.x509 import Profile, build_csr, build_name, issue_certificate
from signer.keys.types import KeyAlgorithm, Scheme
from tests.signer.formats.soft_key import SoftKey

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

NOW = datetime.now(UTC).replace(microsecond=0)
CAN_THO = "Ủy ban nhân dân thành phố Cần Thơ"
CA_SUBJECT = {"CN": "kyso development CA", "O": "kyso", "C": "VN"}


@functools.cache
def soft_key(algorithm: KeyAlgorithm, n: int = 0) -> SoftKey:
    """Keys are slow to make: one per (algorithm, n) for the whole module."""
    return SoftKey.generate(algorithm)


def make_ca(
    key: SoftKey,
    scheme: Scheme,
    hash_alg: HashAlg = HashAlg.SHA256,
    **kwargs: object,
) -> bytes:
    args: dict[str, object] = {
        "subject": CA_SUBJECT,
        "subject_public_key_der": key.public_key_der,
        "issuer_key": key,
        "scheme": scheme,
        "hash_alg": hash_alg,
        "not_before": NOW - timedelta(days=1),
        "not_after": NOW + timedelta(days=3650),
        "profile": "ca",
    }
    args.update(kwargs)
    return issue_certificate(**args)  # type: ignore[arg-type]


def make_leaf(
    ca_der: bytes,
    ca_key: SoftKey,
    leaf_key: SoftKey,
    scheme: Scheme,
    profile: Profile,
    hash_alg: HashAlg = HashAlg.SHA256,
    subject: Mapping[str, str] | None = None,
) -> bytes:
    return issue_certificate(
        subject=subject or {"CN": CAN_THO, "O": "UBND", "L": "Cần Thơ", "C": "VN"},
        subject_public_key_der=leaf_key.public_key_der,
        issuer=ca_der,
        issuer_key=ca_key,
        scheme=scheme,
        hash_alg=hash_alg,
        not_before=NOW - timedelta(hours=1),
        not_after=NOW + timedelta(days=365),
        profile=profile,
    )


def pem(path: Path, der: bytes) -> Path:
    path.write_bytes(x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM))
    return path


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=False)


CASES = [
    (KeyAlgorithm.RSA2048, Scheme.PKCS1V15, HashAlg.SHA256),
    (KeyAlgorithm.RSA2048, Scheme.PSS, HashAlg.SHA384),
    (KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256),
    (KeyAlgorithm.EC_P384, Scheme.ECDSA, HashAlg.SHA512),
]


@pytest.mark.parametrize(("algorithm", "scheme", "hash_alg"), CASES, ids=lambda v: str(v.value))
@pytest.mark.parametrize("profile", ["seal", "tsa", "ca"])
def test_chain_verifies_with_openssl(
    tmp_path: Path, algorithm: KeyAlgorithm, scheme: Scheme, hash_alg: HashAlg, profile: Profile
) -> None:
    ca_key, leaf_key = soft_key(algorithm, 0), soft_key(algorithm, 1)
    ca_der = make_ca(ca_key, scheme, hash_alg)
    leaf_der = make_leaf(ca_der, ca_key, leaf_key, scheme, profile, hash_alg)
    ca_pem, leaf_pem = pem(tmp_path / "ca.pem", ca_der), pem(tmp_path / "leaf.pem", leaf_der)

    purpose = ["-purpose", "timestampsign"] if profile == "tsa" else []
    result = openssl("verify", *purpose, "-CAfile", ca_pem, leaf_pem)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{leaf_pem}: OK" in result.stdout

    leaf = x509.load_der_x509_certificate(leaf_der)
    ca = x509.load_der_x509_certificate(ca_der)
    leaf.verify_directly_issued_by(ca)
    assert leaf.version is x509.Version.v3
    assert leaf.issuer == ca.subject


def test_ca_profile_extensions() -> None:
    key = soft_key(KeyAlgorithm.EC_P256)
    ca = x509.load_der_x509_certificate(make_ca(key, Scheme.ECDSA))
    exts = {e.oid: e for e in ca.extensions}
    bc = exts[x509.BasicConstraints.oid]
    assert bc.critical and bc.value == x509.BasicConstraints(ca=True, path_length=0)
    ku = exts[x509.KeyUsage.oid]
    assert ku.critical
    assert ku.value.key_cert_sign and ku.value.crl_sign
    assert not (ku.value.digital_signature or ku.value.content_commitment)
    assert x509.ExtendedKeyUsage.oid not in exts
    ski = exts[x509.SubjectKeyIdentifier.oid]
    assert not ski.critical
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    aki = exts[x509.AuthorityKeyIdentifier.oid]
    assert aki.value.key_identifier == ski.value.digest  # self-signed
    assert ca.issuer == ca.subject
    assert len(exts) == 4


def test_ca_path_length_none_means_unlimited() -> None:
    key = soft_key(KeyAlgorithm.EC_P256)
    ca = x509.load_der_x509_certificate(make_ca(key, Scheme.ECDSA, ca_path_length=None))
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.value == x509.BasicConstraints(ca=True, path_length=None)


def test_seal_profile_extensions() -> None:
    ca_key, leaf_key = soft_key(KeyAlgorithm.RSA2048, 0), soft_key(KeyAlgorithm.RSA2048, 1)
    ca_der = make_ca(ca_key, Scheme.PKCS1V15)
    leaf = x509.load_der_x509_certificate(
        make_leaf(ca_der, ca_key, leaf_key, Scheme.PKCS1V15, "seal")
    )
    exts = {e.oid: e for e in leaf.extensions}
    bc = exts[x509.BasicConstraints.oid]
    assert bc.critical and bc.value.ca is False
    ku = exts[x509.KeyUsage.oid]
    assert ku.critical
    assert ku.value.digital_signature and ku.value.content_commitment
    assert not (ku.value.key_cert_sign or ku.value.crl_sign or ku.value.key_encipherment)
    assert x509.ExtendedKeyUsage.oid not in exts
    assert exts[x509.SubjectKeyIdentifier.oid].value == (
        x509.SubjectKeyIdentifier.from_public_key(leaf.public_key())
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.private_key.public_key())
    assert exts[x509.AuthorityKeyIdentifier.oid].value.key_identifier == ca_ski.digest
    assert leaf.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.11"


def test_tsa_profile_extensions() -> None:
    ca_key, leaf_key = soft_key(KeyAlgorithm.EC_P256, 0), soft_key(KeyAlgorithm.EC_P256, 1)
    ca_der = make_ca(ca_key, Scheme.ECDSA)
    leaf = x509.load_der_x509_certificate(make_leaf(ca_der, ca_key, leaf_key, Scheme.ECDSA, "tsa"))
    exts = {e.oid: e for e in leaf.extensions}
    eku = exts[x509.ExtendedKeyUsage.oid]
    assert eku.critical  # RFC 3161 §2.3
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ku = exts[x509.KeyUsage.oid]
    assert ku.critical and ku.value.digital_signature
    assert not (ku.value.content_commitment or ku.value.key_cert_sign)
    assert exts[x509.BasicConstraints.oid].value.ca is False


def test_pss_certificate_parameters() -> None:
    key = soft_key(KeyAlgorithm.RSA2048)
    ca = x509.load_der_x509_certificate(make_ca(key, Scheme.PSS, HashAlg.SHA512))
    assert ca.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10"
    params = a_x509.Certificate.load(ca.public_bytes(Encoding.DER))["signature_algorithm"][
        "parameters"
    ].native
    assert params["hash_algorithm"]["algorithm"] == "sha512"
    assert params["mask_gen_algorithm"]["parameters"]["algorithm"] == "sha512"
    assert params["salt_length"] == 64


def test_vietnamese_subject_round_trips() -> None:
    ca_key, leaf_key = soft_key(KeyAlgorithm.EC_P256, 0), soft_key(KeyAlgorithm.EC_P256, 1)
    ca_der = make_ca(ca_key, Scheme.ECDSA)
    subject = {
        "CN": CAN_THO,
        "O": "Ủy ban nhân dân thành phố Cần Thơ",
        "OU": "Văn phòng",
        "L": "Ninh Kiều",
        "ST": "Cần Thơ",
        "C": "VN",
        "UID": "MST:1800155244",
    }
    der = make_leaf(ca_der, ca_key, leaf_key, Scheme.ECDSA, "seal", subject=subject)
    name = x509.load_der_x509_certificate(der).subject
    oids = {
        "CN": NameOID.COMMON_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "L": NameOID.LOCALITY_NAME,
        "ST": NameOID.STATE_OR_PROVINCE_NAME,
        "C": NameOID.COUNTRY_NAME,
        "UID": NameOID.USER_ID,
    }
    for short, oid in oids.items():
        (attr,) = name.get_attributes_for_oid(oid)
        assert attr.value == subject[short]
    # string types as written on the wire: UTF8String, country PrintableString
    rdns = a_x509.Certificate.load(der).subject.chosen
    types = {rdn[0]["type"].native: rdn[0]["value"].name for rdn in rdns}
    assert types.pop("country_name") == "printable_string"
    assert set(types.values()) == {"utf8_string"} and len(types) == 6
    assert name.rfc4514_string().startswith("UID=MST:1800155244,CN=Ủy ban")
    assert name.rfc4514_string().endswith(",C=VN")
    # and openssl reads the same UTF-8
    result = subprocess.run(
        [
            "openssl",
            "x509",
            "-inform",
            "DER",
            "-noout",
            "-subject",
            "-nameopt",
            "utf8,sep_comma_plus",
        ],
        input=der,
        capture_output=True,
        check=True,
    )
    assert f"CN={CAN_THO}".encode() in result.stdout


def test_decomposed_unicode_is_stored_composed() -> None:
    decomposed = unicodedata.normalize("NFD", CAN_THO)
    assert decomposed != CAN_THO
    assert build_name({"CN": decomposed}).native["common_name"] == CAN_THO


@pytest.mark.parametrize(
    "subject",
    [{}, {"XX": "x"}, {"CN": ""}, {"C": "Vietnam"}, {"C": "vn"}, {"CN": "a", "cn": "b"}],
)
def test_bad_subjects_are_refused(subject: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        build_name(subject)


def test_serial_random_and_explicit() -> None:
    key = soft_key(KeyAlgorithm.EC_P256)
    serials = {
        x509.load_der_x509_certificate(make_ca(key, Scheme.ECDSA)).serial_number for _ in "ab"
    }
    assert len(serials) == 2
    assert all(s.bit_length() == 159 for s in serials)
    ca = x509.load_der_x509_certificate(make_ca(key, Scheme.ECDSA, serial=0x1234))
    assert ca.serial_number == 0x1234
    for bad in (0, -1, 1 << 159):
        with pytest.raises(InvalidRequest):
            make_ca(key, Scheme.ECDSA, serial=bad)


def test_validity_encoding_switches_to_generalized_time_in_2050() -> None:
    key = soft_key(KeyAlgorithm.EC_P256)
    der = make_ca(
        key,
        Scheme.ECDSA,
        not_before=datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),
        not_after=datetime(2050, 1, 1, tzinfo=UTC),
    )
    validity = a_x509.Certificate.load(der)["tbs_certificate"]["validity"]
    assert validity["not_before"].name == "utc_time"
    assert validity["not_after"].name == "general_time"
    assert validity["not_after"].chosen.contents == b"20500101000000Z"
    cert = x509.load_der_x509_certificate(der)
    assert cert.not_valid_after_utc == datetime(2050, 1, 1, tzinfo=UTC)


def test_issuer_given_by_name_needs_its_key() -> None:
    ca_key, leaf_key = soft_key(KeyAlgorithm.EC_P256, 0), soft_key(KeyAlgorithm.EC_P256, 1)
    common = {
        "subject": {"CN": "leaf"},
        "subject_public_key_der": leaf_key.public_key_der,
        "issuer": CA_SUBJECT,
        "issuer_key": ca_key,
        "scheme": Scheme.ECDSA,
        "hash_alg": HashAlg.SHA256,
        "not_before": NOW,
        "not_after": NOW + timedelta(days=1),
        "profile": "seal",
    }
    with pytest.raises(InvalidRequest, match="issuer_public_key_der"):
        issue_certificate(**common)  # type: ignore[arg-type]
    der = issue_certificate(**common, issuer_public_key_der=ca_key.public_key_der)  # type: ignore[arg-type]
    ca = x509.load_der_x509_certificate(make_ca(ca_key, Scheme.ECDSA))
    x509.load_der_x509_certificate(der).verify_directly_issued_by(ca)


def test_wrong_issuer_key_is_not_usable() -> None:
    ca_key = soft_key(KeyAlgorithm.EC_P256, 0)
    other = soft_key(KeyAlgorithm.EC_P256, 2)
    ca_der = make_ca(ca_key, Scheme.ECDSA)
    # the token key is not the CA certificate's key: caught by verifying the signature
    with pytest.raises(NotUsable):
        make_leaf(ca_der, other, soft_key(KeyAlgorithm.EC_P256, 1), Scheme.ECDSA, "seal")
    # a claimed issuer key that contradicts the issuer certificate
    with pytest.raises(NotUsable):
        issue_certificate(
            subject={"CN": "leaf"},
            subject_public_key_der=other.public_key_der,
            issuer=ca_der,
            issuer_key=ca_key,
            issuer_public_key_der=other.public_key_der,
            scheme=Scheme.ECDSA,
            hash_alg=HashAlg.SHA256,
            not_before=NOW,
            not_after=NOW + timedelta(days=1),
            profile="seal",
        )


def test_non_ca_issuer_is_not_usable() -> None:
    ca_key, leaf_key = soft_key(KeyAlgorithm.EC_P256, 0), soft_key(KeyAlgorithm.EC_P256, 1)
    ca_der = make_ca(ca_key, Scheme.ECDSA)
    seal_der = make_leaf(ca_der, ca_key, leaf_key, Scheme.ECDSA, "seal")
    with pytest.raises(NotUsable, match="not a CA"):
        make_leaf(seal_der, leaf_key, soft_key(KeyAlgorithm.EC_P256, 2), Scheme.ECDSA, "seal")


def test_refusals() -> None:
    rsa_key, ec_key = soft_key(KeyAlgorithm.RSA2048), soft_key(KeyAlgorithm.EC_P256)
    with pytest.raises(InvalidRequest, match="scheme"):
        make_ca(ec_key, Scheme.PKCS1V15)
    with pytest.raises(InvalidRequest, match="scheme"):
        make_ca(rsa_key, Scheme.ECDSA)
    with pytest.raises(InvalidRequest, match="profile"):
        make_ca(ec_key, Scheme.ECDSA, profile="root")
    with pytest.raises(InvalidRequest, match="earlier"):
        make_ca(ec_key, Scheme.ECDSA, not_after=NOW - timedelta(days=2))
    with pytest.raises(InvalidRequest, match="timezone"):
        make_ca(ec_key, Scheme.ECDSA, not_before=datetime(2026, 1, 1))
    with pytest.raises(InvalidRequest, match="SubjectPublicKeyInfo"):
        make_ca(ec_key, Scheme.ECDSA, subject_public_key_der=b"\x30\x00")
    ca_der = make_ca(ec_key, Scheme.ECDSA)
    with pytest.raises(InvalidRequest, match="outlive"):
        issue_certificate(
            subject={"CN": "leaf"},
            subject_public_key_der=rsa_key.public_key_der,
            issuer=ca_der,
            issuer_key=ec_key,
            scheme=Scheme.ECDSA,
            hash_alg=HashAlg.SHA256,
            not_before=NOW,
            not_after=NOW + timedelta(days=4000),
            profile="seal",
        )


def test_small_rsa_subject_key_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = SoftKey(KeyAlgorithm.RSA2048, rsa.generate_private_key(65537, 1024))
    with pytest.raises(InvalidRequest, match="RSA-1024"):
        make_ca(small, Scheme.PKCS1V15)


@pytest.mark.parametrize(("algorithm", "scheme", "hash_alg"), CASES, ids=lambda v: str(v.value))
def test_csr_verifies_with_openssl(
    tmp_path: Path, algorithm: KeyAlgorithm, scheme: Scheme, hash_alg: HashAlg
) -> None:
    key = soft_key(algorithm)
    der = build_csr(
        subject={"CN": CAN_THO, "O": "UBND", "C": "VN", "UID": "MST:1800155244"},
        public_key_der=key.public_key_der,
        key=key,
        scheme=scheme,
        hash_alg=hash_alg,
    )
    (tmp_path / "req.der").write_bytes(der)
    result = openssl("req", "-verify", "-noout", "-inform", "DER", "-in", tmp_path / "req.der")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify OK" in result.stdout + result.stderr
    csr = x509.load_der_x509_csr(der)
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CAN_THO
    assert csr.public_key() == key.private_key.public_key()


def test_csr_with_someone_elses_public_key_is_not_usable() -> None:
    key, other = soft_key(KeyAlgorithm.EC_P256, 0), soft_key(KeyAlgorithm.EC_P256, 1)
    with pytest.raises(NotUsable):
        build_csr(
            subject={"CN": "x"},
            public_key_der=other.public_key_der,
            key=key,
            scheme=Scheme.ECDSA,
            hash_alg=HashAlg.SHA256,
        )
