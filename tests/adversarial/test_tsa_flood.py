"""Promise: the anonymous HTTP TSA cannot starve signing (issue 12, item 6).

Attacker: anyone who can reach ``POST /tsa`` (RFC 3161 over HTTP needs no
credentials). Three ways to hurt the node, each tried on a real server with its
own SoftHSM token:

* **slowloris**: open connections and send the headers, or the body, a byte at a
  time, so that each holds server resources for as long as the attacker likes. The
  server must cut such a client off (``tsa.http_read_timeout_s``, and the keep-alive
  timer ``tsa.http_keepalive_timeout_s`` for headers) while serving everyone else;
* **too many connections**: beyond ``tsa.http_max_connections`` a connection is
  answered HTTP 503 with an RFC 3161 rejection (``systemFailure``) and
  ``Retry-After``, and closed; beyond as many again it is closed at once; the
  connections already admitted keep working;
* **a flood of valid queries** while an agency signs: timestamping has its own small
  budget (``tsa.http_threads`` worker threads, ``tsa.http_max_queue`` waiting
  requests, ``tsa.max_hsm_sessions`` HSM sessions); beyond it requests are shed
  with 503 + rejection body at once, counted in ``kyso_tsa_http_shed_total``. No
  ``SignDigests`` call may fail, and every granted token and every signature has
  its record. The threads answering HTTP run at a lower CPU priority than signing's;
* **shutdown mid-flood**: SIGTERM while the queue is full still drains what was
  admitted; every token a client received is on record.

No timing thresholds (speed lives in docs/benchmarks.md): the tests assert status
codes, bodies, failures and records. The only clock is a give-up deadline, many
times the configured timeouts, after which a connection still open counts as
"never cut off".
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import select
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from kyso.common.v1 import common_pb2
from kyso.signer.v1 import signer_pb2, signer_pb2_grpc
from signer.formats.tsp import TimeStampResp, make_request
from tests.adversarial.nodes import DEMO, Node
from tests.helpers import hsm_unavailable_reason
from tests.servers import Server, server_env

pytestmark = pytest.mark.e2e

QUERY = "application/timestamp-query"
METRICS = re.compile(r"kyso: serving Prometheus metrics on (\S+)")
GIVE_UP_S = 30.0  # a connection still open this long after the attack began was never cut


def _nice(stat: Path) -> int | None:
    """A thread's nice value (field 19 of /proc/PID/task/TID/stat); None when the thread
    ended between listing the tasks and reading this one (it happens: the series of
    fresh-clone runs caught it)."""
    try:
        return int(stat.read_text().rpartition(")")[2].split()[16])
    except (ProcessLookupError, FileNotFoundError):
        return None


def _node(tmp_path: Path, label: str, **tsa: str) -> Node:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    env = server_env(tmp_path, label)
    env["KYSO_SERVER_METRICS_LISTEN"] = "127.0.0.1:0"
    env.update({f"KYSO_TSA_{k.upper()}": v for k, v in tsa.items()})
    node = Node(tmp_path, env, ("--demo",))
    node.start()
    return node


def _addr(srv: Server) -> tuple[str, int]:
    u = urllib.parse.urlsplit(srv.tsa_url)
    assert u.hostname and u.port
    return u.hostname, u.port


def _query(label: str) -> bytes:
    return make_request(hashlib.sha256(label.encode()).digest())[0]


def _post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, dict[str, str], bytes]:
    conn.request("POST", "/tsa", body=body, headers={"Content-Type": QUERY})
    resp = conn.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def _status(body: bytes) -> tuple[str, set[str]]:
    """The RFC 3161 status of a DER TimeStampResp and its failure bits."""
    st = TimeStampResp.load(body)["status"]
    return st["status"].native, set(st["fail_info"].native or ())


def _serial(body: bytes) -> str:
    tst = TimeStampResp.load(body)["time_stamp_token"]["content"]["encap_content_info"]
    return format(tst["content"].parsed["serial_number"].native, "x")


def _assert_shed(status: int, headers: dict[str, str], body: bytes) -> None:
    """HTTP 503 that an RFC 3161 client understands: a rejection saying systemFailure,
    and that an HTTP client understands: Retry-After."""
    assert status == 503, (status, body[:200])
    assert headers.get("content-type", "").startswith("application/timestamp-reply"), headers
    assert "retry-after" in headers, headers
    assert _status(body) == ("rejection", {"system_failure"}), _status(body)


def _metrics(srv: Server) -> dict[str, float]:
    url = next(m.group(1) for line in srv.log().splitlines() if (m := METRICS.search(line)))
    samples: dict[str, float] = {}
    for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


# --- (a) slowloris ----------------------------------------------------------------------


def _dribble(addr: tuple[str, int], head: bytes, drip: Iterator[bytes],
             outcome: list[str], started: threading.Barrier) -> None:
    """Send ``head`` then one byte of ``drip`` every 0.2 s; note whether the server cut
    the connection (EOF or reset) before the give-up deadline."""
    s = socket.create_connection(addr, timeout=10)
    try:
        s.sendall(head)
        started.wait()
        deadline = time.monotonic() + GIVE_UP_S
        while time.monotonic() < deadline:
            readable, _, _ = select.select([s], [], [], 0.2)
            if readable and not s.recv(65536):  # a 408 may come first; then EOF
                outcome.append("cut")
                return
            s.sendall(next(drip))
        outcome.append("still open")
    except OSError:  # reset, broken pipe
        outcome.append("cut")
    finally:
        s.close()


def _bytes(data: bytes) -> Iterator[bytes]:
    while True:
        for b in data:
            yield bytes([b])


def test_slowloris_is_cut_off_and_blocks_no_one(tmp_path: Path) -> None:
    node = _node(tmp_path, "kyso-adv-slow", http_read_timeout_s="1",
                 http_keepalive_timeout_s="1")
    try:
        srv = node.server
        assert srv is not None
        addr = _addr(srv)
        headers_dripped = (f"POST /tsa HTTP/1.1\r\nHost: {addr[0]}\r\nContent-Type: {QUERY}\r\n"
                           ).encode() + b"".join(b"X-Pad-%d: x\r\n" % i for i in range(100))
        body_head = (f"POST /tsa HTTP/1.1\r\nHost: {addr[0]}\r\nContent-Type: {QUERY}\r\n"
                     "Content-Length: 16000\r\n\r\n").encode()
        outcome: list[str] = []
        started = threading.Barrier(17)
        attackers = [threading.Thread(target=_dribble, args=(
            addr, b"", _bytes(headers_dripped), outcome, started)) for _ in range(8)]
        attackers += [threading.Thread(target=_dribble, args=(
            addr, body_head, _bytes(b"\x30"), outcome, started)) for _ in range(8)]
        for a in attackers:
            a.start()
        started.wait()
        # Meanwhile everyone else is served, on fresh connections and on a kept-alive one.
        kept = http.client.HTTPConnection(*addr, timeout=30)
        for i in range(10):
            fresh = http.client.HTTPConnection(*addr, timeout=30)
            status, _, body = _post(fresh, _query(f"innocent {i}"))
            fresh.close()
            assert status == 200 and _status(body)[0] == "granted", (status, body[:200])
            status, _, body = _post(kept, _query(f"kept {i}"))
            assert status == 200 and _status(body)[0] == "granted", (status, body[:200])
        kept.close()
        for a in attackers:
            a.join(GIVE_UP_S + 15)
        assert outcome == ["cut"] * 16, outcome
        shed = _metrics(srv)
        assert shed.get('kyso_tsa_http_shed_total{reason="read_timeout"}', 0) >= 8, shed
    finally:
        node.stop()


# --- (b) the connection limit -----------------------------------------------------------


def test_connections_beyond_the_limit_get_503_and_a_rejection(tmp_path: Path) -> None:
    node = _node(tmp_path, "kyso-adv-conns", http_max_connections="4",
                 http_keepalive_timeout_s="60")
    try:
        srv = node.server
        assert srv is not None
        addr = _addr(srv)
        admitted = [http.client.HTTPConnection(*addr, timeout=30) for _ in range(4)]
        for i, conn in enumerate(admitted):
            status, _, body = _post(conn, _query(f"admitted {i}"))
            assert status == 200 and _status(body)[0] == "granted", (status, body[:200])
        # Four more connections: each is told to come back later, in RFC 3161 terms...
        excess = [socket.create_connection(addr, timeout=30) for _ in range(4)]
        # ...and beyond as many again, a connection is closed at once.
        refused = socket.create_connection(addr, timeout=30)
        try:
            refused.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            got = refused.recv(65536)
        except OSError:
            got = b""
        refused.close()
        assert got == b"", got[:200]
        for i, s in enumerate(excess):
            conn = http.client.HTTPConnection(*addr, timeout=30)
            conn.sock = s
            status, headers, body = _post(conn, _query(f"excess {i}"))
            _assert_shed(status, headers, body)
            assert headers.get("connection", "").lower() == "close", headers
            conn.close()
        # The admitted connections never noticed.
        for i, conn in enumerate(admitted):
            status, _, body = _post(conn, _query(f"admitted again {i}"))
            assert status == 200 and _status(body)[0] == "granted", (status, body[:200])
            conn.close()
        # Their slots are free again once they are gone (the server notices closes
        # asynchronously: a fresh connection may still be counted as excess at first).
        deadline = time.monotonic() + GIVE_UP_S
        while True:
            conn = http.client.HTTPConnection(*addr, timeout=30)
            status, headers, body = _post(conn, _query("after"))
            conn.close()
            if status == 200 or time.monotonic() > deadline:
                break
            _assert_shed(status, headers, body)
            time.sleep(0.2)
        assert status == 200 and _status(body)[0] == "granted", (status, body[:200])
        m = _metrics(srv)
        assert m.get('kyso_tsa_http_shed_total{reason="connections"}', 0) >= 4, m
        assert m.get('kyso_tsa_http_shed_total{reason="accept"}', 0) >= 1, m
    finally:
        node.stop()


# --- (c) a flood of valid queries while an agency signs ---------------------------------


def test_a_flood_of_valid_queries_is_shed_and_signing_never_fails(tmp_path: Path) -> None:
    node = _node(tmp_path, "kyso-adv-flood", http_threads="1", http_max_queue="2",
                 max_hsm_sessions="1")
    srv = node.server
    assert srv is not None and srv.token is not None
    addr = _addr(srv)
    stop = threading.Event()
    answers: list[tuple[int, dict[str, str], bytes]] = []
    flood_errors: list[str] = []

    def flood(k: int) -> None:
        conn = http.client.HTTPConnection(*addr, timeout=60)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, headers, body = _post(conn, _query(f"flood {k} {i}"))
            except (OSError, http.client.HTTPException) as exc:
                flood_errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(*addr, timeout=60)
                continue
            answers.append((status, headers, body))
            if headers.get("connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(*addr, timeout=60)
        conn.close()

    signed: list[bytes] = []
    failures: list[str] = []
    meta = (("authorization", f"Bearer {srv.token}"),)

    def sign(k: int) -> None:
        # Plain stubs, no retries: a failure must show, not be retried away.
        with grpc.insecure_channel(srv.endpoint) as ch:
            stub = signer_pb2_grpc.SignerServiceStub(ch)
            for i in range(60):
                digest = hashlib.sha256(f"signing {k} {i} {os.urandom(8).hex()}".encode()).digest()
                request = signer_pb2.SignDigestsRequest(
                    agency_code=DEMO, digests=[signer_pb2.DigestToSign(
                        digest=digest, hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256)])
                try:
                    stub.SignDigests(request, metadata=meta, timeout=60)
                    signed.append(digest)
                except grpc.RpcError as exc:
                    failures.append(f"{exc.code().name}: {exc.details()}")

    flooders = [threading.Thread(target=flood, args=(k,)) for k in range(24)]
    signers = [threading.Thread(target=sign, args=(k,)) for k in range(2)]
    try:
        for t in flooders:
            t.start()
        time.sleep(1)  # the flood is on before signing starts
        for t in signers:
            t.start()
        for t in signers:
            t.join(600)
    finally:
        stop.set()
        for t in flooders:
            t.join(120)
    m = _metrics(srv)
    # The threads answering HTTP (one worker thread and the event loop here) yield the CPU
    # to signing: Linux nice 10, the gRPC threads 0 (field 19 of /proc/PID/task/TID/stat).
    nice = [n for p in Path(f"/proc/{srv.proc.pid}/task").glob("*/stat")
            if (n := _nice(p)) is not None]
    node.stop()  # graceful: drains what was admitted
    assert nice.count(10) == 2 and nice.count(0) == len(nice) - 2 > 8, sorted(nice)

    assert not failures, failures[:5]
    assert len(signed) == 120
    assert not flood_errors, flood_errors[:5]
    statuses = [a[0] for a in answers]
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    shed = [a for a in answers if a[0] == 503]
    granted = [a for a in answers if a[0] == 200]
    assert shed, "no timestamp request was shed"
    assert granted, "no timestamp request was granted"
    for status, headers, body in shed:
        _assert_shed(status, headers, body)
    assert m.get('kyso_tsa_http_shed_total{reason="queue_full"}', 0) == len(shed), m
    for _, _, body in granted:
        assert _status(body)[0] == "granted", _status(body)
    # Nothing acknowledged is lost: every granted token and every signature is on record.
    engine = node.database()
    with engine.connect() as c:
        serials = {r[0] for r in c.execute(text("SELECT serial FROM tsa_tokens"))}
        digests = {bytes(r[0]) for r in c.execute(text("SELECT digest FROM signature_records"))}
    engine.dispose()
    missing = {_serial(b) for _, _, b in granted} - serials
    assert not missing, sorted(missing)[:5]
    assert set(signed) <= digests


def test_shutdown_under_flood_loses_no_granted_token(tmp_path: Path) -> None:
    """SIGTERM while the queue is full: the node stops accepting, answers what it admitted
    and exits cleanly; every token a client received is on record."""
    node = _node(tmp_path, "kyso-adv-drain", http_threads="2", http_max_queue="8")
    srv = node.server
    assert srv is not None
    addr = _addr(srv)
    answers: list[tuple[int, dict[str, str], bytes]] = []
    stop = threading.Event()

    def flood(k: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            conn = http.client.HTTPConnection(*addr, timeout=60)
            try:
                answers.append(_post(conn, _query(f"drain {k} {i}")))
            except (OSError, http.client.HTTPException):
                pass  # the node is going away
            finally:
                conn.close()

    flooders = [threading.Thread(target=flood, args=(k,)) for k in range(16)]
    for t in flooders:
        t.start()
    deadline = time.monotonic() + GIVE_UP_S
    while sum(a[0] == 200 for a in answers) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    code = node.stop()  # SIGTERM, mid-flood
    stop.set()
    for t in flooders:
        t.join(120)
    assert code == 0, srv.log()[-2000:]
    assert "did not stop cleanly" not in srv.log(), srv.log()[-2000:]
    assert {a[0] for a in answers} <= {200, 503}
    granted = [b for s, _, b in answers if s == 200]
    assert len(granted) >= 50
    engine = node.database()
    with engine.connect() as c:
        serials = {r[0] for r in c.execute(text("SELECT serial FROM tsa_tokens"))}
    engine.dispose()
    missing = {_serial(b) for b in granted} - serials
    assert not missing, sorted(missing)[:5]
