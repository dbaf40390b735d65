"""The server process: ``serve()`` runs one node (``signer.runtime.host``) in the
foreground, or several worker processes sharing the ports (``signer.runtime.workers``),
until SIGTERM or SIGINT; SIGUSR1 writes every thread's stack to the log. It also serves
the Prometheus metrics."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from signer.config import Settings
from signer.runtime.demo import DEMO_TOKEN_FILE
from signer.runtime.host import Node, check_pdf_font
from signer.runtime.metrics import start_metrics
from signer.runtime.observe import dump_stacks_on_sigusr1

log = logging.getLogger(__name__)


def main(config_file: Path | None, *, listen: str | None = None, workers: int | None = None,
         log_level: str = "INFO", log_format: str | None = None, demo: bool = False,
         demo_token_file: Path = DEMO_TOKEN_FILE) -> None:
    """``kyso serve``: the settings (the TOML file and KYSO_* variables; ``listen``,
    ``workers`` and ``log_format`` override them and are validated with them), logging,
    then ``serve``. Raises ConfigError for invalid settings, KysoError or OSError when
    the node cannot start; the CLI says which."""
    import os
    import sys

    from signer.config import load_settings
    from signer.runtime.observe import configure_logging

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_format:
        os.environ["KYSO_SERVER_LOG_FORMAT"] = log_format
    if listen:
        os.environ["KYSO_SERVER_LISTEN"] = listen
    if workers is not None:
        os.environ["KYSO_SERVER_WORKERS"] = str(workers)
    settings = load_settings(config_file)
    configure_logging(log_level, settings.server.log_format, settings.node_id)
    serve(settings, demo=demo, demo_token_file=demo_token_file)


def serve(
    settings: Settings, *, demo: bool = False, demo_token_file: Path = DEMO_TOKEN_FILE,
    ready: threading.Event | None = None,
) -> Node:
    """Run a node in the foreground until SIGTERM or SIGINT (with ``server.workers``
    above 1, as several worker processes sharing the ports)."""
    check_pdf_font(settings)  # before any worker starts
    if settings.server.workers > 1:
        from signer.runtime.workers import serve_workers

        serve_workers(settings, demo=demo, demo_token_file=demo_token_file)
        return Node(settings)
    node = Node(settings, demo=demo, demo_token_file=demo_token_file)
    done = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: draining for up to %.0fs", signal.Signals(signum).name,
                 settings.server.shutdown_grace_s)
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    dump_stacks_on_sigusr1()
    node.start()
    metrics = start_metrics(settings)
    host = settings.server.listen.rpartition(":")[0]
    if node.tsa_http is not None:
        scheme = "https" if settings.server.tls_cert_file else "http"
        print(f"kyso: serving RFC 3161 on {scheme}://{node.tsa_http.host}:{node.http_port}/tsa",
              flush=True)
    if demo:
        print(f"kyso: demo admin token in {node.demo_token_file}: "
              f"export KYSO_TOKEN=$(cat {node.demo_token_file})", flush=True)
    # The last line: tools wait for it to know the node is ready.
    print(f"kyso: serving gRPC on {host}:{node.port} (node {settings.node_id})", flush=True)
    if ready is not None:
        ready.set()
    done.wait()
    node.stop()
    if metrics is not None:
        metrics.shutdown()
    print("kyso: stopped", flush=True)
    return node
