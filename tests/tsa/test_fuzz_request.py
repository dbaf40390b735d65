"""Fuzzing the RFC 3161 request parser (hypothesis, bounded): whatever the bytes,
``parse_request`` returns a request or raises ``Rejection`` with a failure info —
never another exception, which would be a 500 or an INTERNAL instead of a reply."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signer.formats.tsp import ParsedRequest, Rejection, make_request, parse_request
from tsa.token import TsaPolicy

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

POLICY = TsaPolicy(default_policy="0.4.0.2023.1.1", accepted_policies=frozenset({"1.2.3.4"}),
                   accuracy_ms=0, include_chain=False)
VALID = [
    make_request(hashlib.sha256(b"x").digest(), nonce=0x1234, policy="1.2.3.4")[0],
    make_request(hashlib.sha512(b"y").digest(), "sha512")[0],
    make_request(hashlib.sha384(b"z").digest(), "sha384", nonce=2**64 + 7, cert_req=False)[0],
]
FUZZ = settings(max_examples=1500, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _outcome(der: bytes) -> str:
    try:
        req = parse_request(der, POLICY)
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


@FUZZ
@given(mutated())
def test_mutated_requests_get_a_reply(der: bytes) -> None:
    _outcome(der)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_get_a_reply(der: bytes) -> None:
    assert _outcome(der) in {"BAD_REQUEST", "BAD_ALG", "BAD_DATA_FORMAT", "UNACCEPTED_POLICY",
                             "UNACCEPTED_EXTENSION", "granted"}


def test_the_valid_seeds_are_granted() -> None:
    assert [_outcome(v) for v in VALID] == ["granted"] * 3
