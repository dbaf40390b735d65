"""tsa.http: the RFC 3161 HTTP endpoint on its own, in this process, on 127.0.0.1:0.

A fake core stands in for the TSA (no HSM, no database): it records the queries it is
given and answers a fixed DER TimeStampResp, raises, or blocks on an event until the test
releases it. The client is the standard library's (http.client, raw sockets).
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY

from signer.errors import HsmUnavailable, StoreUnavailable
from signer.formats.tsp import FailureInfo, make_request, rejection_response
from tsa.core import TsaCore
from tsa.http import QUERY, REPLY, HttpLimits, TsaHttpServer

pytestmark = pytest.mark.database_free

GIVE_UP_S = 10.0  # generous: a deadline for what should take milliseconds
MAX_BYTES = 1024
QUERY_DER = make_request(hashlib.sha256(b"tsa http unit").digest(), nonce=7)[0]
# What the fake core answers: opaque to the HTTP layer, which must pass it on unchanged.
CORE_REPLY = rejection_response(FailureInfo.BAD_DATA_FORMAT, "from the fake core")
BUSY = rejection_response(
    FailureInfo.SYSTEM_FAILURE, "the time-stamp authority is overloaded, retry later")
CROWDED = rejection_response(
    FailureInfo.SYSTEM_FAILURE, "too many connections to the time-stamp authority, retry later")


@dataclass
class FakeCore:
    """What TsaHttpServer calls on its core: ``respond(der) -> der``."""

    reply: bytes = CORE_REPLY
    # raised by the next calls, in order (then back to replying)
    failures: list[BaseException] = field(default_factory=list)
    # when set, every call waits for it (released by the test)
    gate: threading.Event | None = None
    queries: list[bytes] = field(default_factory=list)
    started: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, request_der: bytes) -> bytes:
        with self._lock:
            self.queries.append(request_der)
            failure = self.failures.pop(0) if self.failures else None
        self.started.release()
        if self.gate is not None:
            self.gate.wait(GIVE_UP_S * 3)
        if failure is not None:
            raise failure
        return self.reply

    def wait_started(self) -> None:
        assert self.started.acquire(timeout=GIVE_UP_S), "the core was never called"


@contextmanager
def serving(core: FakeCore, *, grace_s: float = 10.0, **limits: Any) -> Iterator[TsaHttpServer]:
    lim = dataclasses.replace(HttpLimits(max_request_bytes=MAX_BYTES, nice=0), **limits)
    pool = ThreadPoolExecutor(max_workers=lim.threads, thread_name_prefix="test-http")
    srv = TsaHttpServer(cast(TsaCore, core), "127.0.0.1:0", limits=lim, executor=pool,
                        shutdown_grace_s=grace_s)
    srv.start()
    try:
        assert srv.port != 0
        yield srv
    finally:
        if core.gate is not None:
            core.gate.set()
        if srv._thread is not None and srv._thread.is_alive():  # unless the test stopped it
            srv.stop()
        pool.shutdown(wait=True, cancel_futures=True)


Answer = tuple[int, http.client.HTTPResponse, bytes]


def connect(srv: TsaHttpServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(srv.host, srv.port, timeout=GIVE_UP_S)


def raw(srv: TsaHttpServer) -> socket.socket:
    return socket.create_connection((srv.host, srv.port), timeout=GIVE_UP_S)


def post(conn: http.client.HTTPConnection, body: bytes = QUERY_DER, *, path: str = "/tsa",
         content_type: str | None = QUERY, method: str = "POST") -> Answer:
    headers = {} if content_type is None else {"Content-Type": content_type}
    conn.request(method, path, body=body if method == "POST" else None, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp, resp.read()


def read_response(sock: socket.socket) -> Answer:
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    return resp.status, resp, resp.read()


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset), within GIVE_UP_S."""
    sock.settimeout(GIVE_UP_S)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def poll(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + GIVE_UP_S
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def in_thread(fn: Callable[[], Answer]) -> tuple[threading.Thread, list[Answer | BaseException]]:
    out: list[Answer | BaseException] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:
            out.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def assert_reply(answer: Answer, body: bytes = CORE_REPLY) -> None:
    status, resp, got = answer
    assert (status, resp.getheader("Content-Type"), got) == (200, REPLY, body), answer


def assert_shed(answer: Answer, body: bytes) -> None:
    """503 in both HTTP and RFC 3161 terms: a systemFailure rejection and Retry-After."""
    status, resp, got = answer
    assert status == 503, answer
    assert resp.getheader("Content-Type") == REPLY
    assert resp.getheader("Retry-After") == "1"
    assert got == body


def assert_text(answer: Answer, status: int, *fragments: str) -> str:
    got_status, resp, body = answer
    assert got_status == status, answer
    assert (resp.getheader("Content-Type") or "").startswith("text/plain")
    text = body.decode()
    for f in fragments:
        assert f in text, text
    return text


# --- what the endpoint answers ------------------------------------------------------------


def test_a_query_gets_exactly_what_the_core_answered() -> None:
    core = FakeCore()
    with serving(core) as srv:
        conn = connect(srv)
        assert_reply(post(conn))
        # parameters on the media type are fine; the connection is kept alive
        assert_reply(post(conn, content_type=f"{QUERY}; charset=binary"))
        conn.close()
    assert core.queries == [QUERY_DER, QUERY_DER]


def test_wrong_method_and_wrong_path_are_refused_before_the_core() -> None:
    core = FakeCore()
    with serving(core) as srv:
        conn = connect(srv)
        answer = post(conn, method="GET")
        assert_text(answer, 405, "POST a DER TimeStampReq", QUERY)
        assert answer[1].getheader("Allow") == "POST"
        answer = post(conn, method="PUT")
        assert_text(answer, 405, "POST a DER TimeStampReq")
        assert_text(post(conn, path="/"), 404, "not found: RFC 3161 queries go to POST /tsa")
        assert_text(post(conn, path="/tsa/x"), 404, "POST /tsa")
        conn.close()
    assert core.queries == []


@pytest.mark.parametrize(("content_type", "named"), [
    ("application/json", "got application/json"),
    ("application/timestamp-reply", "got application/timestamp-reply"),
    (None, "got none"),
])
def test_a_wrong_or_missing_content_type_is_415(content_type: str | None, named: str) -> None:
    core = FakeCore()
    with serving(core) as srv:
        conn = connect(srv)
        assert_text(post(conn, content_type=content_type), 415,
                    f"Content-Type must be {QUERY}", named)
        assert_reply(post(conn))  # the connection is still good
        conn.close()
    assert core.queries == [QUERY_DER]


# --- request size ---------------------------------------------------------------------------


def test_a_body_over_the_limit_with_content_length_is_413() -> None:
    core = FakeCore()
    with serving(core) as srv:
        conn = connect(srv)
        assert_text(post(conn, b"\x30" * (MAX_BYTES + 1)), 413,
                    f"at most {MAX_BYTES} bytes here, got {MAX_BYTES + 1} bytes")
        conn.close()
        # Refused on the header alone: a body that never comes is not waited for.
        sock = raw(srv)
        sock.sendall(f"POST /tsa HTTP/1.1\r\nHost: x\r\nContent-Type: {QUERY}\r\n"
                     "Content-Length: 1000000000\r\n\r\n".encode())
        assert_text(read_response(sock), 413, "got 1000000000 bytes")
        sock.close()
        # exactly the limit is fine
        conn = connect(srv)
        assert_reply(post(conn, b"\x30" * MAX_BYTES))
        conn.close()
    assert core.queries == [b"\x30" * MAX_BYTES]


def test_a_chunked_body_over_the_limit_is_413() -> None:
    core = FakeCore()

    def chunked(size: int) -> Answer:
        conn = connect(srv)
        pieces = [b"\x30" * 100] * (size // 100) + [b"\x30" * (size % 100)]
        conn.request("POST", "/tsa", body=iter(pieces), headers={"Content-Type": QUERY},
                     encode_chunked=True)
        resp = conn.getresponse()
        answer = resp.status, resp, resp.read()
        conn.close()
        return answer

    with serving(core) as srv:
        assert_text(chunked(MAX_BYTES + 1), 413, f"at most {MAX_BYTES} bytes here, got more")
        assert_text(chunked(10 * MAX_BYTES), 413, "got more")
        assert_reply(chunked(MAX_BYTES))
    assert core.queries == [b"\x30" * MAX_BYTES]


# --- health, outages, errors ----------------------------------------------------------------


def test_set_serving_turns_healthz_503_and_back() -> None:
    core = FakeCore()
    with serving(core) as srv:
        conn = connect(srv)
        assert_text(post(conn, path="/healthz", method="GET"), 200, "SERVING")
        srv.set_serving(False)
        assert assert_text(post(conn, path="/healthz", method="GET"), 503) == "NOT_SERVING\n"
        # Health is for the load balancer; a query that still arrives goes to the core,
        # which answers in RFC 3161 terms (a rejection, or 503 on an outage).
        assert_reply(post(conn))
        srv.set_serving(True)
        assert assert_text(post(conn, path="/healthz", method="GET"), 200) == "SERVING\n"
        answer = post(conn, path="/healthz")
        assert answer[0] == 405 and answer[1].getheader("Allow") == "GET, HEAD", answer
        conn.close()


@pytest.mark.parametrize("outage", [StoreUnavailable("the database is unreachable"),
                                    HsmUnavailable("the HSM is unreachable")])
def test_an_outage_in_the_core_is_503_and_the_next_query_is_served(
        outage: StoreUnavailable | HsmUnavailable) -> None:
    core = FakeCore(failures=[outage])
    with serving(core) as srv:
        conn = connect(srv)
        assert_shed(post(conn), rejection_response(FailureInfo.SYSTEM_FAILURE, outage.message))
        assert_reply(post(conn))
        conn.close()
    assert core.queries == [QUERY_DER, QUERY_DER]


def test_a_bug_in_the_core_is_500_with_a_rejection_and_the_next_query_is_served() -> None:
    core = FakeCore(failures=[RuntimeError("boom")])
    with serving(core) as srv:
        conn = connect(srv)
        status, resp, body = post(conn)
        assert (status, resp.getheader("Content-Type")) == (500, REPLY)
        assert body == rejection_response(FailureInfo.SYSTEM_FAILURE, "internal error")
        assert b"boom" not in body
        assert_reply(post(conn))
        conn.close()


# --- bounds: connections, queue, slow clients -------------------------------------------------


def test_connections_beyond_the_limit_are_told_503_then_refused_and_slots_come_back() -> None:
    core = FakeCore()
    shed_before = metric("kyso_tsa_http_shed_total", reason="connections")
    accept_before = metric("kyso_tsa_http_shed_total", reason="accept")
    with serving(core, max_connections=2, keepalive_timeout_s=60) as srv:
        served = [connect(srv) for _ in range(2)]
        for conn in served:
            assert_reply(post(conn))  # now open and kept alive
        # As many again are admitted, only to be told 503 on their first request...
        excess = [raw(srv) for _ in range(2)]
        # ...and one more is closed at accept.
        refused = raw(srv)
        try:
            refused.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass
        assert closed_by_peer(refused)
        refused.close()
        for sock in excess:
            sock.sendall(f"POST /tsa HTTP/1.1\r\nHost: x\r\nContent-Type: {QUERY}\r\n"
                         f"Content-Length: {len(QUERY_DER)}\r\n\r\n".encode() + QUERY_DER)
            answer = read_response(sock)
            assert_shed(answer, CROWDED)
            assert answer[1].getheader("Connection", "").lower() == "close"
            assert closed_by_peer(sock)
            sock.close()
        # the served connections never noticed
        for conn in served:
            assert_reply(post(conn))
        # Once one of them is gone, a new connection is served (the server notices the
        # close asynchronously: until then a new one may still be told 503).
        served.pop().close()
        last: list[Answer] = []

        def served_again() -> bool:
            conn = connect(srv)
            last.append(post(conn))
            conn.close()
            if last[-1][0] != 200:
                assert_shed(last[-1], CROWDED)
            return last[-1][0] == 200

        poll(served_again, "a connection slot to come back")
        assert_reply(last[-1])
        assert_reply(post(served[0]))
        served[0].close()
    assert metric("kyso_tsa_http_shed_total", reason="connections") - shed_before >= 2
    assert metric("kyso_tsa_http_shed_total", reason="accept") - accept_before >= 1
    assert len(core.queries) == 5 + len(last)


def test_a_full_queue_is_503_with_retry_after_before_any_work() -> None:
    core = FakeCore(gate=threading.Event())
    assert core.gate is not None
    in_flight = metric("kyso_tsa_http_requests_in_flight")
    queue_full = metric("kyso_tsa_http_shed_total", reason="queue_full")
    with serving(core, threads=1, max_queue=1) as srv:
        conns = [connect(srv) for _ in range(3)]
        first, first_out = in_thread(lambda: post(conns[0]))
        core.wait_started()  # one running...
        second, second_out = in_thread(lambda: post(conns[1]))
        poll(lambda: metric("kyso_tsa_http_requests_in_flight") == in_flight + 2,
             "the second query to wait for the worker")  # ...and one waiting
        assert_shed(post(conns[2]), BUSY)  # the third is shed at once
        assert metric("kyso_tsa_http_shed_total", reason="queue_full") == queue_full + 1
        assert core.queries == [QUERY_DER]
        core.gate.set()
        for t, out in ((first, first_out), (second, second_out)):
            t.join(GIVE_UP_S)
            assert len(out) == 1 and not isinstance(out[0], BaseException), out
            assert_reply(out[0])
        # The shed client, back on its connection (held until its Retry-After is over
        # if it comes back sooner), is served once there is room.
        assert_reply(post(conns[2]))
        for conn in conns:
            conn.close()
        poll(lambda: metric("kyso_tsa_http_requests_in_flight") == in_flight,
             "the in-flight count to drop")
    assert core.queries == [QUERY_DER] * 3


def test_a_body_that_stalls_is_cut_with_408_within_the_read_timeout() -> None:
    core = FakeCore()
    cut = metric("kyso_tsa_http_shed_total", reason="read_timeout")
    with serving(core, read_timeout_s=0.5, keepalive_timeout_s=60) as srv:
        sock = raw(srv)
        sock.sendall(f"POST /tsa HTTP/1.1\r\nHost: x\r\nContent-Type: {QUERY}\r\n"
                     f"Content-Length: {len(QUERY_DER)}\r\n\r\n".encode() + QUERY_DER[:10])
        began = time.monotonic()
        answer = read_response(sock)
        assert_text(answer, 408, "did not arrive within 0.5 s")
        assert answer[1].getheader("Connection", "").lower() == "close"
        assert closed_by_peer(sock)
        assert time.monotonic() - began < GIVE_UP_S
        sock.close()
        conn = connect(srv)
        assert_reply(post(conn))
        conn.close()
    assert core.queries == [QUERY_DER]
    assert metric("kyso_tsa_http_shed_total", reason="read_timeout") == cut + 1


def test_headers_that_never_end_are_cut_within_the_keepalive_timeout() -> None:
    core = FakeCore()
    with serving(core, keepalive_timeout_s=0.5, read_timeout_s=60) as srv:
        sock = raw(srv)
        sock.sendall(f"POST /tsa HTTP/1.1\r\nHost: x\r\nContent-Type: {QUERY}\r\n".encode())
        assert closed_by_peer(sock)
        sock.close()
    assert core.queries == []


# --- shutdown -------------------------------------------------------------------------------


def test_stop_lets_a_request_in_flight_finish_and_refuses_new_connections() -> None:
    core = FakeCore(gate=threading.Event())
    assert core.gate is not None
    with serving(core) as srv:
        conn = connect(srv)
        request, request_out = in_thread(lambda: post(conn))
        core.wait_started()
        stopping = threading.Thread(target=srv.stop, daemon=True)
        stopping.start()

        def refused() -> bool:
            try:
                raw(srv).close()
            except ConnectionRefusedError:
                return True
            except ConnectionResetError:  # connected while the listener was closing: ask again
                return False
            return False

        poll(refused, "the listener to close")
        # stop() waits for the request (grace 10 s) rather than cutting it: still waiting
        # a while later. (The one fixed wait here: what it checks is that time passes.)
        stopping.join(0.5)
        assert request.is_alive() and stopping.is_alive()
        core.gate.set()
        request.join(GIVE_UP_S)
        stopping.join(GIVE_UP_S)
        assert not stopping.is_alive(), "stop() did not return"
        assert len(request_out) == 1 and not isinstance(request_out[0], BaseException), \
            request_out
        assert_reply(request_out[0])
        conn.close()


def test_stop_returns_when_a_request_outlives_the_grace_time() -> None:
    core = FakeCore(gate=threading.Event())
    assert core.gate is not None
    with serving(core, grace_s=0.5) as srv:
        conn = connect(srv)
        request, request_out = in_thread(lambda: post(conn))
        core.wait_started()
        began = time.monotonic()
        srv.stop()
        assert time.monotonic() - began < GIVE_UP_S
        request.join(GIVE_UP_S)
        assert len(request_out) == 1 and isinstance(request_out[0], OSError), request_out
        conn.close()


def test_stop_after_a_failed_start_returns_at_once() -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    pool = ThreadPoolExecutor(max_workers=1)
    srv = TsaHttpServer(cast(TsaCore, FakeCore()), f"127.0.0.1:{taken.getsockname()[1]}",
                        limits=HttpLimits(nice=0), executor=pool, shutdown_grace_s=30)
    try:
        with pytest.raises(OSError, match="cannot listen for HTTP"):
            srv.start()
        # (it used to wait for a loop that no longer ran: grace + 5 s, then a warning)
        stopping = threading.Thread(target=srv.stop, daemon=True)
        stopping.start()
        stopping.join(GIVE_UP_S)
        assert not stopping.is_alive(), "stop() hangs after a failed start"
    finally:
        taken.close()
        pool.shutdown()
