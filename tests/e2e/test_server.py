"""A new user's path, end to end: start the server, sign with the CLI, verify
with OpenSSL. Then every error case over real gRPC, and the server still serves."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients import KysoClient, KysoClientError
from kyso.common.v1 import common_pb2
from kyso.signer.v1 import signer_pb2
from tests.servers import Server, server_env, start_server, stop_server

pytestmark = pytest.mark.e2e
DEMO = "000.00.00.H13"


def openssl_cms_verify(p7s: Path, content: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(p7s),
         "-content", str(content), "-CAfile", str(ca), "-purpose", "any", "-out", os.devnull],
        capture_output=True, text=True,
    )


@pytest.fixture(scope="module")
def ca_pem(server: Server) -> Path:
    out = server.workdir / "ca.pem"
    r = server.cli("admin", "ca", "export", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_cli_signs_a_file_that_openssl_verifies(server: Server, ca_pem: Path) -> None:
    doc = server.workdir / "công văn.pdf"
    doc.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    p7s = server.workdir / "out.p7s"
    r = server.cli("sign", "cms", str(doc), "--agency", DEMO, "-o", str(p7s))
    assert r.returncode == 0, r.stderr
    ok = openssl_cms_verify(p7s, doc, ca_pem)
    assert ok.returncode == 0 and "Verification successful" in ok.stderr, ok.stderr
    # The signer certificate in the CMS is the demo agency's (its certificate names the
    # agency, not its code, as a Government CA's does: the registry maps them).
    signer = subprocess.run(
        ["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(p7s)],
        capture_output=True, text=True, check=True,
    ).stdout
    with server.client() as c:
        current = c.signing_certificate(DEMO).certificate.der
    serial = format(x509.load_der_x509_certificate(current).serial_number, "x").upper()
    assert serial in signer.replace(":", "").upper(), signer[:2000]
    # Tampering is detected by OpenSSL.
    data = bytearray(doc.read_bytes())
    data[1000] ^= 1
    doc.write_bytes(bytes(data))
    bad = openssl_cms_verify(p7s, doc, ca_pem)
    assert bad.returncode != 0


def test_admin_flow_then_sign_with_each_key_type(server: Server, ca_pem: Path) -> None:
    bad = server.cli("admin", "agency", "add", "000.00.0.H13", "--name", "x")
    assert bad.returncode == 4
    assert "INVALID_ARGUMENT" in bad.stderr and "DDD.DD.DD.LNN" in bad.stderr
    for i, (alg, scheme) in enumerate([("ec-p256", None), ("rsa-3072", "pss"), ("ec-p384", None)]):
        code = f"000.00.{i + 20:02d}.H13"
        r = server.cli("admin", "agency", "add", code, "--name", f"Sở số {i} — Cần Thơ")
        assert r.returncode == 0, r.stderr
        args = ["admin", "key", "generate", code, "--algorithm", alg]
        if scheme:
            args += ["--scheme", scheme]
        assert server.cli(*args).returncode == 0
        r = server.cli("admin", "cert", "issue", code)
        assert r.returncode == 0 and "is active" in r.stdout, r.stderr
        doc = server.workdir / f"doc{i}.txt"
        doc.write_text("Quyết định số 11/QĐ-UBND\n" * 100)
        p7s = server.workdir / f"doc{i}.p7s"
        assert server.cli("sign", "cms", str(doc), "--agency", code, "-o", str(p7s),
                          "--hash", "sha384").returncode == 0
        v = openssl_cms_verify(p7s, doc, ca_pem)
        assert v.returncode == 0, v.stderr
    shown = json.loads(server.cli("admin", "agency", "show", "000.00.20.H13", "--json").stdout)
    assert shown["name"] == "Sở số 0 — Cần Thơ" and shown["parent"] == "000.00.00.H13"
    assert [k["state"] for k in shown["keys"]] == ["active"]


def test_raw_batch_verifies_with_the_returned_certificate(server: Server) -> None:
    digests = [os.urandom(32) for _ in range(64)]
    with server.client() as c:
        resp = c.sign_digests(DEMO, digests, references=[f"d{i}" for i in range(64)])
    pub = x509.load_der_x509_certificate(resp.certificate.der).public_key()
    assert [s.reference for s in resp.signatures] == [f"d{i}" for i in range(64)]
    for d, s in zip(digests, resp.signatures, strict=True):
        pub.verify(s.signature, d, padding.PKCS1v15(),  # type: ignore[union-attr,call-arg]
                   utils.Prehashed(hashes.SHA256()))
    assert len(resp.chain) == 1 and resp.chain[0].subject.startswith("CN=kyso Development CA")


@pytest.mark.parametrize(
    ("call", "status", "fragment"),
    [
        (lambda c: c.sign_digests(DEMO, [b"\0" * 31]), "INVALID_ARGUMENT",
         "digest 0: a SHA256 digest is 32 bytes, got 31"),
        (lambda c: c.sign_digests(DEMO, [b"\0" * 32, b"\0" * 48]), "INVALID_ARGUMENT",
         "digest 1"),
        # The node refuses a batch over its limit (the library would split it: this
        # request goes to the stub as it is).
        (lambda c: c._call(c._signer.SignDigests, signer_pb2.SignDigestsRequest(
            agency_code=DEMO, digests=[signer_pb2.DigestToSign(
                digest=b"\0" * 32, hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256)] * 65)),
         "INVALID_ARGUMENT", "limit of 64: split it"),
        (lambda c: c.sign_digests(DEMO, []), "INVALID_ARGUMENT", "no digests"),
        (lambda c: c.sign_digests("000.00.00.H98", [b"\0" * 32]), "NOT_FOUND",
         "agency 000.00.00.H98 is not registered"),
        (lambda c: c.sign_digests("H13-", [b"\0" * 32]), "INVALID_ARGUMENT", "malformed"),
        (lambda c: c.sign_digests(DEMO, [b"\0" * 32], scheme="ecdsa"), "INVALID_ARGUMENT",
         "does not fit"),
        (lambda c: c.get_agency("000.00.00.H97"), "NOT_FOUND", "not registered"),
    ],
)
def test_error_cases(server: Server, call, status: str, fragment: str) -> None:
    with server.client() as c, pytest.raises(KysoClientError) as exc:
        call(c)
    assert exc.value.code == status
    assert fragment in exc.value.message


def test_agency_without_key_or_certificate(server: Server) -> None:
    with server.client() as c:
        c.create_agency("000.00.40.H13", "Chưa có khóa")
        with pytest.raises(KysoClientError) as exc:
            c.sign_digests("000.00.40.H13", [b"\0" * 32])
        assert exc.value.code == "FAILED_PRECONDITION"
        assert "kyso admin key generate 000.00.40.H13" in exc.value.message
        c.generate_key("000.00.40.H13", "ec-p256")
        with pytest.raises(KysoClientError) as exc:
            c.sign_digests("000.00.40.H13", [b"\0" * 32])
        assert exc.value.code == "FAILED_PRECONDITION"
        assert "kyso admin cert issue 000.00.40.H13" in exc.value.message


def test_oversized_message_is_refused_and_server_keeps_serving(server: Server) -> None:
    channel = grpc.insecure_channel(server.endpoint)
    from kyso.signer.v1 import signer_pb2, signer_pb2_grpc

    stub = signer_pb2_grpc.SignerServiceStub(channel)
    big = signer_pb2.SignDigestsRequest(
        agency_code=DEMO, digests=[signer_pb2.DigestToSign(digest=b"\0" * (5 << 20))]
    )
    with pytest.raises(grpc.RpcError) as exc:
        stub.SignDigests(big, timeout=30)
    assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    channel.close()


def test_health_and_reflection(server: Server) -> None:
    with grpc.insecure_channel(server.endpoint) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for svc in ("", "kyso.signer.v1.SignerService", "kyso.registry.v1.RegistryService"):
            r = health.Check(health_pb2.HealthCheckRequest(service=svc), timeout=10)
            assert r.status == health_pb2.HealthCheckResponse.SERVING
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        resp = next(refl.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
        names = {s.name for s in resp.list_services_response.service}
        assert {"kyso.signer.v1.SignerService", "kyso.registry.v1.RegistryService",
                "grpc.health.v1.Health"} <= names


def test_client_reports_unreachable_server() -> None:
    with KysoClient("127.0.0.1:1", timeout=3) as c, pytest.raises(KysoClientError) as exc:
        c.sign_digests(DEMO, [b"\0" * 32])
    assert exc.value.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED")


def test_bad_configuration_refuses_to_start(tmp_path: Path) -> None:
    env = server_env(tmp_path, "kyso-e2e-cfg")
    env["KYSO_SERVER_LISTEN"] = "0.0.0.0:0"
    env["KYSO_HSM_POOL_SIZE"] = "zero"
    r = subprocess.run([str(Path(os.sys.executable).parent / "kyso"), "serve"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "hsm.pool_size (KYSO_HSM_POOL_SIZE)" in r.stderr
    assert "off loopback and TLS is not configured" in r.stderr
    env.pop("KYSO_SERVER_LISTEN")
    env.pop("KYSO_HSM_POOL_SIZE")
    env["KYSO_HSM_PIN"] = "wrong-pin"
    env.pop("KYSO_HSM_PIN_FILE")
    r = subprocess.run([str(Path(os.sys.executable).parent / "kyso"), "serve"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "PIN" in r.stderr and "wrong-pin" not in r.stderr


def _signatures_begun(srv: Server) -> float:
    """How many signatures the node's HSM has begun (its /metrics)."""
    url = re.search(r"serving Prometheus metrics on (\S+)", srv.log())
    assert url is not None, srv.log()
    with urllib.request.urlopen(url.group(1), timeout=10) as r:
        text = r.read().decode()
    return sum(float(m.group(1)) for m in re.finditer(
        r'^kyso_hsm_operation_duration_seconds_count\{[^}]*operation="sign"[^}]*\} (\S+)$',
        text, re.M))


