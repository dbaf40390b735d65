"""tsa.token: requests from the real `openssl ts -query`, tokens checked by `openssl ts -verify`.

The request parser's refusals, rejection responses and fuzzing are in
tests/signer/formats/test_tsp_request.py."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms as a_cms
from asn1crypto import parser as a_parser
from asn1crypto import tsp as a_tsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signer.digest import HashAlg
from signer.errors import ConfigError, NotUsable
from signer.formats import _der
from signer.formats.tsp import (
    FailureInfo,
    ParsedRequest,
    Rejection,
    make_request,
    parse_request,
)
from signer.keys.types import KeyAlgorithm, Scheme
from tests.signer.formats.soft_key import SoftKey
from tests.tsa.pki import (
    DATA,
    DEFAULT_POLICY,
    GEN_TIME,
    KINDS,
    NOW,
    OTHER_POLICY,
    POLICY,
    Pki,
    openssl,
    pki,
    query,
    tst_info,
)
from tsa.token import TsaPolicy

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "data.txt").write_bytes(DATA)
    return tmp_path


def top_level_tags(der: bytes) -> list[int]:
    contents = a_parser.parse(der)[4]
    tags = []
    while contents:
        size = a_parser.peek(contents)
        cls, method, tag, _, _, _ = a_parser.parse(contents[:size])
        tags.append(cls << 6 | method << 5 | tag)
        contents = contents[size:]
    return tags


def signed_data(resp_der: bytes) -> a_cms.SignedData:
    return a_tsp.TimeStampResp.load(resp_der)["time_stamp_token"]["content"]


# --- granted tokens, checked by OpenSSL --------------------------------------------


@pytest.mark.parametrize("kind", ["rsa-pkcs1", "ec-p256"])
@pytest.mark.parametrize("nonce", [True, False])
@pytest.mark.parametrize("cert", [True, False])
def test_openssl_verifies_token(work: Path, kind: str, nonce: bool, cert: bool) -> None:
    p = pki(kind)
    p.write(work)
    options = ["-sha256", "-tspolicy", OTHER_POLICY]
    options += [] if nonce else ["-no_nonce"]
    options += ["-cert"] if cert else []
    req = parse_request(query(work, *options), POLICY)
    assert req.cert_req is cert and (req.nonce is not None) is nonce
    assert req.policy == OTHER_POLICY and req.hash_alg is HashAlg.SHA256
    assert req.imprint == hashlib.sha256(DATA).digest()

    (work / "reply.tsr").write_bytes(p.builder().build(req, serial=0xC0FFEE, gen_time=GEN_TIME))
    untrusted = [] if cert else ["-untrusted", "tsa.pem"]
    for source in (["-data", "data.txt"], ["-queryfile", "req.tsq"]):
        out = openssl(
            "ts",
            "-verify",
            *source,
            "-in",
            "reply.tsr",
            "-CAfile",
            "ca.pem",
            *untrusted,
            cwd=work,
            check=False,
        )
        assert "Verification: OK" in out.stdout, out.stderr

    text = openssl("ts", "-reply", "-in", "reply.tsr", "-text", cwd=work).stdout
    assert "Status: Granted." in text
    assert f"Policy OID: {OTHER_POLICY}" in text
    assert "Serial number: 0xC0FFEE" in text
    stamp = f"{GEN_TIME:%b} {GEN_TIME.day:2d} {GEN_TIME:%H:%M:%S}.123 {GEN_TIME.year} GMT"
    assert f"Time stamp: {stamp}" in text
    assert "Accuracy: 0x01 seconds, 0x01F4 millis, unspecified micros" in text
    assert "Ordering: no" in text
    assert "TSA: DirName:" in text
    shown = re.search(r"^Nonce: (\S+)$", text, re.MULTILINE)
    assert shown is not None
    if nonce:
        assert int(shown.group(1), 16) == req.nonce
    else:
        assert shown.group(1) == "unspecified"


@pytest.mark.parametrize("hash_option", ["-sha384", "-sha512"])
def test_openssl_sha2_family(work: Path, hash_option: str) -> None:
    p = pki("ec-p256")
    p.write(work)
    req = parse_request(query(work, hash_option, "-cert"), POLICY)
    assert req.hash_alg.value == hash_option[1:] and req.policy == DEFAULT_POLICY
    (work / "reply.tsr").write_bytes(p.builder().build(req, serial=7, gen_time=GEN_TIME))
    out = openssl(
        "ts",
        "-verify",
        "-data",
        "data.txt",
        "-in",
        "reply.tsr",
        "-CAfile",
        "ca.pem",
        cwd=work,
        check=False,
    )
    assert "Verification: OK" in out.stdout, out.stderr


def test_rsa_pss_token_verifies_with_openssl_cms(work: Path) -> None:
    """OpenSSL 3.0's `ts -verify` goes through PKCS7, which has no RSA-PSS: it fails on
    any PSS token. `openssl cms -verify` checks the same signature with PSS support."""
    p = pki("rsa-pss")
    p.write(work)
    req = parse_request(query(work, "-sha256", "-cert"), POLICY)
    (work / "reply.tsr").write_bytes(p.builder().build(req, serial=9, gen_time=GEN_TIME))
    openssl("ts", "-reply", "-in", "reply.tsr", "-token_out", "-out", "token.der", cwd=work)
    out = openssl(
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        "token.der",
        "-CAfile",
        "ca.pem",
        "-purpose",
        "timestampsign",
        "-binary",
        "-out",
        "tst.der",
        cwd=work,
        check=False,
    )
    assert out.returncode == 0 and "Verification successful" in out.stderr, out.stderr
    assert a_tsp.TSTInfo.load((work / "tst.der").read_bytes())["serial_number"].native == 9


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_client_made_request_verifies(work: Path, kind: str) -> None:
    p = pki(kind)
    p.write(work)
    der, nonce = make_request(hashlib.sha256(DATA).digest(), policy=DEFAULT_POLICY)
    (work / "req.tsq").write_bytes(der)
    text = openssl("ts", "-query", "-in", "req.tsq", "-text", cwd=work).stdout
    assert f"Policy OID: {DEFAULT_POLICY}" in text and "Certificate required: yes" in text
    req = parse_request(der, POLICY)
    assert req.nonce == nonce and req.cert_req
    (work / "reply.tsr").write_bytes(p.builder().build(req, serial=1, gen_time=GEN_TIME))
    if p.scheme is Scheme.PSS:  # see test_rsa_pss_token_verifies_with_openssl_cms
        return
    out = openssl(
        "ts",
        "-verify",
        "-queryfile",
        "req.tsq",
        "-in",
        "reply.tsr",
        "-CAfile",
        "ca.pem",
        cwd=work,
        check=False,
    )
    assert "Verification: OK" in out.stdout, out.stderr


# --- token structure -----------------------------------------------------------------


@pytest.mark.parametrize("include_chain", [True, False])
def test_token_structure(include_chain: bool) -> None:
    p = pki("ec-p256")
    policy = dataclasses.replace(POLICY, include_chain=include_chain)
    der, nonce = make_request(hashlib.sha256(DATA).digest())
    req = parse_request(der, policy)
    builder = p.builder(policy)
    resp = builder.build(req, serial=2**159 + 5, gen_time=GEN_TIME)

    sd = signed_data(resp)
    assert sd["version"].native == "v3"
    assert sd["encap_content_info"]["content_type"].dotted == "1.2.840.113549.1.9.16.1.4"
    certs = [c.chosen.dump() for c in sd["certificates"]]
    assert sorted(certs) == sorted([p.tsa_der, p.ca_der] if include_chain else [p.tsa_der])
    (si,) = sd["signer_infos"]
    assert si["version"].native == "v1"
    assert si["sid"].name == "issuer_and_serial_number"
    attrs = {a["type"].native: a["values"][0] for a in si["signed_attrs"]}
    assert set(attrs) == {
        "content_type",
        "message_digest",
        "signing_time",
        "signing_certificate_v2",
    }
    assert attrs["content_type"].dotted == "1.2.840.113549.1.9.16.1.4"
    tst_der = bytes(sd["encap_content_info"]["content"])
    assert attrs["message_digest"].native == hashlib.sha256(tst_der).digest()
    assert attrs["signing_time"].native == GEN_TIME.replace(microsecond=0)
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(p.tsa_der).digest()
    assert ess.contents[:2] == b"\x04\x20"  # hashAlgorithm sha256 is DEFAULT: omitted
    assert (
        ess["issuer_serial"]["serial_number"].native
        == x509.load_der_x509_certificate(p.tsa_der).serial_number
    )

    tst = a_tsp.TSTInfo.load(tst_der)
    assert tst["version"].native == "v1"
    assert tst["serial_number"].native == 2**159 + 5
    assert tst["nonce"].native == nonce
    assert tst["policy"].dotted == DEFAULT_POLICY
    assert tst["gen_time"].contents.endswith(b".123Z")
    assert tst["gen_time"].native == GEN_TIME
    assert tst["accuracy"].native == {"seconds": 1, "millis": 500, "micros": None}
    # Top-level tags: ordering (BOOLEAN, DEFAULT FALSE) omitted, tsa [0] present.
    assert top_level_tags(tst_der) == [0x02, 0x06, 0x30, 0x02, 0x18, 0x30, 0x02, 0xA0]
    assert tst["tsa"].chosen == a_x509.Certificate.load(p.tsa_der).subject
    # The messageImprint is the request's, byte for byte (asn1crypto writes NULL parameters).
    assert tst["message_imprint"].dump() == a_tsp.TimeStampReq.load(der)["message_imprint"].dump()

    no_cert_req = dataclasses.replace(req, cert_req=False)
    assert (
        signed_data(builder.build(no_cert_req, serial=1, gen_time=GEN_TIME))["certificates"].native
        is None
    )


def test_imprint_encoding_is_copied_from_the_request() -> None:
    digest = hashlib.sha256(b"x").digest()
    absent = _der.seq(_der.seq(_der.oid(HashAlg.SHA256.oid)), _der.tlv(0x04, digest))
    der = _der.seq(_der.integer(1), absent, b"\x01\x01\xff")
    req = parse_request(der, POLICY)
    resp = pki("ec-p256").builder().build(req, serial=1, gen_time=GEN_TIME)
    assert tst_info(resp)["message_imprint"].dump() == absent
    # ParsedRequest made without DER: the imprint is encoded canonically.
    bare = ParsedRequest(HashAlg.SHA256, digest, DEFAULT_POLICY, None, False, b"")
    resp = pki("ec-p256").builder().build(bare, serial=1, gen_time=GEN_TIME)
    assert tst_info(resp)["message_imprint"].dump() == absent


@pytest.mark.parametrize(
    ("micro", "text"),
    [(0, b"Z"), (123000, b".123Z"), (120, b".00012Z"), (999999, b".999999Z"), (500000, b".5Z")],
)
def test_gen_time_fraction_without_trailing_zeros(micro: int, text: bytes) -> None:
    moment = datetime(2026, 3, 1, 8, 5, 9, micro, tzinfo=UTC)
    encoded = _der.generalized_time(moment)
    assert encoded[2:] == b"20260301080509" + text
    assert encoded[1] == len(encoded) - 2
    # Local time zones are converted to UTC.
    ict = moment.astimezone(datetime.now().astimezone().tzinfo)
    assert _der.generalized_time(ict) == encoded
    with pytest.raises(ValueError, match="timezone-aware"):
        _der.generalized_time(moment.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("ms", "native"),
    [
        (0, None),
        (2000, {"seconds": 2, "millis": None, "micros": None}),
        (250, {"seconds": None, "millis": 250, "micros": None}),
        (61001, {"seconds": 61, "millis": 1, "micros": None}),
    ],
)
def test_accuracy(ms: int, native: object) -> None:
    policy = dataclasses.replace(POLICY, accuracy_ms=ms)
    req = parse_request(make_request(hashlib.sha256(b"").digest())[0], policy)
    resp = pki("ec-p256").builder(policy).build(req, serial=1, gen_time=GEN_TIME)
    assert tst_info(resp)["accuracy"].native == native


def test_build_argument_checks() -> None:
    builder = pki("ec-p256").builder()
    req = parse_request(make_request(hashlib.sha256(b"").digest())[0], POLICY)
    for serial in (0, -1, 1 << 160):
        with pytest.raises(ValueError, match="serialNumber"):
            builder.build(req, serial=serial, gen_time=GEN_TIME)
    with pytest.raises(ValueError, match="timezone-aware"):
        builder.build(req, serial=1, gen_time=GEN_TIME.replace(tzinfo=None))
    with pytest.raises(Rejection) as info:
        builder.build(dataclasses.replace(req, policy="1.9.9"), serial=1, gen_time=GEN_TIME)
    assert info.value.failure is FailureInfo.UNACCEPTED_POLICY
    assert builder.build(req, serial=(1 << 160) - 1, gen_time=GEN_TIME)


def test_policy_normalisation_and_config_errors() -> None:
    policy = TsaPolicy("0.4.0.2023.1.1", frozenset(), 0, False)
    assert policy.accepted_policies == {"0.4.0.2023.1.1"}
    with pytest.raises(ConfigError, match="dotted OID"):
        TsaPolicy("not-an-oid", frozenset(), 0, False)
    with pytest.raises(ConfigError, match="not a valid OID"):
        TsaPolicy("1.2.3", frozenset({"1.40.1"}), 0, False)
    with pytest.raises(ConfigError, match="ordering"):
        TsaPolicy("1.2.3", frozenset(), 0, False, ordering=True)
    with pytest.raises(ConfigError, match="accuracy"):
        TsaPolicy("1.2.3", frozenset(), -1, False)


# --- builder start-up checks ---------------------------------------------------------


def _custom_cert(
    p: Pki, *, eku: list[x509.ObjectIdentifier] | None, critical: bool = True, ca: bool = False
) -> bytes:
    """A certificate for the TSA key with exactly the given EKU / basicConstraints."""
    issuer = x509.load_der_x509_certificate(p.ca_der)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odd TSA")]))
        .issuer_name(issuer.subject)
        .public_key(p.tsa_key.private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=critical)
    cert = builder.sign(p.ca_key.private_key, hashes.SHA256())  # type: ignore[arg-type]
    return cert.public_bytes(Encoding.DER)


def test_builder_refuses_unfit_certificates() -> None:
    p = pki("ec-p256")
    stamping = ExtendedKeyUsageOID.TIME_STAMPING
    cases = {
        "no extendedKeyUsage": _custom_cert(p, eku=None),
        "non-critical": _custom_cert(p, eku=[stamping], critical=False),
        "nothing else": _custom_cert(p, eku=[stamping, ExtendedKeyUsageOID.CODE_SIGNING]),
        "is a CA": _custom_cert(p, eku=[stamping], ca=True),
    }
    for reason, cert in cases.items():
        with pytest.raises(NotUsable, match=reason):
            p.builder(certificate_der=cert)
    with pytest.raises(NotUsable, match="no extendedKeyUsage"):
        p.builder(certificate_der=p.issue(profile="seal"))
    # A certificate with the right extensions for the key is accepted.
    p.builder(certificate_der=_custom_cert(p, eku=[stamping]))


def test_builder_refuses_other_key_scheme_and_garbage() -> None:
    p = pki("ec-p256")
    other = SoftKey.generate(KeyAlgorithm.EC_P256)
    with pytest.raises(NotUsable, match="public key differs"):
        p.builder(key=other, public_key_der=other.public_key_der)
    with pytest.raises(NotUsable, match="cannot be used"):
        p.builder(scheme=Scheme.PSS)
    with pytest.raises(NotUsable, match=r"not a DER X\.509"):
        p.builder(certificate_der=b"nope")
    with pytest.raises(NotUsable, match="chain certificate #1"):
        p.builder(chain_der=[b"nope"])
    with pytest.raises(NotUsable):
        p.builder(public_key_der=b"nope")


def test_check_validity() -> None:
    p = pki("rsa-pkcs1")
    builder = p.builder()
    builder.check_validity(NOW)
    assert builder.not_before <= NOW <= builder.not_after
    for moment in (NOW - timedelta(days=2), NOW + timedelta(days=400)):
        with pytest.raises(NotUsable, match="renew the TSA certificate"):
            builder.check_validity(moment)
    with pytest.raises(ValueError, match="timezone-aware"):
        builder.check_validity(NOW.replace(tzinfo=None))
