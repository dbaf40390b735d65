"""`kyso serve --workers 2`: two processes share the ports, each a node of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import server_env, start_server, stop_server

pytestmark = pytest.mark.e2e


def test_two_workers_share_the_port_and_stop_cleanly(tmp_path: Path) -> None:
    env = server_env(tmp_path, "kyso-e2e-workers")
    srv = start_server(tmp_path, env, "--demo", "--workers", "2")
    try:
        assert "2 workers" in srv.log()
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
        # Each worker reports healthy and the audit chains stay intact.
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
    assert sum(nodes.values()) == 60
    assert set(nodes) <= {"e2e-0", "e2e-1"}
    assert len(nodes) == 2, f"both workers should take connections: {nodes}"
