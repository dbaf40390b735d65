"""The Prometheus endpoint of a server process (one for all workers: the supervisor
serves the sum), started by ``signer.runtime.server`` or ``signer.runtime.workers``."""

from __future__ import annotations

import logging
from typing import Any

from signer.config import Settings, is_loopback
from signer.runtime.observe import serve_metrics

log = logging.getLogger(__name__)


def start_metrics(settings: Settings) -> Any:
    """Serve /metrics if ``server.metrics_listen`` is set; prints where. With TLS
    configured it is HTTPS only; plain HTTP off loopback (allowed by
    ``metrics_allow_plaintext`` only) is logged as a warning."""
    listen = settings.server.metrics_listen
    if not listen:
        return None
    cert, key = settings.server.tls_cert_file, settings.server.tls_key_file
    if cert is None and not is_loopback(listen.rpartition(":")[0]):
        log.warning("serving Prometheus metrics in plain HTTP on %s, off loopback "
                    "(server.metrics_allow_plaintext): anyone who can reach the port, or "
                    "watch the network path, reads every agency's signing volume; configure "
                    "server.tls_cert_file and server.tls_key_file to serve them over HTTPS",
                    listen)
    server, port = serve_metrics(listen, certfile=str(cert) if cert else None,
                                 keyfile=str(key) if key else None)
    scheme = "https" if cert else "http"
    host = listen.rpartition(":")[0]
    print(f"kyso: serving Prometheus metrics on {scheme}://{host}:{port}/metrics", flush=True)
    return server
