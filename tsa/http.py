"""RFC 3161 §3.4 over HTTP: ``POST /tsa`` with ``Content-Type:
application/timestamp-query``, answered with ``application/timestamp-reply``.

Served by aiohttp's low-level server on its own event-loop thread; the HSM and
database work runs in a small thread pool so the loop never blocks.

The endpoint is anonymous, so everything it can hold is bounded (per worker
process; settings in ``[tsa]``), and load beyond the bounds is shed at once
rather than queued, so that a flood of timestamp queries cannot starve signing:

  * **connections**: up to ``http_max_connections`` are served. Up to as many again
    are admitted only to be answered 503 (below) on their first request and closed:
    an RFC 3161 client learns to retry later instead of seeing a reset. Beyond that a
    connection is closed at accept, so file descriptors and memory stay bounded.
  * **slow clients**: the headers of a request must be complete within
    ``http_keepalive_timeout_s`` of the connection opening or of the previous
    response (aiohttp's keep-alive timer, which partial headers do not reset), and
    the body within ``http_read_timeout_s`` of the headers; else the connection is
    cut (slowloris). Header lines, fields and count are capped too.
  * **CPU**: the event-loop thread and the worker threads run ``http_nice`` steps below
    the signer's threads (Linux per-thread nice): on shared cores the scheduler serves
    signing first (docs/benchmarks.md: under a flood, signing p99 0.19–0.28 s instead of
    1.0–2.3 s in A/B runs).
  * **work**: ``http_threads`` threads answer; at most ``http_max_queue`` more
    requests wait for one. A request beyond that is answered 503 at once, before
    any signing, database or HSM work, with ``Retry-After: 1``. A client that comes
    back on the same connection sooner is held until its second is over (then
    admitted if there is room, else answered 503 again): a closed-loop flood cannot
    make the node spend its CPU on rejections. The TSA's HSM signing is further
    capped at ``tsa.max_hsm_sessions`` sessions by the key store
    (``signer.keys.store``).

Every refusal is counted in ``kyso_tsa_http_shed_total{reason}``.

HTTP-level refusals (the request never reached the TSA):
  * 415 wrong Content-Type, 413 body above ``tsa.max_request_bytes``,
    405 a method other than POST, 404 another path: a plain-text reason.
  * 408 the body did not arrive within ``http_read_timeout_s``; the connection is closed.
  * 503 the node is overloaded (too many connections, queue full) or the database or
    the HSM is unavailable: the body is a TimeStampResp rejection (systemFailure) and
    ``Retry-After`` is set, so RFC 3161 clients and HTTP clients both understand it.
Everything else, including malformed requests, is HTTP 200 with a
TimeStampResp whose status says granted or rejected (RFC 3161 §2.4.2).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import threading
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler

from signer.errors import Unavailable
from signer.formats.tsp import FailureInfo, rejection_response
from signer.runtime.observe import TSA_HTTP_CONNECTIONS, TSA_HTTP_IN_FLIGHT, TSA_HTTP_SHED
from tsa.core import TsaCore

log = logging.getLogger(__name__)

QUERY = "application/timestamp-query"
REPLY = "application/timestamp-reply"
RETRY_AFTER = 1.0  # seconds; integral (RFC 9110 §10.2.3: delay-seconds)
RETRY_AFTER_S = str(int(RETRY_AFTER))
# An RFC 3161 client sends a handful of short headers.
MAX_HEADERS = 32
MAX_LINE = 4096


@dataclass(frozen=True, kw_only=True)
class HttpLimits:
    """What one worker's RFC 3161 HTTP endpoint may hold (``[tsa]`` settings)."""

    max_request_bytes: int = 16 * 1024
    max_connections: int = 256
    read_timeout_s: float = 10.0
    keepalive_timeout_s: float = 5.0
    threads: int = 1  # the executor's size: admitted = threads + max_queue
    max_queue: int = 64
    nice: int = 10  # the loop thread's; give the executor's threads the same (lower_priority)


def lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority by ``nice`` (Linux: nice values are per
    thread). Where timestamping and signing share cores, the scheduler then gives the
    signer's threads the CPU first; when nothing else wants it, these threads still get
    all of it."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        # Relative to the process's own (its main thread's): a thread started by an
        # already lowered one inherits that thread's value.
        base = os.getpriority(os.PRIO_PROCESS, os.getpid())
        os.setpriority(os.PRIO_PROCESS, tid, min(19, base + nice))
    except OSError as exc:  # e.g. a seccomp profile without setpriority
        log.warning("cannot lower the priority of TSA thread %d: %s", tid, exc)


