"""signer.formats.tsp, the TSA's side of the RFC 3161 codec: parse_request's refusals (weak or
unknown hashes, unaccepted policy and extensions, wrong imprint length, malformed and non-minimal
DER, nonce bounds) on requests from the real `openssl ts -query` and hand-built DER, rejection
responses read by `openssl ts -reply` and asn1crypto, and the request parser fuzzed (was in
tests/tsa/test_token.py)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, ClassVar

import pytest
from asn1crypto import cms as a_cms
from asn1crypto import core as a_core
from asn1crypto import tsp as a_tsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signer.digest import HashAlg
from signer.formats import _der
from signer.formats.tsp import (
    FailureInfo,
    ParsedRequest,
    Rejection,
    make_request,
    parse_request,
    rejection_response,
)
from tests.tsa.pki import (
    DATA,
    DEFAULT_POLICY,
    GEN_TIME,
    OTHER_POLICY,
    POLICY,
    openssl,
    pki,
    query,
    tst_info,
)
from tsa.token import TokenBuilder

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "data.txt").write_bytes(DATA)
    return tmp_path


# --- refusals ------------------------------------------------------------------------

OPENSSL_FAILURE_TEXT = {
    FailureInfo.BAD_ALG: "unrecognized or unsupported algorithm identifier",
    FailureInfo.BAD_REQUEST: "transaction not permitted or supported",
    FailureInfo.BAD_DATA_FORMAT: "the data submitted has the wrong format",
    FailureInfo.TIME_NOT_AVAILABLE: "the TSA's time source is not available",
    FailureInfo.UNACCEPTED_POLICY: "the requested TSA policy is not supported by the TSA",
    FailureInfo.UNACCEPTED_EXTENSION: "the requested extension is not supported by the TSA",
    FailureInfo.SYSTEM_FAILURE: "the request cannot be handled due to system failure",
}


class TimeStampResp(a_core.Sequence):
    """asn1crypto 1.5.1's tsp.TimeStampResp wrongly makes the token mandatory."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", a_tsp.PKIStatusInfo),
        ("time_stamp_token", a_cms.ContentInfo, {"optional": True}),
    ]


def refused(der: bytes) -> Rejection:
    with pytest.raises(Rejection) as info:
        parse_request(der, POLICY)
    return info.value


@pytest.mark.parametrize(("option", "name"), [("-sha1", "SHA-1"), ("-md5", "MD5")])
def test_weak_hashes_are_bad_alg(work: Path, option: str, name: str) -> None:
    r = refused(query(work, option, "-cert"))
    assert r.failure is FailureInfo.BAD_ALG
    assert name in r.text and "SHA-256" in r.text


def test_unknown_hash_and_hash_parameters_are_bad_alg() -> None:
    mi = _der.seq(_der.seq(_der.oid("1.2.3.4.5")), _der.tlv(0x04, b"\x00" * 32))
    r = refused(_der.seq(_der.integer(1), mi))
    assert r.failure is FailureInfo.BAD_ALG and "1.2.3.4.5" in r.text
    sha3 = _der.seq(_der.seq(_der.oid("2.16.840.1.101.3.4.2.8")), _der.tlv(0x04, b"\x00" * 32))
    assert "SHA3-256" in refused(_der.seq(_der.integer(1), sha3)).text
    with_params = _der.seq(
        _der.seq(_der.oid(HashAlg.SHA256.oid), _der.integer(0)), _der.tlv(0x04, b"\x00" * 32)
    )
    assert refused(_der.seq(_der.integer(1), with_params)).failure is FailureInfo.BAD_ALG


def test_unaccepted_policy(work: Path) -> None:
    r = refused(query(work, "-sha256", "-tspolicy", "1.3.6.1.4.1.99999.3161.99"))
    assert r.failure is FailureInfo.UNACCEPTED_POLICY
    assert (
        "1.3.6.1.4.1.99999.3161.99" in r.text
        and DEFAULT_POLICY in r.text
        and OTHER_POLICY in r.text
    )


def test_extension_is_unaccepted() -> None:
    der = a_tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(DATA).digest(),
            },
            "cert_req": True,
            "extensions": [{"extn_id": "1.3.6.1.4.1.99999.1", "extn_value": b"\x05\x00"}],
        }
    ).dump()
    r = refused(der)
    assert r.failure is FailureInfo.UNACCEPTED_EXTENSION and "1.3.6.1.4.1.99999.1" in r.text


@pytest.mark.parametrize(("alg", "size"), [("sha256", 31), ("sha256", 48), ("sha512", 32)])
def test_wrong_imprint_length_is_bad_data_format(alg: str, size: int) -> None:
    der = a_tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": alg},
                "hashed_message": b"\x01" * size,
            },
        }
    ).dump()
    r = refused(der)
    assert r.failure is FailureInfo.BAD_DATA_FORMAT and str(size) in r.text


def valid_request() -> bytes:
    return make_request(hashlib.sha256(DATA).digest(), nonce=0x1234, policy=OTHER_POLICY)[0]


@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"garbage, not DER",
        b"\x30\x80\x00\x00",  # BER indefinite length
        valid_request() + b"\x00",  # trailing byte
        valid_request()[:-1],  # truncated
        valid_request().replace(b"\x02\x01\x01", b"\x02\x01\x02", 1),  # version 2
        valid_request().replace(b"\x01\x01\xff", b"\x01\x01\x01", 1),  # BER TRUE
        _der.seq(  # nonce before policy: SEQUENCE fields out of order
            _der.integer(1),
            _der.seq(_der.seq(_der.oid(HashAlg.SHA256.oid)), _der.tlv(0x04, bytes(32))),
            _der.integer(5),
            _der.oid(OTHER_POLICY),
        ),
        _der.seq(  # policy twice
            _der.integer(1),
            _der.seq(_der.seq(_der.oid(HashAlg.SHA256.oid)), _der.tlv(0x04, bytes(32))),
            _der.oid(OTHER_POLICY),
            _der.oid(OTHER_POLICY),
        ),
        b"\x1f\x81\x00\x00",  # high tag number form
        _der.seq(_der.integer(1), b"\x30\x00"),  # empty messageImprint
        _der.seq(_der.integer(1)),  # no messageImprint
        "a text string",
    ],
)
def test_malformed_requests_are_bad_request(der: bytes) -> None:
    assert refused(der).failure is FailureInfo.BAD_REQUEST


