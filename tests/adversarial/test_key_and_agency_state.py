"""Promise: key and agency state is enforced on every path, on every node.

A key-admin marks the TSA key (or the audit key) compromised: it must stop being used
by every node within the bound that holds for agency keys (the next request after the
2 s key cache), on every path that uses it — RFC 3161 over HTTP, gRPC Timestamp,
CAdES-B-T signatures — and the TSA key must be rotatable without a restart. A closed,
merged or moved agency code must not sign any more (FAILED_PRECONDITION naming the
successor), whatever grant a client holds on it. And agency codes are ASCII: look-alike
digits (full-width, Arabic-Indic) or letters that upper-case into ASCII ("ſ") must not
create twins of real codes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import cms as a_cms
from sqlalchemy import select

from clients.client import KysoClientError
from kyso.tsa.v1 import tsa_pb2, tsa_pb2_grpc
from registry.agencies.codes import parse_code
from registry.db.audit import AuditCheckpointRow
from registry.db.models import CertificateRow, KeyRow
from signer.errors import InvalidRequest
from signer.formats.tsp import TimeStampResp, make_request
from tests.adversarial.nodes import DEMO, Node, connection_per_node
from tests.servers import server_env

pytestmark = pytest.mark.e2e
K = KeyRow.__table__
CERTS = CertificateRow.__table__
BOUND_S = 2.0 + 1.0  # the key cache, and a second of slack for the machine


def _tsa_key(node: Node, state: str = "active") -> tuple[str, bytes]:
    """The TSA key's id and its certificate (DER), read as an auditor would."""
    engine = node.database()
    with engine.connect() as conn:
        row = conn.execute(select(K.c.id, K.c.key_id).where(K.c.purpose == "tsa",
                                                            K.c.state == state)).one()
        der = conn.execute(select(CERTS.c.der).where(CERTS.c.key_pk == row.id)
                           .order_by(CERTS.c.id.desc())).scalars().first()
    engine.dispose()
    return row.key_id, bytes(der)


def _token_signer_serial(token_der: bytes) -> int:
    sd = a_cms.ContentInfo.load(token_der)["content"]
    return int(sd["signer_infos"][0]["sid"].chosen["serial_number"].native)


def _http_stamp(url: str) -> tuple[str, bytes | None]:
    body, _ = make_request(hashlib.sha256(str(time.monotonic()).encode()).digest())
    req = urllib.request.Request(url, data=body,
                                 headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            resp = TimeStampResp.load(r.read())
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}", None
    status = resp["status"]["status"].native
    return status, resp["time_stamp_token"].dump() if status == "granted" else None


def _grpc_stamps(node: Node, n: int) -> list[tuple[str, bytes | None]]:
    """``n`` timestamps from each worker (one connection to each)."""
    assert node.server is not None
    srv = node.server
    out = []
    channels = connection_per_node(srv.endpoint, {"e2e-0", "e2e-1"})
    try:
        for ch in channels.values():
            for _ in range(n):
                body, _ = make_request(os.urandom(32))
                r = tsa_pb2_grpc.TimestampServiceStub(ch).Timestamp(
                    tsa_pb2.TimestampRequest(time_stamp_req=body),
                    metadata=(("authorization", f"Bearer {srv.token}"),), timeout=10)
                resp = TimeStampResp.load(r.time_stamp_resp)
                status = resp["status"]["status"].native
                out.append((status, resp["time_stamp_token"].dump() if status == "granted"
                            else None))
    finally:
        for ch in channels.values():
            ch.close()
    return out


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Node]:
    node = Node(tmp_path, server_env(tmp_path, "kyso-adv-state"), ("--demo", "--workers", "2"))
    node.start()
    yield node
    if node.server is not None and node.server.proc.poll() is None:
        node.stop()


def test_a_compromised_tsa_key_stops_timestamps_on_every_path_and_node(
    two_workers: Node,
) -> None:
    node = two_workers
    assert node.server is not None
    srv = node.server
    assert _http_stamp(srv.tsa_url)[0] == "granted"
    key_id, _ = _tsa_key(node)
    r = srv.cli("admin", "key", "compromise", key_id, "--reason", "the TSA host was stolen")
    assert r.returncode == 0, r.stdout + r.stderr
    marked = time.monotonic()
    time.sleep(BOUND_S)
    # every path, on both workers (fresh connections spread over them)
    for _ in range(10):
        status, token = _http_stamp(srv.tsa_url)
        assert token is None, f"HTTP timestamp {status} {time.monotonic() - marked:.1f} s " \
            "after the TSA key was marked compromised"
    for status, token in _grpc_stamps(node, 5):
        assert token is None, f"gRPC timestamp {status} after the compromise"
    with srv.client() as c:
        try:
            resp = c.sign_digests(DEMO, [hashlib.sha256(b"B-T").digest()], cms=True,
                                  timestamp=True)
            assert resp.signatures[0].level != 2, "a CAdES-B-T token from a compromised key"
        except KysoClientError as exc:
            assert exc.code in ("UNAVAILABLE", "FAILED_PRECONDITION"), exc


