"""Idempotency keys and client failover over several nodes (one database, one token)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from clients.client import KysoClient, KysoClientError
from signer.formats.tsp import TimeStampResp, make_request
from tests.servers import Server, server_env, start_server, stop_server

pytestmark = pytest.mark.e2e
H13 = "000.00.00.H13"


def _count(url: str, sql: str, **params: object) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text(sql), params).scalar() or 0)
    engine.dispose()
    return n


def test_a_retried_request_returns_the_first_reply_and_records_once(server: Server) -> None:
    url = server.env["KYSO_STORE_URL"]
    digest = os.urandom(32)
    with server.client() as c:
        first = c.sign_digests(H13, [digest], cms=True, idempotency_key="dms-7-attempt")
        again = c.sign_digests(H13, [digest], cms=True, idempotency_key="dms-7-attempt")
        assert again.SerializeToString() == first.SerializeToString()
        with pytest.raises(KysoClientError) as exc:  # the key names one request only
            c.sign_digests(H13, [os.urandom(32)], cms=True, idempotency_key="dms-7-attempt")
        assert exc.value.code == "INVALID_ARGUMENT" and "already used" in exc.value.message
        tokens_before = _count(url, "SELECT count(*) FROM tsa_tokens")
        req = make_request(os.urandom(32))[0]
        t1 = c.timestamp(req, idempotency_key="ts-1")
        t2 = c.timestamp(req, idempotency_key="ts-1")
        assert t1 == t2
    assert _count(url, "SELECT count(*) FROM signature_records WHERE digest = :d",
                  d=digest) == 1
    assert _count(url, "SELECT count(*) FROM tsa_tokens") == tokens_before + 1


def test_clients_fail_over_when_a_node_is_killed_under_load(tmp_path: Path) -> None:
    """Signing and gRPC timestamps, balanced over two nodes; one is killed (SIGKILL)."""
    env_a = server_env(tmp_path / "a", "kyso-e2e-failover")
    env_b = dict(env_a, KYSO_NODE_ID="e2e-b")
    env_a["KYSO_NODE_ID"] = "e2e-a"
    (tmp_path / "b").mkdir()
    a = start_server(tmp_path / "a", env_a, "--demo")
    b = start_server(tmp_path / "b", env_b)
    url = env_a["KYSO_STORE_URL"]
    received: list[bytes] = []
    serials: list[str] = []  # of the timestamp tokens clients received
    errors: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def stamps() -> None:
        with KysoClient(f"{a.endpoint},{b.endpoint}", token=a.token, timeout=20) as c:
            while not stop.is_set():
                try:
                    resp = TimeStampResp.load(c.timestamp(make_request(os.urandom(32))[0]))
                except KysoClientError as exc:
                    with lock:
                        errors.append(f"{exc.code}: {exc.message}")
                    continue
                tst = resp["time_stamp_token"]["content"]["encap_content_info"]["content"]
                with lock:
                    serials.append(format(tst.parsed["serial_number"].native, "x"))

    def load() -> None:
        with KysoClient(f"{a.endpoint},{b.endpoint}", token=a.token, timeout=20) as c:
            while not stop.is_set():
                d = os.urandom(32)
                try:
                    c.sign_digests(H13, [d])
                except KysoClientError as exc:
                    with lock:
                        errors.append(f"{exc.code}: {exc.message}")
                    continue
                with lock:
                    received.append(d)

    threads = [threading.Thread(target=load) for _ in range(3)]
    threads.append(threading.Thread(target=stamps))
    try:
        for t in threads:
            t.start()
        time.sleep(2)
        a.proc.kill()  # kill -9: no drain, no goodbye
        a.proc.wait(10)
        before_kill = len(received)
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join(30)
    finally:
        stop.set()
        stop_server(b)
        stop_server(a)
    assert not errors, errors[:5]
    assert before_kill > 0 and len(received) > before_kill  # B went on serving
    engine = create_engine(url)
    with engine.connect() as conn:
        nodes = dict(conn.execute(text(  # type: ignore[arg-type]
            "SELECT node_id, count(*) FROM signature_records GROUP BY node_id")).all())
        # every signature a client received has exactly one durable record
        recorded = {bytes(r[0]) for r in conn.execute(text(
            "SELECT digest FROM signature_records"))}
        total = conn.execute(text("SELECT count(*) FROM signature_records")).scalar()
        token_serials = [r[0] for r in conn.execute(text("SELECT serial FROM tsa_tokens"))]
    engine.dispose()
    # every token a client received is on record, and no serial was issued twice
    assert serials and set(serials) <= set(token_serials)
    assert len(token_serials) == len(set(token_serials))
    assert nodes.get("e2e-a", 0) > 0 and nodes.get("e2e-b", 0) > 0, nodes
    assert set(received) <= recorded
    assert total == len(recorded)  # no digest recorded twice


def test_changes_made_on_one_node_reach_the_other_within_the_documented_bound(
    tmp_path: Path,
) -> None:
    """docs/deployment.md: a revocation within 2 s, a new agency and its new key (made
    in the shared token by the other node) on the first request, a compromise on the
    next request."""
    env_a = server_env(tmp_path / "a", "kyso-e2e-propagate")
    env_b = dict(env_a, KYSO_NODE_ID="e2e-pb")
    env_a["KYSO_NODE_ID"] = "e2e-pa"
    (tmp_path / "b").mkdir()
    a = start_server(tmp_path / "a", env_a, "--demo")
    b = start_server(tmp_path / "b", env_b)
    try:
        with KysoClient(a.endpoint, token=a.token) as admin_a:
            made = admin_a.create_client("dms-propagate", grants=[("signer", "", False)])
            admin_a.create_agency("000.00.00.G09", "Bộ thử lan truyền")
            key = admin_a.generate_key("000.00.00.G09", algorithm="ec-p256")
            admin_a.issue_dev_certificate("000.00.00.G09")
        with KysoClient(b.endpoint, token=made.token) as dms_b:
            # the new agency and its key, generated by node A in the shared token
            resp = dms_b.sign_digests("000.00.00.G09", [os.urandom(32)])
            assert resp.key_id == key.key_id
            with KysoClient(a.endpoint, token=a.token) as admin_a:
                admin_a.revoke_client("dms-propagate")
            revoked_at = time.monotonic()
            while True:
                started = time.monotonic()
                try:
                    dms_b.sign_digests("000.00.00.G09", [os.urandom(32)])
                except KysoClientError as exc:
                    assert exc.code == "UNAUTHENTICATED", exc
                    break
                # a call that *started* more than 2 s after the revocation must be refused
                assert started - revoked_at < 2.3, "revocation took more than 2 s"
                time.sleep(0.1)
        with KysoClient(b.endpoint, token=a.token) as admin_b:
            admin_b.sign_digests("000.00.00.G09", [os.urandom(32)])  # cached on B now
            with KysoClient(a.endpoint, token=a.token) as admin_a:
                admin_a.mark_compromised(key.key_id, "lost laptop test")
            with pytest.raises(KysoClientError) as exc:  # the very next request on B
                admin_b.sign_digests("000.00.00.G09", [os.urandom(32)])
            assert exc.value.code == "FAILED_PRECONDITION", exc.value
    finally:
        stop_server(b)
        stop_server(a)
