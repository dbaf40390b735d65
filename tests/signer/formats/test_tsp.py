"""signer.formats.tsp, the RFC 3161 codec: the client side against kyso's TokenBuilder and
`openssl ts -reply`; the TSA's request parser fuzzed (was tests/tsa/test_fuzz_request.py)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as a_x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signer.formats.tsp import (
    FailureInfo,
    ParsedRequest,
    Rejection,
    TimestampError,
    TokenInfo,
    check_response,
    make_request,
    parse_request,
    rejection_response,
    token_from_response,
    verify_token,
)
from signer.keys.types import KeyAlgorithm, Scheme
from tests.tsa.pki import (
    DEFAULT_POLICY,
    KINDS,
    NOW,
    OTHER_POLICY,
    POLICY,
    make_ca,
    openssl,
    pem,
    pki,
)
from tsa.token import TsaPolicy

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

DATA = b"Quyet dinh so 42/QD-UBND\n" * 1000
DIGEST = hashlib.sha256(DATA).digest()
GEN_TIME = NOW.replace(microsecond=250000)


def grant(kind: str, request_der: bytes, **changes: object) -> bytes:
    req = parse_request(request_der, POLICY)
    if changes:
        req = dataclasses.replace(req, **changes)  # type: ignore[arg-type]
    return pki(kind).builder().build(req, serial=0x5EED, gen_time=GEN_TIME)


def roots(kind: str = "ec-p256") -> bytes:
    return pem(pki(kind).ca_der)


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes((data[at] ^ 0x01,)) + data[at + 1 :]


# --- round trips -------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_round_trip(kind: str, tmp_path: Path) -> None:
    request, nonce = make_request(DIGEST, policy=OTHER_POLICY)
    resp = grant(kind, request)
    assert check_response(resp, request_der=request, trusted_roots_pem=roots(kind)) == resp

    data = tmp_path / "document.bin"
    data.write_bytes(DATA)
    info = verify_token(resp, data_path=str(data), trusted_roots_pem=roots(kind))
    assert info == TokenInfo(
        serial=0x5EED,
        gen_time=GEN_TIME,
        policy=OTHER_POLICY,
        hash_alg="sha256",
        imprint=DIGEST,
        nonce=nonce,
        tsa_subject="CN=kyso TSA thử nghiệm,O=kyso,C=VN",
        accuracy="1.5s",
    )
    assert info.gen_time.utcoffset() == timedelta(0)
    token = token_from_response(resp)
    assert token[0] == 0x30 and token in resp
    assert verify_token(token, digest=DIGEST, trusted_roots_pem=roots(kind)) == info


@pytest.mark.parametrize("alg", ["sha384", "sha512"])
def test_other_hashes(alg: str) -> None:
    digest = hashlib.new(alg, DATA).digest()
    request, _ = make_request(digest, alg)
    info = verify_token(grant("ec-p256", request), digest=digest, trusted_roots_pem=roots())
    assert info.hash_alg == alg and info.policy == DEFAULT_POLICY


def test_make_request_checks_arguments() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        make_request(DIGEST[:20])
    with pytest.raises(ValueError, match="unsupported hash"):
        make_request(hashlib.sha1(DATA).digest(), "sha1")
    request, nonce = make_request(DIGEST, "SHA-256", nonce=7, cert_req=False)
    req = parse_request(request, POLICY)
    assert nonce == 7 and req.nonce == 7 and req.cert_req is False
    nonces = {make_request(DIGEST)[1] for _ in range(20)}
    assert len(nonces) == 20 and all(0 < n < 1 << 64 for n in nonces)


def test_without_cert_req_the_certificate_must_be_given() -> None:
    request, _ = make_request(DIGEST, cert_req=False)
    resp = grant("ec-p256", request)
    with pytest.raises(TimestampError, match="neither in the token nor given"):
        check_response(resp, request_der=request)
    p = pki("ec-p256")
    check_response(resp, request_der=request, tsa_certificate_der=p.tsa_der)
    info = verify_token(resp, tsa_certificate_der=p.tsa_der, trusted_roots_pem=roots())
    assert info.imprint == DIGEST


def test_chain_from_the_token_with_an_intermediate_missing(tmp_path: Path) -> None:
    """include_chain=False: the token has only the TSA certificate, issued by the root."""
    request, _ = make_request(DIGEST)
    p = pki("rsa-pkcs1")
    policy = dataclasses.replace(POLICY, include_chain=False)
    resp = p.builder(policy).build(parse_request(request, policy), serial=1, gen_time=GEN_TIME)
    check_response(resp, request_der=request, trusted_roots_pem=roots("rsa-pkcs1"))


# --- refusals and mismatches ---------------------------------------------------------


def test_refusal_is_reported_with_its_failure_name() -> None:
    request, _ = make_request(DIGEST)
    refusal = rejection_response(FailureInfo.BAD_ALG, "SHA-1 is not accepted: use SHA-256")
    with pytest.raises(TimestampError) as info:
        check_response(refusal, request_der=request)
    assert info.value.failure == "badAlg"
    assert "SHA-1 is not accepted" in info.value.text
    assert str(info.value).startswith("badAlg: ")
    for failure in FailureInfo:
        with pytest.raises(TimestampError) as info:
            token_from_response(rejection_response(failure, "x"))
        assert info.value.failure == failure.rfc_name
        with pytest.raises(TimestampError):
            verify_token(rejection_response(failure, "x"))


def test_reply_to_another_request_is_detected() -> None:
    request, nonce = make_request(DIGEST, policy=OTHER_POLICY)
    other_digest = hashlib.sha256(b"another document").digest()
    other_request, _ = make_request(other_digest, nonce=nonce, policy=OTHER_POLICY)
    with pytest.raises(TimestampError, match="another message imprint"):
        check_response(grant("ec-p256", other_request), request_der=request)
    with pytest.raises(TimestampError, match="does not stamp this digest"):
        verify_token(grant("ec-p256", request), digest=other_digest)

    same_digest_other_nonce, _ = make_request(DIGEST, nonce=nonce + 1, policy=OTHER_POLICY)
    with pytest.raises(TimestampError, match="nonce"):
        check_response(grant("ec-p256", same_digest_other_nonce), request_der=request)

    with pytest.raises(TimestampError, match="policy"):
        check_response(grant("ec-p256", request, policy=DEFAULT_POLICY), request_der=request)

    with pytest.raises(TimestampError, match="asked for the TSA certificate"):
        check_response(
            grant("ec-p256", request, cert_req=False),
            request_der=request,
            tsa_certificate_der=pki("ec-p256").tsa_der,
        )


def test_file_mismatch(tmp_path: Path) -> None:
    request, _ = make_request(DIGEST)
    other = tmp_path / "other.bin"
    other.write_bytes(DATA + b".")
    with pytest.raises(TimestampError, match="does not stamp"):
        verify_token(grant("ec-p256", request), data_path=str(other))
    with pytest.raises(TimestampError, match="cannot read"):
        verify_token(grant("ec-p256", request), data_path=str(tmp_path / "missing"))


# --- tampering -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_tampered_tst_info_fails_message_digest(kind: str) -> None:
    request, _ = make_request(DIGEST)
    resp = grant(kind, request)
    at = resp.index(DIGEST) + 3  # a byte of the imprint inside the TSTInfo
    with pytest.raises(TimestampError, match="message-digest"):
        verify_token(flip(resp, at))
    serial_at = resp.index(b"\x02\x02\x5e\xed") + 3  # the serialNumber
    with pytest.raises(TimestampError, match="message-digest"):
        verify_token(flip(resp, serial_at))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_tampered_signed_attributes_or_signature_fail(kind: str) -> None:
    request, _ = make_request(DIGEST)
    resp = grant(kind, request)
    st = resp.index(bytes.fromhex("06092a864886f70d010905"))  # signing-time attribute
    with pytest.raises(TimestampError, match="signature does not verify"):
        verify_token(flip(resp, st + 17))  # a digit of the UTCTime
    with pytest.raises(TimestampError, match="signature does not verify"):
        verify_token(flip(resp, len(resp) - 5))  # inside the signature value


def test_wrong_root_fails_the_chain() -> None:
    request, _ = make_request(DIGEST)
    resp = grant("ec-p256", request)
    _, stranger = make_ca(KeyAlgorithm.EC_P256, Scheme.ECDSA, 1)
    with pytest.raises(TimestampError, match="does not chain to a trusted root"):
        verify_token(resp, trusted_roots_pem=pem(stranger))
    with pytest.raises(TimestampError, match="does not chain"):
        check_response(resp, request_der=request, trusted_roots_pem=roots("rsa-pkcs1"))
    with pytest.raises(TimestampError, match="not PEM"):
        verify_token(resp, trusted_roots_pem=b"junk")


def test_token_outside_the_certificate_validity() -> None:
    request, _ = make_request(DIGEST)
    req = parse_request(request, POLICY)
    late = pki("ec-p256").builder().build(req, serial=1, gen_time=NOW + timedelta(days=400))
    with pytest.raises(TimestampError, match="not at the token's time"):
        verify_token(late)


def test_ess_signing_certificate_must_name_the_signer() -> None:
    """Two certificates for the TSA key with the same issuer and serial: the sid matches
    both, the signature verifies with both, only the ESSCertIDv2 hash tells them apart."""
    p = pki("ec-p256")
    first = p.issue(serial=4242)
    twin = p.issue(serial=4242, not_after=NOW + timedelta(days=100))
    builder = p.builder(certificate_der=first)
    request, _ = make_request(DIGEST, cert_req=False)
    resp = builder.build(parse_request(request, POLICY), serial=1, gen_time=GEN_TIME)
    verify_token(resp, tsa_certificate_der=first, trusted_roots_pem=roots())
    with pytest.raises(TimestampError, match="signing-certificate attribute names another"):
        verify_token(resp, tsa_certificate_der=twin)


def test_tsa_name_must_be_the_signer() -> None:
    builder = pki("ec-p256").builder()
    other = a_x509.Name.build({"common_name": "someone else"}).dump()
    builder._tsa_name = b"\xa0" + bytes((len(other) + 2,)) + b"\xa4" + bytes((len(other),)) + other
    request, _ = make_request(DIGEST)
    resp = builder.build(parse_request(request, POLICY), serial=1, gen_time=GEN_TIME)
    with pytest.raises(TimestampError, match="names another TSA"):
        verify_token(resp)


def test_malformed_input() -> None:
    for junk in (b"", b"\x30\x03\x02\x01\x00", b"garbage", b"\x30\x80"):
        with pytest.raises(TimestampError):
            verify_token(junk)
        with pytest.raises(TimestampError):
            token_from_response(junk)
    request, _ = make_request(DIGEST)
    with pytest.raises(ValueError, match="request_der"):
        check_response(grant("ec-p256", request), request_der=b"junk")


@functools.cache
def _fuzz_response() -> bytes:
    return grant("rsa-pkcs1", make_request(DIGEST, nonce=99)[0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=3))
def test_fuzz_verify_raises_only_timestamp_error(edits: list[tuple[int, int]]) -> None:
    resp = bytearray(_fuzz_response())
    for at, value in edits:
        resp[at % len(resp)] = value
    try:
        verify_token(bytes(resp), trusted_roots_pem=roots("rsa-pkcs1"))
    except TimestampError:
        pass
    try:
        token_from_response(bytes(resp[: edits[0][0] % len(resp)]))
    except TimestampError:
        pass


# --- tokens made by OpenSSL ----------------------------------------------------------

TS_CONFIG = """\
[ tsa ]
default_tsa = tsa1