def test_non_minimal_der_is_bad_request() -> None:
    good = valid_request()
    assert parse_request(good, POLICY).nonce == 0x1234
    padded_nonce = good.replace(b"\x02\x02\x12\x34", b"\x02\x03\x00\x12\x34")
    fixed = padded_nonce[:1] + bytes((padded_nonce[1] + 1,)) + padded_nonce[2:]
    assert refused(fixed).failure is FailureInfo.BAD_REQUEST
    long_length = b"\x30\x81" + good[1:2] + good[2:]  # length 0x4a written in long form
    assert refused(long_length).failure is FailureInfo.BAD_REQUEST


def test_nonces_are_bounded() -> None:
    """A nonce is echoed and recorded: at most 160 bits, or the request is badRequest."""
    digest = hashlib.sha256(b"").digest()
    for nonce in (1, (1 << 160) - 1, -(1 << 159)):
        assert parse_request(make_request(digest, nonce=nonce)[0], POLICY).nonce == nonce
    r = refused(make_request(digest, nonce=1 << 160)[0])
    assert r.failure is FailureInfo.BAD_REQUEST and "161 bits" in r.text


def test_explicit_cert_req_false_is_accepted() -> None:
    digest = hashlib.sha256(b"").digest()
    mi = _der.seq(_der.seq(_der.oid(HashAlg.SHA256.oid), _der.DER_NULL), _der.tlv(0x04, digest))
    req = parse_request(_der.seq(_der.integer(1), mi, b"\x01\x01\x00"), POLICY)
    assert req.cert_req is False and req.nonce is None and req.policy == DEFAULT_POLICY


@pytest.mark.parametrize("failure", list(FailureInfo))
def test_rejection_response_read_by_openssl(work: Path, failure: FailureInfo) -> None:
    text = "Thuật toán băm không được hỗ trợ: dùng SHA-256"
    (work / "rejection.tsr").write_bytes(rejection_response(failure, text))
    out = openssl("ts", "-reply", "-in", "rejection.tsr", "-text", cwd=work).stdout
    assert "Status: Rejected." in out
    assert f"Failure info: {OPENSSL_FAILURE_TEXT[failure]}" in out
    assert "Status description: " in out
    resp = TimeStampResp.load(rejection_response(failure, text))
    assert resp["status"]["status"].native == "rejection"
    assert resp["status"]["status_string"].native == [text]
    bit = {
        0: "bad_alg",
        2: "bad_request",
        5: "bad_data_format",
        14: "time_not_available",
        15: "unaccepted_policy",
        16: "unaccepted_extensions",
        25: "system_failure",
    }
    assert resp["status"]["fail_info"].native == {bit[failure.value]}
    assert resp["time_stamp_token"].native is None


def test_failure_bits_are_der_named_bit_lists() -> None:
    """X.690 §11.2.2: trailing zero bits are removed, so the string ends at the set bit."""
    status = TimeStampResp.load(rejection_response(FailureInfo.BAD_ALG, "x"))["status"]
    assert status["fail_info"].dump() == b"\x03\x02\x07\x80"
    status = TimeStampResp.load(rejection_response(FailureInfo.SYSTEM_FAILURE, "x"))["status"]
    assert status["fail_info"].dump() == b"\x03\x05\x06\x00\x00\x00\x40"
    status = TimeStampResp.load(rejection_response(FailureInfo.UNACCEPTED_EXTENSION, "x"))
    assert status["status"]["fail_info"].dump() == b"\x03\x04\x07\x00\x00\x80"
    assert FailureInfo.TIME_NOT_AVAILABLE.rfc_name == "timeNotAvailable"
    builder = pki("ec-p256").builder()
    assert builder.reject(FailureInfo.BAD_ALG, "x") == rejection_response(FailureInfo.BAD_ALG, "x")


# --- fuzzing ---------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_or_refuse(der: bytes) -> ParsedRequest | None:
    try:
        return parse_request(der, POLICY)
    except Rejection as r:
        assert isinstance(r.failure, FailureInfo) and r.text
        return None


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    _parse_or_refuse(data)
    _parse_or_refuse(b"\x30" + bytes((len(data) & 0x7F,)) + data)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.integers(0, 200), st.sampled_from(["set", "insert", "delete"]), st.integers(0, 255)
        ),
        min_size=1,
        max_size=4,
    )
)
def test_fuzz_mutated_requests(edits: list[tuple[int, str, int]]) -> None:
    der = bytearray(valid_request())
    for at, op, value in edits:
        i = at % (len(der) + 1)
        if op == "insert":
            der.insert(i, value)
        elif i < len(der):
            if op == "set":
                der[i] = value
            else:
                del der[i]
    req = _parse_or_refuse(bytes(der))
    if req is not None:  # whatever parses, builds into a response asn1crypto can read
        resp = _fuzz_builder().build(req, serial=1, gen_time=GEN_TIME)
        assert tst_info(resp)["message_imprint"]["hashed_message"].native == req.imprint


@functools.cache
def _fuzz_builder() -> TokenBuilder:
    return pki("ec-p256").builder()
