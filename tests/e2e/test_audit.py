"""The audit log end to end: a real server records signatures, timestamps and admin
actions; `kyso admin audit verify` says the log is intact, and after someone edits
the database while the server is down, names the edited record and exits 1."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update

from registry.db.audit import AuditCheckpointRow, AuditRecordRow
from signer.formats.tsp import make_request
from tests.helpers import hsm_unavailable_reason
from tests.servers import server_env, start_server, stop_server

pytestmark = pytest.mark.e2e
DEMO = "000.00.00.H13"
R = AuditRecordRow.__table__


def test_audit_log_records_and_detects_an_edit(tmp_path: Path) -> None:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    env = server_env(tmp_path, "kyso-e2e-audit")
    srv = start_server(tmp_path, env, "--demo")
    try:
        digests = [hashlib.sha256(f"công văn {i}".encode()).digest() for i in range(3)]
        with srv.client() as c:
            c.sign_digests(DEMO, digests)
            c.timestamp(make_request(hashlib.sha256(b"to stamp").digest())[0])

        ok = srv.cli("admin", "audit", "verify")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "audit log intact" in ok.stdout, ok.stdout
        report = json.loads(srv.cli("admin", "audit", "verify", "--json", check=True).stdout)
        assert report["ok"] and report["first_problem"] is None
        assert [n["node_id"] for n in report["nodes"]] == ["e2e"]
        listed = json.loads(srv.cli("admin", "audit", "list", "--limit", "100", "--json",
                                    check=True).stdout)["records"]
        actions = [r["action"] for r in listed]
        assert report["records"] == len(listed) >= 5
        for a in ("agency.create", "key.generate", "certificate.issue", "timestamp"):
            assert a in actions, actions
        signs = [r for r in listed if r["action"] == "sign"]
        # One chain link per request, naming every digest it signed.
        assert len(signs) == 1 and signs[0]["details"]["count"] == 3
        assert signs[0]["details"]["digests"] == [f"sha256:{d.hex()}" for d in digests]
        assert all(r["target"] == DEMO and r["details"]["format"] == "raw" for r in signs)
        assert [r["seq"] for r in listed] == list(range(1, len(listed) + 1))
        # An action the log does not know is refused, naming those it does, instead of
        # silently matching nothing.
        unknown = srv.cli("admin", "audit", "list", "--action", "key.MarkCompromised")
        assert unknown.returncode == 4, unknown.stderr
        assert "unknown audit action 'key.MarkCompromised'" in unknown.stderr
        assert "key.mark_compromised" in unknown.stderr
    finally:
        assert stop_server(srv) == 0, srv.log()

    # While the server is down, someone rewrites what was signed.
    victim = signs[0]
    forged = {**victim["details"], "digests": [f"sha256:{'00' * 32}", *victim["details"]
                                                ["digests"][1:]]}
    engine = create_engine(env["KYSO_STORE_URL"])
    with engine.begin() as conn:
        conn.execute(update(R).where(R.c.id == victim["id"])
                     .values(details=json.dumps(forged, sort_keys=True, ensure_ascii=False,
                                                separators=(",", ":"))))
        checkpoints = conn.execute(select(AuditCheckpointRow.__table__.c.seq)).scalars().all()
    engine.dispose()
    assert max(checkpoints) == listed[-1]["seq"]  # stop() signed the head

    srv = start_server(tmp_path, env, "--demo")
    try:
        bad = srv.cli("admin", "audit", "verify")
        assert bad.returncode == 1, bad.stdout + bad.stderr
        text = bad.stdout + bad.stderr
        assert "DAMAGED" in text and "edited" in text
        assert f"seq {victim['seq']}" in text and f"record id {victim['id']}" in text, text
        report = json.loads(srv.cli("admin", "audit", "verify", "--json").stdout)
        assert not report["ok"]
        assert report["first_problem"]["kind"] == "edited"
        assert report["first_problem"]["seq"] == victim["seq"]
        assert report["first_problem"]["record_id"] == victim["id"]
        # The node keeps serving and its chain goes on from where it stopped.
        with srv.client() as c:
            c.sign_digests(DEMO, digests[:1])
        after = json.loads(srv.cli("admin", "audit", "list", "--action", "sign", "--after-id",
                                   str(victim["id"]), "--json", check=True).stdout)["records"]
        assert after[-1]["seq"] == listed[-1]["seq"] + 1
    finally:
        stop_server(srv)
