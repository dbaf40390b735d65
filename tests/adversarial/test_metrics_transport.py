"""Promise: ``/metrics`` is served off loopback only over TLS, or when plaintext is
explicitly allowed (and then with a warning at start).

Attacker: anyone who can reach the metrics port or watch its traffic. The
samples name every agency that signs and how much (``kyso_signatures_total
{agency=…}``), HSM error rates and health: reconnaissance for someone planning
to disrupt or impersonate a node, and information a ministry may not want on
an office network in clear. A configuration mistake (``0.0.0.0:9464``) must be
refused at start, not discovered later; with TLS configured the endpoint must
really speak HTTPS (a plain HTTP client gets nothing), in one process and
behind the ``--workers`` supervisor.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import logging
import re
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from signer.config import ServerSettings, Settings
from signer.runtime.metrics import start_metrics
from tests.helpers import hsm_unavailable_reason
from tests.servers import server_env, start_server, stop_server

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

METRICS = re.compile(r"kyso: serving Prometheus metrics on (\S+)")


def make_tls(d: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "adversarial test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = d / "ca.pem", d / "server.pem", d / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.mark.parametrize("listen", ["0.0.0.0:9464", "[::]:9464", "10.1.2.3:9464",
                                    "metrics.example.test:9464"])
def test_off_loopback_plaintext_is_refused_at_validation(listen: str) -> None:
    with pytest.raises(ValidationError) as exc:
        ServerSettings(metrics_listen=listen)
    msg = str(exc.value)
    assert "metrics_listen" in msg and "tls_cert_file" in msg
    assert "metrics_allow_plaintext" in msg, msg  # the way out is named


def test_plaintext_off_loopback_needs_the_explicit_setting_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = Settings(server=ServerSettings(metrics_listen="0.0.0.0:0",
                                       metrics_allow_plaintext=True))
    with caplog.at_level(logging.WARNING):
        server = start_metrics(s)
    try:
        port = server.server_address[1]
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        assert b"kyso_" in body
    finally:
        server.shutdown()
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "0.0.0.0" in warning and "plain" in warning.lower(), warning


def test_loopback_plaintext_needs_nothing() -> None:
    assert ServerSettings(metrics_listen="127.0.0.1:9464").metrics_listen
    assert ServerSettings(metrics_listen="localhost:9464").metrics_listen
    assert ServerSettings(metrics_listen="[::1]:9464").metrics_listen


def _get(url: str, context: ssl.SSLContext | None = None) -> bytes:
    data: bytes = urllib.request.urlopen(url, timeout=10, context=context).read()
    return data


def _assert_https_only(port: int, ca: Path) -> None:
    # A plain HTTP client gets no metrics (the TLS server drops or garbles the exchange).
    with pytest.raises((http.client.HTTPException, OSError, ConnectionError)):
        _get(f"http://127.0.0.1:{port}/metrics")
    # HTTPS without trusting the CA: certificate verification fails.
    with pytest.raises(OSError):
        _get(f"https://127.0.0.1:{port}/metrics", ssl.create_default_context())
    body = _get(f"https://127.0.0.1:{port}/metrics", ssl.create_default_context(cafile=ca))
    assert b"kyso_" in body


def test_with_tls_metrics_are_https_only(tmp_path: Path) -> None:
    ca, cert, key = make_tls(tmp_path)
    s = Settings(server=ServerSettings(metrics_listen="127.0.0.1:0", tls_cert_file=cert,
                                       tls_key_file=key))
    server: Any = start_metrics(s)
    try:
        _assert_https_only(server.server_address[1], ca)
    finally:
        server.shutdown()


@pytest.mark.e2e
@pytest.mark.skipif(hsm_unavailable_reason() is not None, reason=str(hsm_unavailable_reason()))
def test_workers_supervisor_serves_metrics_over_https(tmp_path: Path) -> None:
    """With --workers 2 the supervisor serves /metrics: HTTPS there too."""
    ca, cert, key = make_tls(tmp_path)
    env = server_env(tmp_path, "kyso-adv-metrics")
    env.update(KYSO_SERVER_WORKERS="2", KYSO_SERVER_METRICS_LISTEN="127.0.0.1:0",
               KYSO_SERVER_TLS_CERT_FILE=str(cert), KYSO_SERVER_TLS_KEY_FILE=str(key))
    srv = start_server(tmp_path, env)
    try:
        url = next(m.group(1) for line in srv.log().splitlines()
                   if (m := METRICS.search(line)))
        assert url.startswith("https://"), url
        _assert_https_only(int(url.rsplit(":", 1)[1].split("/")[0]), ca)
    finally:
        stop_server(srv)
