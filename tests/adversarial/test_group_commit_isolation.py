"""Promise: one bad request never fails other requests.

Signatures, timestamps and their records are committed in groups (one transaction per
group of concurrent requests). The attacker is anonymous (RFC 3161 over HTTP needs no
credentials) or an ordinary client: a timestamp request carrying a huge nonce (stored
as hex in a bounded column, so on PostgreSQL it used to fail the whole group with a
DataError, answered "the database is unavailable, retry later"), and an idempotency
key sent to two nodes at the same instant (the second commit collides on the key).
Innocent callers signing at the same time must see no failure at all; the offending
request gets its own error, saying what is wrong with *it*.

Run by ``make test`` on SQLite and on PostgreSQL (the DataError is PostgreSQL's).
"""

from __future__ import annotations

import hashlib
import os
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import grpc
import pytest

from kyso.common.v1 import common_pb2
from kyso.signer.v1 import signer_pb2, signer_pb2_grpc
from signer.formats.tsp import TimeStampResp, make_request
from tests.adversarial.nodes import DEMO, Node, connection_per_node
from tests.servers import server_env

pytestmark = pytest.mark.e2e


def _innocent_load(node: Node, stop: threading.Event, outcomes: list[str],
                   threads: int = 3) -> list[threading.Thread]:
    """Clients signing one digest at a time until ``stop``, on plain stubs (no retries:
    a failure must show, not be retried away); every outcome is recorded."""
    assert node.server is not None
    srv = node.server
    meta = (("authorization", f"Bearer {srv.token}"),)

    def run() -> None:
        with grpc.insecure_channel(srv.endpoint) as ch:
            stub = signer_pb2_grpc.SignerServiceStub(ch)
            while not stop.is_set():
                request = signer_pb2.SignDigestsRequest(
                    agency_code=DEMO, digests=[signer_pb2.DigestToSign(
                        digest=os.urandom(32),
                        hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256)])
                try:
                    stub.SignDigests(request, metadata=meta, timeout=30)
                    outcomes.append("OK")
                except grpc.RpcError as exc:
                    outcomes.append(f"{exc.code().name}: {exc.details()}")

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    return workers


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body,
                                 headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_huge_nonce_is_refused_and_fails_no_one_else(node: Node) -> None:
    assert node.server is not None
    url = node.server.tsa_url
    stop = threading.Event()
    outcomes: list[str] = []
    workers = _innocent_load(node, stop, outcomes)
    answers: list[tuple[int, bytes]] = []

    def attack(k: int) -> None:
        for i in range(20):
            digest = hashlib.sha256(f"huge nonce {k} {i}".encode()).digest()
            body, _ = make_request(digest, nonce=(1 << 511) + i)  # a 64-byte nonce
            answers.append(_post(url, body))
            # an innocent timestamp beside it, with an ordinary 64-bit nonce
            ok_body, _ = make_request(hashlib.sha256(f"ok {k} {i}".encode()).digest())
            status, reply = _post(url, ok_body)
            resp = TimeStampResp.load(reply)
            outcomes.append("OK" if status == 200 and resp["status"]["status"].native
                            == "granted" else f"timestamp {status}")

    attackers = [threading.Thread(target=attack, args=(k,)) for k in range(3)]
    try:
        for a in attackers:
            a.start()
        for a in attackers:
            a.join(120)
    finally:
        stop.set()
        for w in workers:
            w.join(60)
    failures = [o for o in outcomes if o != "OK"]
    assert not failures, failures[:5]
    assert len(outcomes) > 40
    for status, reply in answers:
        # the request's own fault: HTTP 200 with an RFC 3161 rejection, never "retry later"
        assert status == 200, (status, reply[:200])
        st = TimeStampResp.load(reply)["status"]
        assert st["status"].native == "rejection", st.native
        assert st["fail_info"].native == {"bad_request"}, st.native
        assert "nonce" in " ".join(st["status_string"].native or []), st.native


def test_a_colliding_idempotency_key_fails_only_its_caller(tmp_path: Path) -> None:
    """Two workers (two nodes, one database) get the same keyed request at the same instant,
    again and again, while others sign: nobody else fails; of each pair, one gets the
    reply and the other either the same reply or a retryable error — and its retry gets
    that first reply, with nothing signed twice."""
    node = Node(tmp_path, server_env(tmp_path, "kyso-adv-idem"), ("--demo", "--workers", "2"))
    srv = node.start()
    assert srv.token is not None
    meta = (("authorization", f"Bearer {srv.token}"),)
    channels = connection_per_node(srv.endpoint, {"e2e-0", "e2e-1"})
    stubs = [signer_pb2_grpc.SignerServiceStub(ch) for ch in channels.values()]
    stop = threading.Event()
    outcomes: list[str] = []
    workers = _innocent_load(node, stop, outcomes)
    collided = 0
    try:
        for i in range(60):
            request = signer_pb2.SignDigestsRequest(
                agency_code=DEMO, idempotency_key=f"race-{i}-{uuid.uuid4().hex}",
                digests=[signer_pb2.DigestToSign(
                    digest=hashlib.sha256(f"race {i}".encode()).digest(),
                    hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256)])
            replies: list[object] = [None, None]
            barrier = threading.Barrier(2)

            def send(k: int, request: signer_pb2.SignDigestsRequest = request,
                     replies: list[object] = replies,
                     barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                try:
                    replies[k] = stubs[k].SignDigests(request, metadata=meta, timeout=30)
                except grpc.RpcError as exc:
                    replies[k] = exc

            pair = [threading.Thread(target=send, args=(k,)) for k in (0, 1)]
            for t in pair:
                t.start()
            for t in pair:
                t.join()
            good = [r for r in replies if isinstance(r, signer_pb2.SignDigestsResponse)]
            bad = [r for r in replies if isinstance(r, grpc.RpcError)]
            assert good, [r.details() for r in bad]
            for err in bad:
                collided += 1
                assert err.code() == grpc.StatusCode.UNAVAILABLE, err.details()
                retry = stubs[0].SignDigests(request, metadata=meta, timeout=30)
                assert retry.signatures[0].signature == good[0].signatures[0].signature
            if len(good) == 2:
                assert good[0].signatures[0].signature == good[1].signatures[0].signature
    finally:
        stop.set()
        for w in workers:
            w.join(60)
        for ch in channels.values():
            ch.close()
        node.stop()
    failures = [o for o in outcomes if o != "OK"]
    assert not failures, (collided, failures[:5])
    assert outcomes
