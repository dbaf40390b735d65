"""Fuzzing the gRPC handlers on a live server (hypothesis, bounded): well-formed
messages with arbitrary field values, and arbitrary bytes. Every call gets a status a
client can act on — never INTERNAL or UNKNOWN, which would mean an unhandled
exception — and the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kyso.signer.v1 import signer_pb2, signer_pb2_grpc
from kyso.tsa.v1 import tsa_pb2, tsa_pb2_grpc
from tests.servers import Server

# Formats and handlers: what they do does not depend on the database (records reach
# PostgreSQL in the modules that test records), so the PostgreSQL pass skips them.
pytestmark = [pytest.mark.e2e, pytest.mark.database_free]
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
ACTIONABLE = {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION",
              "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "OUT_OF_RANGE"}
codes = st.one_of(st.sampled_from(["000.00.00.H13", "000.00.00.H98", "G12.01.01", ""]),
                  st.text(max_size=40))
enum = st.integers(min_value=-3, max_value=12)


@pytest.fixture(scope="module")
def channel(server: Server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.endpoint) as ch:
        yield ch


def _status(call: object, meta: list[tuple[str, str]], request: object) -> str:
    try:
        call(request, metadata=meta, timeout=30)  # type: ignore[operator]
    except grpc.RpcError as exc:
        code: str = exc.code().name
        assert code in ACTIONABLE, f"{code}: {exc.details()}"
        assert exc.details(), "a refusal says why"
        return code
    return "OK"


@FUZZ
@given(agency=codes, digests=st.lists(st.tuples(st.binary(max_size=80), enum, st.text(
    max_size=12)), max_size=4), fmt=enum, scheme=enum, level=enum,
    key=st.one_of(st.just(""), st.text(max_size=140)))
def test_sign_digests_fuzz(server: Server, channel: grpc.Channel, agency: str,
                           digests: list[tuple[bytes, int, str]], fmt: int, scheme: int,
                           level: int, key: str) -> None:
    req = signer_pb2.SignDigestsRequest(
        agency_code=agency, format=fmt, scheme=scheme, level=level, idempotency_key=key,
        digests=[signer_pb2.DigestToSign(digest=d, hash_algorithm=h, document_type=t)
                 for d, h, t in digests])
    _status(signer_pb2_grpc.SignerServiceStub(channel).SignDigests,
            [("authorization", f"Bearer {server.token}")], req)


@FUZZ
@given(der=st.binary(max_size=200), key=st.one_of(st.just(""), st.text(max_size=140)))
def test_timestamp_fuzz(server: Server, channel: grpc.Channel, der: bytes, key: str) -> None:
    status = _status(tsa_pb2_grpc.TimestampServiceStub(channel).Timestamp,
                     [("authorization", f"Bearer {server.token}")],
                     tsa_pb2.TimestampRequest(time_stamp_req=der, idempotency_key=key))
    assert status in ("OK", "INVALID_ARGUMENT")  # refusals are RFC 3161 replies


@FUZZ
@given(body=st.binary(max_size=200))
def test_undecodable_bytes_leave_the_server_serving(server: Server, channel: grpc.Channel,
                                                    body: bytes) -> None:
    raw = channel.unary_unary("/kyso.signer.v1.SignerService/SignDigests")
    try:
        raw(body, metadata=[("authorization", f"Bearer {server.token}")], timeout=30)
    except grpc.RpcError:
        pass  # gRPC's own refusal of bytes that are not the message


def test_still_serving_after_the_fuzzing(server: Server, channel: grpc.Channel) -> None:
    r = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert r.status == health_pb2.HealthCheckResponse.SERVING
    assert server.proc.poll() is None
