"""Observability: Prometheus metrics, request ids, JSON logs.

Metrics
-------
Served at ``http://<server.metrics_listen>/metrics`` (off when empty). With
``--workers N`` every worker writes its samples to a shared directory
(prometheus-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``, set by the
supervisor before the workers start) and the supervisor serves the sum, so one
scrape sees the whole host whichever worker took the connections.

=========================================  ==========================================
``kyso_rpc_requests_total``                RPCs by ``method`` and status ``code``
``kyso_rpc_duration_seconds``              RPC latency by ``method`` (histogram)
``kyso_hsm_operation_duration_seconds``    PKCS#11 calls by ``operation`` (histogram)
``kyso_hsm_errors_total``                  failed PKCS#11 calls by ``operation``
``kyso_hsm_sessions_in_use``               HSM sessions lent out now (sum over workers)
``kyso_signatures_total``                  signatures by ``agency`` and ``output``
``kyso_timestamps_issued_total``           RFC 3161 tokens issued
``kyso_health_serving``                    1 while a ``service`` reports SERVING
``kyso_tsa_http_shed_total``               RFC 3161 HTTP requests or connections refused
                                           or cut, by ``reason``: ``queue_full`` (503),
                                           ``connections`` (503), ``accept`` (closed at
                                           once), ``read_timeout`` (body too slow)
``kyso_tsa_http_connections``              open RFC 3161 HTTP connections
``kyso_tsa_http_requests_in_flight``       HTTP timestamp requests running or queued
=========================================  ==========================================

Request ids
-----------
Every RPC gets an id: the caller's ``x-request-id`` metadata when it is a
sensible token (1–64 of ``A-Z a-z 0-9 . _ -``), else a fresh one. It is in every
log line written while the call runs and is returned to the caller as trailing
metadata ``x-request-id``, so a client's error report can be matched to the log; the
trailing metadata ``x-kyso-node`` names the node (worker) that answered.

Logs
----
``--log-format json`` writes one JSON object per line: ``time``, ``level``,
``logger``, ``node``, ``request_id``, ``message`` (and ``exception``). kyso
never logs credentials: bearer tokens and PINs are not put in log messages
(tested by scanning a server's whole log).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("kyso_request_id", default="-")
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def new_request_id(offered: str | None) -> str:
    if offered and _VALID_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex[:16]


# --- metrics ---------------------------------------------------------------------------------
# prometheus_client picks its value store (in memory, or files for several processes) when
# it is imported, so the supervisor sets PROMETHEUS_MULTIPROC_DIR before workers start.
from prometheus_client import Counter, Gauge, Histogram  # noqa: E402

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

RPC_REQUESTS = Counter("kyso_rpc_requests", "RPCs handled, by method and status code",
                       ["method", "code"])
RPC_DURATION = Histogram("kyso_rpc_duration_seconds", "RPC latency, by method", ["method"],
                         buckets=_LATENCY_BUCKETS)
HSM_DURATION = Histogram("kyso_hsm_operation_duration_seconds",
                         "PKCS#11 operation latency, by operation", ["operation"],
                         buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05, 0.1, 0.25, 1, 5))
HSM_ERRORS = Counter("kyso_hsm_errors", "Failed PKCS#11 operations, by operation",
                     ["operation"])
HSM_SESSIONS_IN_USE = Gauge("kyso_hsm_sessions_in_use", "HSM sessions lent out now",
                            multiprocess_mode="livesum")
SIGNATURES = Counter("kyso_signatures", "Signatures made, by agency and output",
                     ["agency", "output"])
TIMESTAMPS = Counter("kyso_timestamps_issued", "RFC 3161 timestamp tokens issued")
TSA_HTTP_SHED = Counter("kyso_tsa_http_shed",
                        "RFC 3161 HTTP requests or connections refused or cut, by reason",
                        ["reason"])
TSA_HTTP_CONNECTIONS = Gauge("kyso_tsa_http_connections", "Open RFC 3161 HTTP connections",
                             multiprocess_mode="livesum")
TSA_HTTP_IN_FLIGHT = Gauge("kyso_tsa_http_requests_in_flight",
                           "HTTP timestamp requests running or waiting for a worker thread",
                           multiprocess_mode="livesum")
HEALTH = Gauge("kyso_health_serving", "1 while the service reports SERVING", ["service"],
               multiprocess_mode="livemin")


@contextmanager
def hsm_timer(operation: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        HSM_DURATION.labels(operation).observe(time.perf_counter() - start)


def serve_metrics(listen: str, *, certfile: str | None = None,
                  keyfile: str | None = None) -> tuple[Any, int]:
    """Serve /metrics on ``listen`` (host:port, port 0 picks one) in a thread; returns
    the server (``shutdown()`` stops it) and the bound port. In multiprocess mode the
    samples of every worker are summed."""
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    registry: Any = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    host, _, port = listen.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host.strip("[]"), registry=registry,
                                        certfile=certfile, keyfile=keyfile)
    return server, int(server.server_address[1])


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges (multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


# --- logs ------------------------------------------------------------------------------------

class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``node`` to every record."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.node = self.node
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "node": getattr(record, "node", ""),
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def dump_stacks_on_sigusr1(also: Callable[[], None] | None = None) -> None:
    """``kill -USR1 PID`` writes every thread's stack to standard error (the log), for a
    process that seems stuck; ``also`` runs too (the supervisor passes it on to its
    workers)."""
    import faulthandler
    import signal
    import sys

    def dump(_signum: int, _frame: object) -> None:
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        if also is not None:
            also()

    signal.signal(signal.SIGUSR1, dump)


def configure_logging(level: int | str, fmt: str, node: str) -> None:
    """Root logging for a server process: ``fmt`` is ``text`` or ``json``."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter(node))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(node)s %(name)s [%(request_id)s]: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