def test_the_tsa_key_rotates_without_a_restart(two_workers: Node) -> None:
    node = two_workers
    assert node.server is not None
    srv = node.server
    old_id, _ = _tsa_key(node)
    r = srv.cli("admin", "tsa", "rotate", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    new_id, new_cert = _tsa_key(node)
    assert new_id != old_id
    from cryptography import x509

    new_serial = x509.load_der_x509_certificate(new_cert).serial_number
    time.sleep(BOUND_S)
    tokens = [t for _, t in _grpc_stamps(node, 5)] + [_http_stamp(srv.tsa_url)[1]]
    assert all(t is not None for t in tokens)
    assert {_token_signer_serial(t) for t in tokens if t} == {new_serial}


def test_a_compromised_audit_key_signs_no_more_checkpoints(node: Node) -> None:
    assert node.server is not None
    srv = node.server
    engine = node.database()
    with engine.connect() as conn:
        audit_key = conn.execute(select(K.c.key_id).where(K.c.purpose == "audit",
                                                          K.c.state == "active")).scalar_one()
    r = srv.cli("admin", "key", "compromise", audit_key, "--reason", "test")
    assert r.returncode == 0, r.stdout + r.stderr
    compromised_at = datetime.now(UTC)
    with srv.client() as c:
        c.sign_digests(DEMO, [hashlib.sha256(b"after").digest()])
    assert node.stop() == 0  # a clean stop signs the head
    C = AuditCheckpointRow.__table__
    with engine.connect() as conn:
        late = conn.execute(select(C.c.key_id, C.c.time)).all()
    engine.dispose()
    after = [k for k, t in late
             if (t if t.tzinfo else t.replace(tzinfo=UTC)) > compromised_at]
    assert after, "no checkpoint was signed after the compromise"
    assert audit_key not in after, "the compromised audit key signed a checkpoint"
    restarted = node.start()
    report = json.loads(restarted.cli("admin", "audit", "verify", "--json").stdout)
    assert report["ok"], report


def test_closed_merged_and_moved_codes_sign_no_more(node: Node) -> None:
    assert node.server is not None
    srv = node.server
    for code, name in (("H55", "Tỉnh Sóc Trăng"), ("H56", "Tỉnh Hậu Giang"),
                       ("H57", "Thành phố Huế")):
        for args in (("agency", "add", code, "--name", name),
                     ("key", "generate", code, "--algorithm", "ec-p256"),
                     ("cert", "issue", code)):
            r = srv.cli("admin", *args)
            assert r.returncode == 0, r.stdout + r.stderr
    # a client granted signing on the code that is about to close
    r = srv.cli("admin", "client", "add", "dms-h56", "--grant", "signer@H56", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    narrow = json.loads(r.stdout)["token"]
    with srv.client() as c:
        c.sign_digests("H56", [hashlib.sha256(b"before").digest()])
    # The server's day (UTC), read after the codes were issued: a midnight in between
    # would otherwise date the merge before their creation.
    today = datetime.now(UTC).date().isoformat()
    for args in (("merge", "H56", "--into", "H55", "--effective", today),
                 ("close", "H57", "--effective", today)):
        r = srv.cli("admin", "agency", *args)
        assert r.returncode == 0, r.stdout + r.stderr
    time.sleep(BOUND_S)
    with srv.client() as c:
        with pytest.raises(KysoClientError) as merged:
            c.sign_digests("H56", [hashlib.sha256(b"after merge").digest()])
        with pytest.raises(KysoClientError) as closed:
            c.sign_digests("H57", [hashlib.sha256(b"after close").digest()])
    assert merged.value.code == "FAILED_PRECONDITION" and "H55" in str(merged.value)
    assert closed.value.code == "FAILED_PRECONDITION" and "closed" in str(closed.value)
    from clients import KysoClient

    with KysoClient(srv.endpoint, token=narrow) as c:
        for code in ("H56", "H55"):
            with pytest.raises(KysoClientError) as info:
                c.sign_digests(code, [hashlib.sha256(b"narrow").digest()])
            assert info.value.code in ("FAILED_PRECONDITION", "PERMISSION_DENIED")


LOOK_ALIKES = [
    "000.00.00.H１３",  # full-width digits
    "٠٠٠.٠٠.٠٠.H١٣",  # Arabic-Indic digits
    "０００.００.００.H13",
    "ſ13",  # LATIN SMALL LETTER LONG S upper-cases to "S"
    "H13.１",
    "000.00.00.Z13",  # level-1 letters run A to Y
    "Z13",
]


@pytest.mark.parametrize("code", LOOK_ALIKES)
def test_look_alike_codes_are_refused(code: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_code(code)


def test_a_look_alike_twin_cannot_be_registered(node: Node) -> None:
    assert node.server is not None
    r = node.server.cli("admin", "agency", "add", "000.00.00.H１３", "--name", "Twin")
    assert r.returncode != 0, r.stdout
    assert "INVALID_ARGUMENT" in r.stdout + r.stderr or "malformed" in r.stdout + r.stderr
