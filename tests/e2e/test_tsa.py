"""The TSA as standard clients see it: OpenSSL and curl over HTTP, pyHanko's
timestamp client and validator, kyso's CLI over gRPC; refusals; CAdES-B-T."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
from pathlib import Path

import grpc
import pytest
from asn1crypto import cms, tsp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clients import KysoClientError
from signer.formats.tsp import TimeStampResp
from tests.servers import KYSO, Server, server_env, start_server, stop_server

pytestmark = pytest.mark.e2e
DEMO = "000.00.00.H13"


@pytest.fixture(scope="module")
def ca_pem(server: Server) -> Path:
    out = server.workdir / "tsa-ca.pem"
    assert server.cli("admin", "ca", "export", "-o", str(out)).returncode == 0
    return out


def run(*cmd: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, input=data, capture_output=True, timeout=60)


def curl_post(url: str, body_file: Path, out: Path,
              content_type: str = "application/timestamp-query") -> tuple[int, str]:
    r = run("curl", "-sS", "-o", str(out), "-w", "%{http_code}", "-H",
            f"Content-Type: {content_type}", "--data-binary", f"@{body_file}", url)
    assert r.returncode == 0, r.stderr
    return int(r.stdout), out.read_bytes().decode("utf-8", "replace") if out.exists() else ""


def openssl_query(tmp: Path, data: Path, *args: str) -> Path:
    tsq = tmp / f"{data.name}.{abs(hash(args))}.tsq"
    r = run("openssl", "ts", "-query", "-data", str(data), *args, "-out", str(tsq))
    assert r.returncode == 0, r.stderr
    return tsq


def reply_text(tsr: Path) -> str:
    r = run("openssl", "ts", "-reply", "-in", str(tsr), "-text")
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def assert_healthy(server: Server) -> None:
    with grpc.insecure_channel(server.endpoint) as ch:
        r = health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service="kyso.tsa.v1.TimestampService"), timeout=10)
        assert r.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("nonce", [True, False])
def test_openssl_query_over_http_verifies_with_openssl(server: Server, ca_pem: Path,
                                                       tmp_path: Path, nonce: bool) -> None:
    data = tmp_path / "quyet-dinh.pdf"
    data.write_bytes(os.urandom(100_000))
    tsq = openssl_query(tmp_path, data, "-sha256", "-cert", *([] if nonce else ["-no_nonce"]))
    tsr = tmp_path / "reply.tsr"
    code, _ = curl_post(server.tsa_url, tsq, tsr)
    assert code == 200
    v = run("openssl", "ts", "-verify", "-data", str(data), "-in", str(tsr), "-CAfile",
            str(ca_pem))
    assert v.returncode == 0 and b"Verification: OK" in v.stdout, v.stdout + v.stderr
    text = reply_text(tsr)
    assert "Status: Granted" in text
    assert "Policy OID: 0.4.0.2023.1.1" in text
    assert "Accuracy: 0x01 seconds" in text or "Accuracy: 1 seconds" in text or "Accuracy:" in text
    assert ("Nonce: unspecified" in text) != nonce
    # genTime in UTC with sub-second precision: DER trims trailing zeros, and drops the
    # fraction altogether on a whole second (one token in a million).
    gen = next(line for line in text.splitlines() if line.startswith("Time stamp:"))
    assert re.fullmatch(r"Time stamp: \w{3} [ \d]\d \d\d:\d\d:\d\d(\.\d{1,6})? \d{4} GMT",
                        gen), gen
    # Tampered data is detected by OpenSSL.
    tampered = bytearray(data.read_bytes())
    tampered[-1] ^= 0x01  # always a change (replacing the byte with a constant is not, 1 in 256)
    data.write_bytes(bytes(tampered))
    bad = run("openssl", "ts", "-verify", "-data", str(data), "-in", str(tsr), "-CAfile",
              str(ca_pem))
    assert bad.returncode != 0


@pytest.mark.parametrize("alg", ["-sha384", "-sha512"])
def test_other_accepted_hashes(server: Server, ca_pem: Path, tmp_path: Path, alg: str) -> None:
    data = tmp_path / "d.bin"
    data.write_bytes(b"edXML " * 999)
    tsr = tmp_path / "r.tsr"
    assert curl_post(server.tsa_url, openssl_query(tmp_path, data, alg, "-cert"), tsr)[0] == 200
    v = run("openssl", "ts", "-verify", "-data", str(data), "-in", str(tsr), "-CAfile",
            str(ca_pem))
    assert v.returncode == 0, v.stdout + v.stderr


def _req_with(imprint_alg: str, imprint: bytes, extensions: bool = False) -> bytes:
    req = tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": {"algorithm": imprint_alg},
                            "hashed_message": imprint},
        "cert_req": True,
    })
    if extensions:
        req["extensions"] = [{"extn_id": "1.2.3.4.5", "critical": False,
                              "extn_value": b"\x05\x00"}]
    return req.dump()


@pytest.mark.parametrize(
    ("make", "failure", "openssl_says"),
    [
        (lambda t, d: openssl_query(t, d, "-sha1", "-cert"), "bad_alg",
         "unrecognized or unsupported algorithm identifier"),
        (lambda t, d: openssl_query(t, d, "-md5", "-cert"), "bad_alg",
         "unrecognized or unsupported algorithm identifier"),
        (lambda t, d: openssl_query(t, d, "-sha256", "-tspolicy", "1.2.3.4.5"),
         "unaccepted_policy", "the requested TSA policy is not supported by the TSA"),
        (lambda t, d: _write(t, _req_with("sha256", b"\0" * 31)), "bad_data_format",
         "the data submitted has the wrong format"),
        (lambda t, d: _write(t, _req_with("sha256", b"\0" * 32, extensions=True)),
         "unaccepted_extensions", "the requested extension is not supported by the TSA"),
        (lambda t, d: _write(t, b"this is not DER"), "bad_request",
         "transaction not permitted or supported"),
    ],
)
def test_refusals_are_rfc3161_rejections(server: Server, tmp_path: Path, make, failure: str,
                                         openssl_says: str) -> None:
    data = tmp_path / "d.bin"
    data.write_bytes(b"x" * 100)
    tsr = tmp_path / "r.tsr"
    code, _ = curl_post(server.tsa_url, make(tmp_path, data), tsr)
    assert code == 200
    resp = TimeStampResp.load(tsr.read_bytes())
    assert resp["status"]["status"].native == "rejection"
    assert failure in resp["status"]["fail_info"].native
    assert resp["status"]["status_string"].native  # a human reason
    text = reply_text(tsr)
    assert "Status: Rejected" in text and openssl_says in text, text
    assert_healthy(server)


def _write(tmp: Path, der: bytes) -> Path:
    p = tmp / "crafted.tsq"
    p.write_bytes(der)
    return p


def test_http_level_refusals(server: Server, tmp_path: Path) -> None:
    data = tmp_path / "d.bin"
    data.write_bytes(b"x")
    tsq = openssl_query(tmp_path, data, "-sha256")
    code, body = curl_post(server.tsa_url, tsq, tmp_path / "a", content_type="text/plain")
    assert code == 415 and "application/timestamp-query" in body
    big = tmp_path / "big.tsq"
    big.write_bytes(b"\0" * 100_000)
    code, body = curl_post(server.tsa_url, big, tmp_path / "b")
    assert code == 413 and "at most" in body
    r = run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", server.tsa_url)
    assert r.stdout == b"405"
    assert_healthy(server)


def test_pyhanko_timestamper_and_validator(server: Server, ca_pem: Path) -> None:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.sign.timestamps.aiohttp_client import HTTPTimeStamper
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    digest = hashlib.sha256(b"van ban").digest()

    from pyhanko.sign.validation.status import TimestampSignatureStatus

    async def go() -> TimestampSignatureStatus:
        stamper = HTTPTimeStamper(server.tsa_url, timeout=30)
        token = await stamper.async_timestamp(digest, "sha256")  # checks status and nonce
        vc = ValidationContext(trust_roots=[load_cert_from_pemder(str(ca_pem))])
        kwargs = await validate_tst_signed_data(token["content"], vc, lambda _alg: digest)
        return TimestampSignatureStatus(**kwargs)

    status = asyncio.run(go())
    assert status.intact and status.valid and status.trusted, status


def test_cli_timestamp_over_grpc_and_http(server: Server, ca_pem: Path) -> None:
    doc = server.workdir / "to-trinh.docx"
    doc.write_bytes(os.urandom(50_000))
    grpc_tsr = server.workdir / "g.tsr"
    r = server.cli("timestamp", str(doc), "-o", str(grpc_tsr))
    assert r.returncode == 0, r.stderr
    http_tsr = server.workdir / "h.tsr"
    r = server.cli("timestamp", str(doc), "-o", str(http_tsr), "--url", server.tsa_url,
                   "--hash", "sha512")
    assert r.returncode == 0, r.stderr
    for tsr in (grpc_tsr, http_tsr):
        ok = server.cli("timestamp", "verify", str(doc), str(tsr), "--ca", str(ca_pem))
        assert ok.returncode == 0 and "OK:" in ok.stdout, ok.stderr
        v = run("openssl", "ts", "-verify", "-data", str(doc), "-in", str(tsr), "-CAfile",
                str(ca_pem))
        assert v.returncode == 0, v.stdout + v.stderr
    doc.write_bytes(doc.read_bytes() + b"\0")
    bad = server.cli("timestamp", "verify", str(doc), str(grpc_tsr), "--ca", str(ca_pem))
    assert bad.returncode == 1 and "INVALID" in bad.stderr


def test_grpc_refusal_is_a_rejection_not_an_error(server: Server) -> None:
    with server.client() as c:
        resp = TimeStampResp.load(c.timestamp(b"\x30\x03\x02\x01\x01"))
    assert resp["status"]["status"].native == "rejection"


def _signature_timestamp(p7s: bytes) -> tuple[bytes, cms.ContentInfo]:
    sd = cms.ContentInfo.load(p7s)["content"]
    si = sd["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in si["unsigned_attrs"]}
    return si["signature"].native, attrs["signature_time_stamp_token"]


def test_cades_b_t_with_the_internal_tsa(server: Server, ca_pem: Path) -> None:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    doc = server.workdir / "bt.pdf"
    doc.write_bytes(os.urandom(20_000))
    p7s = server.workdir / "bt.p7s"
    r = server.cli("sign", "cms", str(doc), "--agency", DEMO, "-o", str(p7s), "--level", "B-T")
    assert r.returncode == 0 and "CAdES-B-T" in r.stderr, r.stderr
    v = run("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(p7s),
            "-content", str(doc), "-CAfile", str(ca_pem), "-purpose", "any", "-out", os.devnull)
    assert v.returncode == 0, v.stderr
    signature, token = _signature_timestamp(p7s.read_bytes())
    tst = token["content"]["encap_content_info"]["content"].parsed
    assert tst["message_imprint"]["hashed_message"].native == hashlib.sha256(signature).digest()
    # pyHanko validates the signature and its timestamp against the dev CA.
    vc = ValidationContext(trust_roots=[load_cert_from_pemder(str(ca_pem))])
    status = asyncio.run(async_validate_detached_cms(
        doc.read_bytes(), cms.ContentInfo.load(p7s.read_bytes())["content"],
        signer_validation_context=vc, ts_validation_context=vc))
    assert status.intact and status.valid and status.trusted
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.trusted


def test_cades_b_t_from_an_external_tsa_and_its_failure_modes(server: Server, ca_pem: Path,
                                                             tmp_path: Path) -> None:
    env = server_env(tmp_path, "kyso-e2e-ext")
    env.update(KYSO_CADES_SOURCE="url", KYSO_CADES_URL=server.tsa_url,
               KYSO_TSA_ENABLED="false")
    other = start_server(tmp_path, env, "--demo")
    try:
        with other.client() as c:
            resp = c.sign_digests(DEMO, [os.urandom(32)], cms=True, timestamp=True)
        assert resp.signatures[0].level == 2  # B_T
        _, token = _signature_timestamp(resp.signatures[0].signature)
        signer = token["content"]["certificates"][0].chosen.subject.human_friendly
        assert "kyso Development TSA" in signer  # issued by the first server's TSA
    finally:
        stop_server(other)
    # An unreachable TSA: fail (UNAVAILABLE, with the reason) or degrade (B-B, said so).
    for mode in ("fail", "degrade"):
        env.update(KYSO_CADES_URL="http://127.0.0.1:9/tsa", KYSO_CADES_ON_FAILURE=mode,
                   KYSO_CADES_ATTEMPTS="2", KYSO_CADES_BACKOFF_S="0.05",
                   KYSO_CADES_TIMEOUT_S="2")
        other = start_server(tmp_path, env, "--demo")
        try:
            with other.client() as c:
                if mode == "fail":
                    with pytest.raises(KysoClientError) as exc:
                        c.sign_digests(DEMO, [os.urandom(32)], cms=True, timestamp=True)
                    assert exc.value.code == "UNAVAILABLE"
                    assert "127.0.0.1:9" in exc.value.message and "attempt 2/2" in exc.value.message
                else:
                    resp = c.sign_digests(DEMO, [os.urandom(32)], cms=True, timestamp=True)
                    assert resp.signatures[0].level == 1  # B_B, explicitly
        finally:
            stop_server(other)


def test_tsa_refuses_to_start_with_a_certificate_without_timestamping_eku(
        tmp_path: Path) -> None:
    env = server_env(tmp_path, "kyso-e2e-badtsa")
    first = start_server(tmp_path, env, "--demo")
    assert stop_server(first) == 0
    # Re-certify the TSA key with an organization-seal profile (no timeStamping EKU),
    # in a separate process: PKCS#11 allows one login per process.
    script = """