def test_graceful_shutdown_drains_and_restart_keeps_state(tmp_path: Path) -> None:
    env = server_env(tmp_path, "kyso-e2e-stop")
    env["KYSO_SERVER_METRICS_LISTEN"] = "127.0.0.1:0"
    srv = start_server(tmp_path, env, "--demo")
    with srv.client() as c:
        first_key = c.signing_certificate(DEMO).key_id
    results: list[object] = []
    connected = threading.Event()

    def long_call() -> None:
        try:
            with srv.client() as c:
                c.signing_certificate(DEMO)  # the channel is up before the long call
                connected.set()
                results.append(c.sign_digests(DEMO, [os.urandom(32)] * 1000))
        except Exception as exc:  # recorded and asserted below
            results.append(exc)
            connected.set()

    before = _signatures_begun(srv)
    t = threading.Thread(target=long_call)
    t.start()
    assert connected.wait(30)
    # SIGTERM once the node is signing the batch (1000 RSA-2048 signatures: over a
    # second here), not after a guessed delay.
    deadline = time.monotonic() + 30
    while _signatures_begun(srv) == before and t.is_alive():
        assert time.monotonic() < deadline, "the batch never began"
        time.sleep(0.02)
    srv.proc.send_signal(signal.SIGTERM)
    t.join(60)
    assert srv.proc.wait(30) == 0
    assert len(results) == 1 and not isinstance(results[0], Exception), results
    assert len(results[0].signatures) == 1000  # type: ignore[attr-defined]
    assert "kyso: stopped" in srv.log()

    again = start_server(tmp_path, env, "--demo")
    try:
        with again.client() as c:
            assert c.signing_certificate(DEMO).key_id == first_key
    finally:
        assert stop_server(again) == 0


def test_sigusr1_writes_every_threads_stack_to_the_log(tmp_path: Path) -> None:
    """A node that seems stuck can be asked where each thread is: ``kill -USR1 PID``."""
    env = server_env(tmp_path, "kyso-e2e-usr1")
    srv = start_server(tmp_path, env, "--demo")
    try:
        srv.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while "Current thread" not in srv.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = srv.log()
        assert "Current thread 0x" in log and "Thread 0x" in log, log[-2000:]
        assert srv.proc.poll() is None, "the node must keep serving"
        with srv.client() as c:
            c.signing_certificate(DEMO)
    finally:
        assert stop_server(srv) == 0
