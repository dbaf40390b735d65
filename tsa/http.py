"""RFC 3161 §3.4 over HTTP: ``POST /tsa`` with ``Content-Type:
application/timestamp-query``, answered with ``application/timestamp-reply``.

Served by aiohttp on its own event-loop thread; the HSM and database work runs
in a thread pool so the loop never blocks.

HTTP-level refusals (the request never reached the TSA):
  * 415 wrong Content-Type, 413 body above ``tsa.max_request_bytes``,
    405 a method other than POST, 404 another path: a plain-text reason.
  * 503 the database or the HSM is unavailable: the body is a TimeStampResp rejection
    (systemFailure) and ``Retry-After`` is set, so RFC 3161 clients and HTTP
    clients both understand it.
Everything else, including malformed requests, is HTTP 200 with a
TimeStampResp whose status says granted or rejected (RFC 3161 §2.4.2).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from concurrent.futures import Executor

from aiohttp import web

from signer.errors import Unavailable
from tsa.core import TsaCore
from tsa.token import FailureInfo, rejection_response

log = logging.getLogger(__name__)

QUERY = "application/timestamp-query"
REPLY = "application/timestamp-reply"


class TsaHttpServer:
    def __init__(
        self,
        core: TsaCore,
        listen: str,
        *,
        max_request_bytes: int,
        executor: Executor,
        ssl_context: ssl.SSLContext | None = None,
        reuse_port: bool = False,
    ) -> None:
        self._reuse_port = reuse_port
        self._core = core
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self._max = max_request_bytes
        self._executor = executor
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._serving = True

    def start(self) -> None:
        app = web.Application(client_max_size=self._max + 1)
        app.router.add_route("*", "/tsa", self._tsa)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._start_site())
            except BaseException as exc:
                failure.append(exc)
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
        assert self._runner is not None
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

    def stop(self, grace: float = 5.0) -> None:
        if self._runner is None or self._thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            fut.result(grace + 5)
        except Exception:
            log.warning("HTTP server did not stop cleanly", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _healthz(self, request: web.Request) -> web.Response:
        if self._serving:
            return web.Response(text="SERVING\n")
        return web.Response(status=503, text="NOT_SERVING\n")

    async def _tsa(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(
                status=405,
                headers={"Allow": "POST"},
                text=f"POST a DER TimeStampReq with Content-Type: {QUERY} (RFC 3161 §3.4)\n",
            )
        if request.content_type != QUERY:
            return web.Response(
                status=415,
                text=f"Content-Type must be {QUERY}, got {request.content_type or 'none'} "
                "(RFC 3161 §3.4)\n",
            )
        if request.content_length is not None and request.content_length > self._max:
            return self._too_large(request.content_length)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._too_large(None)
        if len(body) > self._max:
            return self._too_large(len(body))
        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(self._executor, self._core.respond, body)
        except Unavailable as exc:  # the database or the HSM: retry later
            return web.Response(
                status=503,
                headers={"Retry-After": "1"},
                body=rejection_response(FailureInfo.SYSTEM_FAILURE, exc.message),
                content_type=REPLY,
            )
        except Exception:
            log.exception("timestamp request failed")
            return web.Response(
                status=500,
                body=rejection_response(FailureInfo.SYSTEM_FAILURE, "internal error"),
                content_type=REPLY,
            )
        return web.Response(body=reply, content_type=REPLY)

    def _too_large(self, size: int | None) -> web.Response:
        got = f"{size} bytes" if size is not None else "more"
        return web.Response(
            status=413,
            text=f"a TimeStampReq is at most {self._max} bytes here, got {got}: send the "
            "hash of the data, not the data\n",
        )
