"""Key lifecycle through the real CLI and server: CSR -> a CA run by the openssl command
line -> certificate import -> CMS signature verified by openssl; then compromise stops
signing at once, and a rotation brings the agency back."""

from __future__ import annotations

import json
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.helpers import hsm_unavailable_reason
from tests.servers import Server, server_env, start_server, stop_server

pytestmark = pytest.mark.e2e

CODE = "000.00.00.H49"
NAME = "Ủy ban nhân dân tỉnh Quảng Ninh"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("e2e-keys")
    server = start_server(workdir, server_env(workdir, "kyso-e2e-keys"), "--demo")
    yield server
    stop_server(server)


def _ok(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    proc = srv.cli(*args)
    assert proc.returncode == 0, f"kyso {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def _seal_png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    raw = b"".join(b"\0" + b"\xcc\x00\x00\x80" * 64 for _ in range(64))
    return b"\x89PNG\r\n\x1a\n" + b"".join([
        chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 6, 0, 0, 0)),
        chunk(b"IDAT", zlib.compress(raw)),
        chunk(b"IEND", b""),
    ])


def test_external_ca_import_sign_then_compromise(srv: Server, tmp_path: Path) -> None:
    _ok(srv, "admin", "agency", "add", CODE, "--name", NAME)
    _ok(srv, "admin", "key", "generate", CODE, "--algorithm", "ec-p256")

    csr = tmp_path / "seal.csr"
    _ok(srv, "admin", "cert", "csr", CODE, "-o", str(csr),
        "--subject", "L=Hạ Long,UID=MST:5700100256")
    _openssl("req", "-verify", "-noout", "-in", csr)
    subject = _openssl("req", "-noout", "-subject", "-nameopt", "utf8", "-in", csr).stdout
    assert f"CN={NAME}" in subject and "UID=MST:5700100256" in subject

    # A CA made and run by openssl alone signs the request.
    ca_key, ca_pem, cert = tmp_path / "ca.key", tmp_path / "ca.pem", tmp_path / "seal.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_pem,
             "-subj", "/CN=Throwaway CA/O=Test PKI/C=VN", "-days", "30",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ext = tmp_path / "seal.ext"
    ext.write_text("basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,nonRepudiation\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial",
             "-out", cert, "-days", "10", "-extfile", ext)

    # Without the chain the CA is unknown to kyso: a message a person can act on.
    refused = srv.cli("admin", "cert", "import", CODE, str(cert))
    assert refused.returncode == 4
    assert "INVALID_ARGUMENT" in refused.stderr and "--chain" in refused.stderr

    _ok(srv, "admin", "cert", "import", CODE, str(cert), "--chain", str(ca_pem))
    keys = json.loads(_ok(srv, "admin", "key", "list", CODE, "--json").stdout)
    active = [k for k in keys if k["state"] == "active"]
    assert len(active) == 1 and "CN=Throwaway CA" in active[0]["certificate"]["issuer"]
    key_id = active[0]["key_id"]

    doc = tmp_path / "van-ban.txt"
    doc.write_text("Quyết định số 11/QĐ-UBND về việc ban hành quy chế\n" * 100)
    p7s = tmp_path / "van-ban.p7s"
    _ok(srv, "sign", "cms", str(doc), "--agency", CODE, "-o", str(p7s))
    _openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-content", doc,
             "-CAfile", ca_pem, "-purpose", "any", "-out", "/dev/null")

    seal = tmp_path / "seal.png"
    seal.write_bytes(_seal_png())
    _ok(srv, "admin", "seal", "set", CODE, str(seal), "--width-mm", "36")
    _ok(srv, "admin", "seal", "profile", CODE, "attachment")
    shown = json.loads(_ok(srv, "admin", "seal", "show", CODE, "--json").stdout)
    assert shown["seal_mm"] == [36, 36] and shown["default_profile"] == "attachment"

    _ok(srv, "admin", "key", "compromise", key_id, "--reason", "USB token backup lost")
    failed = srv.cli("sign", "cms", str(doc), "--agency", CODE, "-o", str(p7s))
    assert failed.returncode == 4
    assert "FAILED_PRECONDITION" in failed.stderr
    assert f"key {key_id} was marked compromised on" in failed.stderr
    assert "rotate to a new key" in failed.stderr

    # The development CA is on in this server: a rotation certifies and activates at once.
    _ok(srv, "admin", "key", "rotate", CODE)
    _ok(srv, "sign", "cms", str(doc), "--agency", CODE, "-o", str(p7s))
    states = {k["key_id"]: k["state"]
              for k in json.loads(_ok(srv, "admin", "key", "list", CODE, "--json").stdout)}
    assert states[key_id] == "compromised"
    assert sorted(states.values()) == ["active", "compromised"]


def test_compromise_then_rotate_then_verify(srv: Server, tmp_path: Path) -> None:
    """After a compromise the rotation keeps the agency's algorithm and says the old key is
    compromised (issue 15 item 2); `kyso verify` of a document that key signed no longer
    says HỢP LỆ, and names the compromise (item 3)."""
    code = "000.00.00.H50"
    _ok(srv, "admin", "agency", "add", code, "--name", "Ủy ban nhân dân tỉnh Quảng Trị")
    _ok(srv, "admin", "key", "rotate", code, "--algorithm", "ec-p384")
    doc = tmp_path / "cong-van.txt"
    doc.write_text("Công văn số 7/UBND-VP về việc lấy ý kiến\n" * 50)
    p7s = tmp_path / "cong-van.p7s"
    _ok(srv, "sign", "cms", str(doc), "--agency", code, "-o", str(p7s))
    good = _ok(srv, "verify", str(p7s), "--content", str(doc))
    assert "HỢP LỆ" in good.stdout and "lộ" not in good.stdout

    [old] = json.loads(_ok(srv, "admin", "key", "list", code, "--json").stdout)
    _ok(srv, "admin", "key", "compromise", old["key_id"], "--reason", "máy chủ bị xâm nhập")
    rotated = json.loads(_ok(srv, "admin", "key", "rotate", code, "--json").stdout)
    assert rotated["algorithm"] == "ec-p384"
    assert rotated["previous"]["key_id"] == old["key_id"]
    assert rotated["previous"]["state"] == "compromised"

    bad = srv.cli("verify", str(p7s), "--content", str(doc))
    assert bad.returncode == 3, bad.stdout  # INDETERMINATE
    assert "CHƯA XÁC ĐỊNH" in bad.stdout and "HỢP LỆ" not in bad.stdout
    assert f"khóa ký {old['key_id']} đã bị đánh dấu lộ lúc" in bad.stdout
    assert "Tình trạng thu hồi: khóa ký đã bị đánh dấu lộ" in bad.stdout