import os
from registry.devca import DevCa, CA_HASH
from registry.db.store import RegistryStore, KeyPurpose
from signer.keys.store import HsmConfig, Pkcs11KeyStore
from signer.formats.x509 import issue_certificate
from signer.keys.types import KeyUse
from datetime import UTC, datetime, timedelta
store = RegistryStore(os.environ["KYSO_STORE_URL"])
ks = Pkcs11KeyStore(HsmConfig(token_label=os.environ["KYSO_HSM_TOKEN_LABEL"],
                              pin=open(os.environ["KYSO_HSM_PIN_FILE"]).read().strip()))
ks.open()
ca = store.active_key(KeyPurpose.DEV_CA)
tsa = store.active_key(KeyPurpose.TSA)
now = datetime.now(UTC)
der = issue_certificate(subject={"common_name": "not a TSA"},
    subject_public_key_der=tsa.public_key_der, issuer=ca.certificate.der,
    issuer_key=ks.key(ca.key_id, use=KeyUse.CA), issuer_public_key_der=ca.public_key_der,
    scheme=ca.scheme,
    hash_alg=CA_HASH, not_before=now - timedelta(minutes=1), not_after=now + timedelta(days=30),
    profile="seal")
store.attach_certificate(tsa.key_id, der, (ca.certificate.der,))
ks.close()
"""
    r = subprocess.run([str(Path(KYSO).parent / "python"), "-c", script], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([KYSO, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "the TSA cannot start" in r.stderr and "timeStamping" in r.stderr, r.stderr


def test_clock_guard_follows_the_kernel(tmp_path: Path) -> None:
    from tsa.clock import STA_UNSYNC, TIME_ERROR, kernel_clock_status

    env = server_env(tmp_path, "kyso-e2e-clock")
    env["KYSO_TSA_CLOCK_CHECK"] = "kernel"
    env["KYSO_TSA_MAX_CLOCK_ERROR_MS"] = "1000"
    srv = start_server(tmp_path, env, "--demo")
    try:
        state, flags, maxerror_us = kernel_clock_status()
        unsynced = state == TIME_ERROR or bool(flags & STA_UNSYNC) or maxerror_us > 1_000_000
        data = tmp_path / "d.bin"
        data.write_bytes(b"clock")
        tsr = tmp_path / "r.tsr"
        assert curl_post(srv.tsa_url, openssl_query(tmp_path, data, "-sha256"), tsr)[0] == 200
        text = reply_text(tsr)
        if unsynced:
            assert "Status: Rejected" in text and "time source is not available" in text, text
            with grpc.insecure_channel(srv.endpoint) as ch:
                h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(
                    service="kyso.tsa.v1.TimestampService"), timeout=10)
            assert h.status == health_pb2.HealthCheckResponse.NOT_SERVING
        else:
            assert "Status: Granted" in text
    finally:
        stop_server(srv)