[ tsa1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = 3
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = {ess}
"""


@pytest.mark.parametrize("kind", ["rsa-pkcs1", "ec-p256"])
@pytest.mark.parametrize("ess", ["sha256", "sha1"])  # sha1: RFC 3161 v1 signing-certificate
def test_verify_openssl_tokens(tmp_path: Path, kind: str, ess: str) -> None:
    p = pki(kind)
    p.write(tmp_path)
    (tmp_path / "serial").write_text("0A\n")
    (tmp_path / "ts.cnf").write_text(TS_CONFIG.format(dir=tmp_path, policy=DEFAULT_POLICY, ess=ess))
    (tmp_path / "data.bin").write_bytes(DATA)
    request, nonce = make_request(DIGEST)
    (tmp_path / "req.tsq").write_bytes(request)
    openssl(
        "ts",
        "-reply",
        "-config",
        "ts.cnf",
        "-queryfile",
        "req.tsq",
        "-out",
        "resp.tsr",
        cwd=tmp_path,
    )
    resp = (tmp_path / "resp.tsr").read_bytes()
    check_response(resp, request_der=request, trusted_roots_pem=roots(kind))
    info = verify_token(resp, data_path=str(tmp_path / "data.bin"), trusted_roots_pem=roots(kind))
    assert (info.serial, info.nonce, info.policy) == (
        0x0B,
        nonce,
        DEFAULT_POLICY,
    )  # serial file + 1
    assert info.accuracy == "1.5001s"


# --- packaging -----------------------------------------------------------------------


def test_tsp_codec_imports_no_server_module() -> None:
    code = (
        "import sys, signer.formats.tsp\n"
        "bad = [m for m in ('tsa', 'registry', 'pkcs11', 'sqlalchemy', 'signer.keys.store',"
        " 'signer.runtime') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- the TSA's request parser, fuzzed (hypothesis, bounded) ------------------------------
# Whatever the bytes, ``parse_request`` returns a request or raises ``Rejection`` with a
# failure info: never another exception, which would be a 500 or an INTERNAL, not a reply.

FUZZ_POLICY = TsaPolicy(default_policy="0.4.0.2023.1.1", accepted_policies=frozenset({"1.2.3.4"}),
                   accuracy_ms=0, include_chain=False)
VALID = [
    make_request(hashlib.sha256(b"x").digest(), nonce=0x1234, policy="1.2.3.4")[0],
    make_request(hashlib.sha512(b"y").digest(), "sha512")[0],
    make_request(hashlib.sha384(b"z").digest(), "sha384", nonce=2**64 + 7, cert_req=False)[0],
]
FUZZ_REQUESTS = settings(max_examples=1500, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _outcome(der: bytes) -> str:
    try:
        req = parse_request(der, FUZZ_POLICY)
    except Rejection as r:
        assert r.text  # a reason a person can read
        return r.failure.name
    assert isinstance(req, ParsedRequest)
    return "granted"


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid request with a few bytes flipped, cut, inserted or removed."""
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[i] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and data:
            del data[i:i + draw(st.integers(1, 8))]
    return bytes(data)


@FUZZ_REQUESTS
@given(mutated())
def test_mutated_requests_get_a_reply(der: bytes) -> None:
    _outcome(der)


@FUZZ_REQUESTS
@given(st.binary(max_size=300))
def test_random_bytes_get_a_reply(der: bytes) -> None:
    assert _outcome(der) in {"BAD_REQUEST", "BAD_ALG", "BAD_DATA_FORMAT", "UNACCEPTED_POLICY",
                             "UNACCEPTED_EXTENSION", "granted"}


def test_the_valid_seeds_are_granted() -> None:
    assert [_outcome(v) for v in VALID] == ["granted"] * 3
