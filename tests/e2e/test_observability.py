"""Prometheus /metrics, request ids and JSON logs, on a real server (one process,
then two workers whose samples one scrape must sum)."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path

import grpc
import pytest

from kyso.common.v1 import common_pb2
from kyso.signer.v1 import signer_pb2, signer_pb2_grpc
from tests.servers import Server, server_env, start_server, stop_server

pytestmark = pytest.mark.e2e
H13 = "000.00.00.H13"
METRICS = re.compile(r"kyso: serving Prometheus metrics on (\S+)")


def _metrics(srv: Server) -> dict[str, float]:
    url = next(m.group(1) for line in srv.log().splitlines() if (m := METRICS.search(line)))
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = samples.get(name, 0.0) + float(value)
    return samples


def _sign(srv: Server, n: int, request_id: str | None = None) -> grpc.Call:
    channel = grpc.insecure_channel(srv.endpoint, options=[("grpc.use_local_subchannel_pool", 1)])
    stub = signer_pb2_grpc.SignerServiceStub(channel)
    meta = [("authorization", f"Bearer {srv.token}")]
    if request_id:
        meta.append(("x-request-id", request_id))
    req = signer_pb2.SignDigestsRequest(
        agency_code=H13, format=signer_pb2.OUTPUT_FORMAT_RAW,
        digests=[signer_pb2.DigestToSign(digest=os.urandom(32),
                                         hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256)
                 for _ in range(n)])
    _, call = stub.SignDigests.with_call(req, metadata=meta, timeout=30)
    channel.close()
    return call


def test_metrics_request_ids_and_json_logs(tmp_path: Path) -> None:
    env = server_env(tmp_path, "kyso-e2e-observe")
    env.update(KYSO_SERVER_METRICS_LISTEN="127.0.0.1:0")
    srv = start_server(tmp_path, env, "--demo", "--log-format", "json")
    try:
        call = _sign(srv, 3, request_id="dms-42.abc")
        assert ("x-request-id", "dms-42.abc") in call.trailing_metadata()
        minted = dict(_sign(srv, 2).trailing_metadata())["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{16}", minted)
        # a refused call: counted by status, and its log line carries the caller's id
        channel = grpc.insecure_channel(srv.endpoint)
        with pytest.raises(grpc.RpcError) as exc:
            signer_pb2_grpc.SignerServiceStub(channel).SignDigests(
                signer_pb2.SignDigestsRequest(agency_code="000.00.00.H98", digests=[
                    signer_pb2.DigestToSign(digest=b"\0" * 32,
                                            hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256)]),
                metadata=[("authorization", f"Bearer {srv.token}"),
                          ("x-request-id", "not-found-1")], timeout=30)
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        channel.close()
        assert srv.cli("timestamp", str(Path(__file__)), "--url", srv.tsa_url, "-o",
                       str(tmp_path / "t.tsr")).returncode == 0
        m = _metrics(srv)
        sign = '{code="OK",method="/kyso.signer.v1.SignerService/SignDigests"}'
        assert m[f"kyso_rpc_requests_total{sign}"] == 2
        assert m['kyso_rpc_requests_total{code="NOT_FOUND",'
                 'method="/kyso.signer.v1.SignerService/SignDigests"}'] == 1
        assert m['kyso_signatures_total{agency="000.00.00.H13",output="raw"}'] == 5
        assert m["kyso_timestamps_issued_total"] == 1
        assert m['kyso_hsm_operation_duration_seconds_count{operation="sign"}'] >= 6
        assert m["kyso_hsm_sessions_in_use"] == 0
        assert m['kyso_health_serving{service="kyso.signer.v1.SignerService"}'] == 1
    finally:
        assert stop_server(srv) == 0, srv.log()
    records = [json.loads(line) for line in srv.log().splitlines() if line.startswith("{")]
    assert records, srv.log()
    assert {"time", "level", "logger", "node", "request_id", "message"} <= set(records[0])
    refused = [r for r in records if r["request_id"] == "not-found-1"]
    assert any("refused (NOT_FOUND)" in r["message"] for r in refused), refused
    assert all(r["node"] == "e2e" for r in records)
    # no secrets: neither the bearer token nor the HSM PIN appears anywhere in the log
    pin = Path(env["KYSO_HSM_PIN_FILE"]).read_text().strip()
    assert srv.token and srv.token not in srv.log() and pin not in srv.log()


def test_two_workers_metrics_are_summed_in_one_scrape(tmp_path: Path) -> None:
    env = server_env(tmp_path, "kyso-e2e-observe2")
    env.update(KYSO_SERVER_METRICS_LISTEN="127.0.0.1:0", KYSO_SERVER_WORKERS="2")
    srv = start_server(tmp_path, env, "--demo")
    try:
        for _ in range(6):  # new channels: the kernel spreads them over the workers
            _sign(srv, 1)
        m = _metrics(srv)
        assert m['kyso_signatures_total{agency="000.00.00.H13",output="raw"}'] == 6
    finally:
        assert stop_server(srv) == 0, srv.log()
