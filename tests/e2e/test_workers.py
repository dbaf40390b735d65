"""`kyso serve --workers 2`: two processes share the ports, each a node of its own.

What the product promises: once ``kyso serve`` prints that it is serving, *every*
worker is listening (the supervisor waits for each worker's ready report before it
prints), and each connection is served by one of them. Which worker takes a
connection is the kernel's choice (SO_REUSEPORT hashes the connection's addresses
and ports), so the test does not rely on a handful of connections spreading: it
opens fresh connections, each asking which node answered (``x-kyso-node``), until
both workers have answered. With the kernel's hash spreading connections evenly and
independently, the chance that 64 connections all reach the same worker is
2 · 2⁻⁶⁴ ≈ 1e-19 per run; the loop stops as soon as both have answered (usually
after two or three connections).
"""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, text

from tests.servers import server_env, start_server, stop_server

pytestmark = pytest.mark.e2e
MAX_CONNECTIONS = 64


def node_of_a_new_connection(endpoint: str) -> str:
    """Open a new TCP connection (a channel with its own subchannel pool: gRPC would
    otherwise reuse the process's connection) and return the node that answered it."""
    options = [("grpc.use_local_subchannel_pool", 1)]
    with grpc.insecure_channel(endpoint, options=options) as channel:
        _, call = health_pb2_grpc.HealthStub(channel).Check.with_call(
            health_pb2.HealthCheckRequest(), timeout=10)
        return str(dict(call.trailing_metadata())["x-kyso-node"])


def test_two_workers_share_the_port_and_stop_cleanly(tmp_path: Path) -> None:
    env = server_env(tmp_path, "kyso-e2e-workers")
    srv = start_server(tmp_path, env, "--demo", "--workers", "2")
    try:
        assert "2 workers" in srv.log()
        # Both workers are listening as soon as the server says it serves.
        seen: list[str] = []
        while set(seen) != {"e2e-0", "e2e-1"} and len(seen) < MAX_CONNECTIONS:
            seen.append(node_of_a_new_connection(srv.endpoint))
        assert set(seen) == {"e2e-0", "e2e-1"}, seen
        # Under load from several client processes every call succeeds.
        out = tmp_path / "b.json"
        r = srv.cli("bench", "sign", "--agency", "000.00.00.H13", "--count", "60",
                    "--concurrency", "4", "--processes", "4", "--json", str(out), timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(out.read_text())["errors"] == {}
        # The TSA over HTTP is served too (on the shared port).
        doc = tmp_path / "doc.txt"
        doc.write_text("công văn\n")
        t = srv.cli("timestamp", str(doc), "--url", srv.tsa_url, "-o", str(tmp_path / "r.tsr"))
        assert t.returncode == 0, t.stderr
        # Each worker's audit chain stays intact.
        v = srv.cli("admin", "audit", "verify", "--json")
        assert v.returncode == 0, v.stdout + v.stderr
    finally:
        assert stop_server(srv) == 0, srv.log()
    assert "kyso: stopped" in srv.log()
    engine = create_engine(env["KYSO_STORE_URL"])
    with engine.connect() as conn:
        nodes = dict(conn.execute(text(
            "SELECT node_id, count(*) FROM signature_records GROUP BY node_id")).all())
    engine.dispose()
    # Every signature is on record, made by one of the two workers.
    assert sum(nodes.values()) == 60
    assert set(nodes) <= {"e2e-0", "e2e-1"}, nodes