class _CountingServer(web.Server):
    """aiohttp's low-level server, sorting new connections into served, excess (told 503
    on their first request, then closed) and refused (closed at accept)."""

    def __init__(self, handler: Any, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._max = max_connections
        self._open: set[RequestHandler] = set()
        self.excess: set[RequestHandler] = set()
        # loop time before which a connection told "Retry-After" should not come back
        self.retry_at: dict[RequestHandler, float] = {}
        self._closing = False

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        n = len(self._open)
        if self._closing or n >= 2 * self._max:
            # Shutting down: a connection accepted just before the listener closed would
            # otherwise wait, unnoticed by the shutdown, for a request it can never read.
            if not self._closing:
                TSA_HTTP_SHED.labels("accept").inc()
            transport.close()
            return
        super().connection_made(handler, transport)
        self._open.add(handler)
        TSA_HTTP_CONNECTIONS.inc()
        if n >= self._max:
            self.excess.add(handler)

    def pre_shutdown(self) -> None:
        self._closing = True
        super().pre_shutdown()

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        if handler in self._open:
            self._open.discard(handler)
            self.excess.discard(handler)
            self.retry_at.pop(handler, None)
            TSA_HTTP_CONNECTIONS.dec()
        super().connection_lost(handler, exc)


class TsaHttpServer:
    def __init__(
        self,
        core: TsaCore,
        listen: str,
        *,
        limits: HttpLimits,
        executor: Executor,
        ssl_context: ssl.SSLContext | None = None,
        reuse_port: bool = False,
        shutdown_grace_s: float = 10.0,
    ) -> None:
        self._grace = shutdown_grace_s
        self._reuse_port = reuse_port
        self._core = core
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self._limits = limits
        self._max = limits.max_request_bytes
        self._capacity = limits.threads + limits.max_queue
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        self._executor = executor
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._runner: web.ServerRunner | None = None
        self._server: _CountingServer | None = None
        self._thread: threading.Thread | None = None
        self._serving = True
        # Shedding must cost next to nothing: the replies are encoded once.
        self._busy = rejection_response(
            FailureInfo.SYSTEM_FAILURE, "the time-stamp authority is overloaded, retry later")
        self._crowded = rejection_response(
            FailureInfo.SYSTEM_FAILURE, "too many connections to the time-stamp authority, "
            "retry later")

    def start(self) -> None:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            lower_priority(self._limits.nice)
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._start_site())
            except BaseException as exc:
                failure.append(exc)
                if self._runner is not None:  # set up, but not listening: undo it here,
                    try:  # as stop() needs the loop running
                        self._loop.run_until_complete(self._runner.cleanup())
                    except Exception:
                        log.warning("cleanup after a failed start", exc_info=True)
                    self._runner = None
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="kyso-tsa-http", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise OSError(f"cannot listen for HTTP on {self.host}:{self.port}: {failure[0]}")

    async def _start_site(self) -> None:
        lim = self._limits
        self._server = _CountingServer(
            self._dispatch,
            max_connections=lim.max_connections,
            loop=self._loop,
            access_log=None,
            keepalive_timeout=lim.keepalive_timeout_s,
            # After a refusal (413) the rest of a body is read and dropped for at most this.
            lingering_time=min(lim.read_timeout_s, 2.0),
            max_headers=MAX_HEADERS,
            max_line_size=MAX_LINE,
            max_field_size=MAX_LINE,
        )
        # Requests still unanswered after the grace time are cut, within stop()'s wait.
        self._runner = web.ServerRunner(self._server, handle_signals=False,
                                        shutdown_timeout=self._grace)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.host, self.port, ssl_context=self._ssl,
            reuse_port=self._reuse_port,
        )
        await site.start()
        if self._runner.addresses:  # the port actually bound (listen port 0 picks one)
            self.port = int(self._runner.addresses[0][1])

    def set_serving(self, serving: bool) -> None:
        self._serving = serving

    def stop(self) -> None:
        """Stop accepting, let admitted requests finish (up to ``shutdown_grace_s``), stop."""
        if self._runner is None or self._thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            fut.result(self._grace + 5)
        except Exception:
            log.warning("HTTP server did not stop cleanly", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        excess = self._server is not None and request.protocol in self._server.excess
        if request.path == "/tsa":
            if excess:
                TSA_HTTP_SHED.labels("connections").inc()
                return self._unavailable(self._crowded, close=True)
            return await self._tsa(request)
        if excess:
            TSA_HTTP_SHED.labels("connections").inc()
            resp = web.Response(status=503, headers={"Retry-After": RETRY_AFTER_S},
                                text="too many connections, retry later\n")
            resp.force_close()
            return resp
        if request.path == "/healthz":
            if request.method not in ("GET", "HEAD"):
                return web.Response(status=405, headers={"Allow": "GET, HEAD"})
            return await self._healthz(request)
        return web.Response(status=404, text="not found: RFC 3161 queries go to POST /tsa\n")

    async def _healthz(self, request: web.BaseRequest) -> web.Response:
        if self._serving:
            return web.Response(text="SERVING\n")
        return web.Response(status=503, text="NOT_SERVING\n")

    async def _tsa(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(
                status=405,
                headers={"Allow": "POST"},
                text=f"POST a DER TimeStampReq with Content-Type: {QUERY} (RFC 3161 §3.4)\n",
            )
        if request.content_type != QUERY:
            # aiohttp reads a missing Content-Type as application/octet-stream
            got = request.content_type if hdrs.CONTENT_TYPE in request.headers else "none"
            return web.Response(
                status=415,
                text=f"Content-Type must be {QUERY}, got {got} (RFC 3161 §3.4)\n",
            )
        if request.content_length is not None and request.content_length > self._max:
            return self._too_large(request.content_length)
        try:
            async with asyncio.timeout(self._limits.read_timeout_s):
                body = await self._read_body(request)
        except TimeoutError:
            return await self._cut(request)
        if body is None:
            return self._too_large(None)
        if not self._admit():
            # Told "Retry-After: 1" on this connection less than a second ago and back
            # already: hold the request until that second is over instead of answering
            # again at once. A closed-loop flood would otherwise make this thread do
            # nothing but answer 503s, and its CPU (and GIL) is the signer's too.
            assert self._server is not None
            early = self._server.retry_at.get(request.protocol, 0.0) - self._loop.time()
            if early <= 0 or not await self._hold(request, early):
                # Shed before any work: a full queue is answered now, not after waiting in it.
                TSA_HTTP_SHED.labels("queue_full").inc()
                self._server.retry_at[request.protocol] = self._loop.time() + RETRY_AFTER
                return self._unavailable(self._busy)
        TSA_HTTP_IN_FLIGHT.inc()
        try:
            job = self._executor.submit(self._core.respond, body)
        except BaseException:
            self._release(None)
            raise
        # Released when the work really ends, even if this handler is cancelled first:
        # the bound counts threads' work, not waiting handlers.
        job.add_done_callback(self._release)
        try:
            reply = await asyncio.wrap_future(job)
        except Unavailable as exc:  # the database or the HSM: retry later
            return self._unavailable(rejection_response(FailureInfo.SYSTEM_FAILURE, exc.message))
        except Exception:
            log.exception("timestamp request failed")
            return web.Response(
                status=500,
                body=rejection_response(FailureInfo.SYSTEM_FAILURE, "internal error"),
                content_type=REPLY,
            )
        return web.Response(body=reply, content_type=REPLY)

    def _admit(self) -> bool:
        with self._in_flight_lock:
            if self._in_flight >= self._capacity:
                return False
            self._in_flight += 1
            return True

    async def _hold(self, request: web.BaseRequest, delay: float) -> bool:
        """Wait ``delay`` s, then try again to admit the request (False: still full)."""
        await asyncio.sleep(delay)
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        return self._admit()

    def _release(self, _job: Future[bytes] | None) -> None:
        with self._in_flight_lock:
            self._in_flight -= 1
        TSA_HTTP_IN_FLIGHT.dec()

    async def _read_body(self, request: web.BaseRequest) -> bytes | None:
        """The body, or None once it exceeds ``max_request_bytes`` (chunked bodies too)."""
        buf = bytearray()
        while chunk := await request.content.read(self._max + 1 - len(buf)):
            buf += chunk
            if len(buf) > self._max:
                return None
        return bytes(buf)

    async def _cut(self, request: web.BaseRequest) -> web.StreamResponse:
        """A body that did not arrive in time: say so and close the connection (without
        lingering to read the rest, which is what the client wants)."""
        TSA_HTTP_SHED.labels("read_timeout").inc()
        resp = web.Response(
            status=408, text=f"the request body did not arrive within "
            f"{self._limits.read_timeout_s:g} s\n")
        resp.force_close()
        try:
            await resp.prepare(request)
            await resp.write_eof()
        except ConnectionError:
            pass
        request.protocol.force_close()
        return resp

    @staticmethod
    def _unavailable(body: bytes, *, close: bool = False) -> web.Response:
        resp = web.Response(status=503, headers={"Retry-After": RETRY_AFTER_S}, body=body,
                            content_type=REPLY)
        if close:
            resp.force_close()
        return resp

    def _too_large(self, size: int | None) -> web.Response:
        got = f"{size} bytes" if size is not None else "more"
        return web.Response(
            status=413,
            text=f"a TimeStampReq is at most {self._max} bytes here, got {got}: send the "
            "hash of the data, not the data\n",
        )
