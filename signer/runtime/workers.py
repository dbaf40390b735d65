"""``kyso serve --workers N``: N server processes sharing the listening ports.

The GIL, not the HSM, limits one Python process (docs/limits.md: two processes
sharing the port beat more threads). The supervisor
1. sets everything up once in its own process (schema, development CA, TSA and
   audit keys, demo data) so workers never race to create them;
2. reserves the ports (a bound, non-listening SO_REUSEPORT socket keeps a port
   chosen with ``:0`` for the workers);
3. starts N workers; each is a full node named ``<node_id>-<i>`` with its own
   PKCS#11 login, session pool, database pool and audit chain, listening with
   SO_REUSEPORT, so the kernel spreads connections across them;
4. forwards SIGTERM/SIGINT, waits for every worker to drain, and exits non-zero
   if a worker failed.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from signer.config import Settings
from signer.runtime.observe import MULTIPROC_ENV, dump_stacks_on_sigusr1, worker_exited

log = logging.getLogger(__name__)


def _reserve(listen: str) -> tuple[socket.socket | None, str]:
    host, _, port = listen.rpartition(":")
    if int(port) != 0:
        return None, listen
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host.strip("[]"), 0))
    return s, f"{host}:{s.getsockname()[1]}"


def _worker(settings: Settings, index: int, ready: Any, log_level: int) -> None:
    from signer.runtime.host import Node
    from signer.runtime.observe import configure_logging

    configure_logging(log_level, settings.server.log_format, settings.node_id)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    dump_stacks_on_sigusr1()
    node = Node(settings, reuse_port=True)
    try:
        node.start()
    except BaseException as exc:
        ready.put((index, f"{type(exc).__name__}: {exc}"))
        raise
    ready.put((index, ""))
    done.wait()
    node.stop()


def serve_workers(settings: Settings, *, demo: bool, demo_token_file: Path) -> None:
    from signer.runtime.host import Node

    n = settings.server.workers
    boot = Node(settings, demo=demo, demo_token_file=demo_token_file, bootstrap_only=True)
    boot.start()
    boot.stop(0)
    grpc_sock, listen = _reserve(settings.server.listen)
    http_sock, http_listen = (None, settings.tsa.http_listen)
    if settings.tsa.enabled and settings.tsa.http_listen:
        http_sock, http_listen = _reserve(settings.tsa.http_listen)
    metrics_dir = None
    if settings.server.metrics_listen:
        # Workers (spawned below, inheriting this environment) keep their samples in
        # files here; this process serves their sum.
        metrics_dir = tempfile.mkdtemp(prefix="kyso-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    procs = []
    for i in range(n):
        worker_settings = settings.model_copy(update={
            "node_id": f"{settings.node_id}-{i}",
            "server": settings.server.model_copy(update={"listen": listen, "workers": 1}),
            "tsa": settings.tsa.model_copy(update={"http_listen": http_listen}),
        })
        p = ctx.Process(target=_worker, args=(worker_settings, i, ready,
                                              logging.getLogger().level), name=f"kyso-w{i}")
        p.start()
        procs.append(p)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping %d workers", signal.Signals(signum).name, n)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def forward_usr1() -> None:
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGUSR1)

    dump_stacks_on_sigusr1(forward_usr1)
    failures = []
    for _ in range(n):
        index, error = ready.get(timeout=120)
        if error:
            failures.append(f"worker {index}: {error}")
    if failures:
        for p in procs:
            p.terminate()
        raise RuntimeError("workers failed to start: " + "; ".join(failures))
    if http_sock is not None or (settings.tsa.enabled and settings.tsa.http_listen):
        scheme = "https" if settings.server.tls_cert_file else "http"
        host, _, port = http_listen.rpartition(":")
        print(f"kyso: serving RFC 3161 on {scheme}://{host}:{port}/tsa", flush=True)
    if demo:
        print(f"kyso: demo admin token in {demo_token_file}: "
              f"export KYSO_TOKEN=$(cat {demo_token_file})", flush=True)
    from signer.runtime.metrics import start_metrics

    metrics = start_metrics(settings)
    print(f"kyso: serving gRPC on {listen} (nodes {settings.node_id}-0..{n - 1}, "
          f"{n} workers)", flush=True)
    while not stop.wait(0.5):
        if any(not p.is_alive() for p in procs):
            log.error("a worker exited unexpectedly: stopping the others")
            break

    for p in procs:
        if p.is_alive() and p.pid is not None:
            p.terminate()  # SIGTERM: the worker drains, then exits
    grace = settings.server.shutdown_grace_s + 15
    for p in procs:
        p.join(grace)
        if p.pid is not None:
            worker_exited(p.pid)
    for sock in (grpc_sock, http_sock):
        if sock is not None:
            sock.close()
    if metrics is not None:
        metrics.shutdown()
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    codes = [p.exitcode for p in procs]
    print("kyso: stopped", flush=True)
    if any(c not in (0, -signal.SIGTERM) for c in codes) and not stop.is_set():
        raise SystemExit(1)
