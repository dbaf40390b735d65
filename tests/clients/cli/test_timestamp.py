"""``kyso timestamp FILE`` and ``kyso timestamp verify FILE TSR``: the request carries
FILE's hash and a nonce, the reply is checked against it before FILE.tsr is written;
verification of a file the token does not stamp exits 1.

The TSA is ``fake.SoftTsa``, a software one answering the very request the CLI sent,
so the tokens are real and ``signer.formats.tsp`` checks them for real."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import tsp as a_tsp

from clients.client import KysoClientError
from signer.formats.tsp import ParsedRequest
from tests.clients.cli.fake import GEN_TIME, SERIAL, FakeKyso, Kyso, SoftTsa, clean, token_for
from tests.tsa.pki import DEFAULT_POLICY, OTHER_POLICY, make_ca, pem, pki

VN_GEN_TIME = GEN_TIME.astimezone(timezone(timedelta(hours=7))).isoformat()  # as shown

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

DATA = "Quyết định số 7/QĐ-UBND\n".encode()


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    p = tmp_path / "qđ.txt"
    p.write_bytes(DATA)
    return p


def nonce_of(resp_der: bytes) -> int:
    resp = a_tsp.TimeStampResp.load(resp_der)
    tst = resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    return int(tst["nonce"].native)


# --- kyso timestamp FILE ---------------------------------------------------------------


def test_request_has_the_hash_and_a_nonce_and_tsr_is_written(
        kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    tsa = SoftTsa()
    fake.on("timestamp", tsa)
    r = kyso("timestamp", doc.name)
    assert r.exit_code == 0, r.stderr
    [req] = tsa.requests
    assert req.imprint == hashlib.sha256(DATA).digest()
    assert req.hash_alg.value == "sha256"
    assert req.nonce is not None and req.nonce > 0
    assert req.cert_req and req.policy == DEFAULT_POLICY
    tsr = doc.with_name(doc.name + ".tsr").read_bytes()
    assert nonce_of(tsr) == req.nonce
    assert f"timestamped {doc.name} at {VN_GEN_TIME} (serial {SERIAL:x}" in r.stderr


def test_each_request_has_its_own_nonce(kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    tsa = SoftTsa()
    fake.on("timestamp", tsa)
    for _ in range(2):
        assert kyso("timestamp", doc.name).exit_code == 0
    assert tsa.requests[0].nonce != tsa.requests[1].nonce


def test_output_hash_and_policy(kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    tsa = SoftTsa()
    fake.on("timestamp", tsa)
    r = kyso("timestamp", doc.name, "-o", "out.tsr", "--hash", "sha512",
             "--policy", OTHER_POLICY)
    assert r.exit_code == 0, r.stderr
    [req] = tsa.requests
    assert req.imprint == hashlib.sha512(DATA).digest() and req.policy == OTHER_POLICY
    assert (doc.parent / "out.tsr").exists()
    assert not doc.with_name(doc.name + ".tsr").exists()
    assert f"policy {OTHER_POLICY}" in r.stderr


@pytest.mark.parametrize("what", ["nonce", "imprint"])
def test_a_reply_to_another_request_is_refused(kyso: Kyso, fake: FakeKyso, doc: Path,
                                               what: str) -> None:
    def other(req: ParsedRequest) -> ParsedRequest:
        if what == "nonce":
            return dataclasses.replace(req, nonce=(req.nonce or 0) + 1)
        return dataclasses.replace(req, imprint=hashlib.sha256(b"other").digest(),
                                   message_imprint_der=b"")

    fake.on("timestamp", SoftTsa(tamper=other))
    r = kyso("timestamp", doc.name)
    clean(r)
    assert r.exit_code == 4
    assert "timestamp refused or invalid" in r.stderr and what in r.stderr
    assert [p.name for p in doc.parent.iterdir()] == [doc.name]


def test_server_refusal_exits_4(kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    fake.on("timestamp", KysoClientError("UNAVAILABLE", "the TSA clock is not synchronised"))
    r = kyso("timestamp", doc.name)
    clean(r)
    assert r.exit_code == 4
    assert "error (UNAVAILABLE): the TSA clock is not synchronised" in r.stderr
    assert [p.name for p in doc.parent.iterdir()] == [doc.name]


def test_url_asks_over_http_not_grpc(kyso: Kyso, fake: FakeKyso, doc: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    tsa = SoftTsa()
    asked: list[tuple[str, float]] = []

    def post(url: str, request_der: bytes, timeout: float) -> bytes:
        asked.append((url, timeout))
        return tsa(request_der)

    monkeypatch.setattr("clients.client.post_timestamp_query", post)
    r = kyso("--timeout", "7", "timestamp", doc.name, "--url", "http://127.0.0.1:8080/tsa")
    assert r.exit_code == 0, r.stderr
    assert asked == [("http://127.0.0.1:8080/tsa", 7.0)]
    assert fake.opened == [] and fake.calls == []
    assert tsa.requests[0].imprint == hashlib.sha256(DATA).digest()


# --- kyso timestamp verify FILE TSR ------------------------------------------------------


@pytest.fixture
def tsr(doc: Path) -> Path:
    p = doc.with_name("qđ.tsr")
    p.write_bytes(token_for(DATA))
    return p


def test_verify_ok(kyso: Kyso, doc: Path, tsr: Path) -> None:
    r = kyso("timestamp", "verify", doc.name, tsr.name)
    assert r.exit_code == 0, r.stderr
    assert f"OK: {doc.name} existed at {VN_GEN_TIME} (±1.5s)" in r.stdout
    assert f"serial {SERIAL:x}, policy {DEFAULT_POLICY}" in r.stdout
    assert "chain was not checked" in r.stdout


def test_verify_json_with_ca(kyso: Kyso, doc: Path, tsr: Path) -> None:
    (doc.parent / "ca.pem").write_bytes(pem(pki("ec-p256").ca_der))
    r = kyso("timestamp", "verify", doc.name, tsr.name, "--ca", "ca.pem", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["valid"] is True and d["chain_checked"] is True
    assert d["serial"] == f"{SERIAL:x}" and d["hash"] == "sha256"
    assert d["gen_time"] == VN_GEN_TIME and d["policy"] == DEFAULT_POLICY
    assert "thử nghiệm" in d["tsa"]  # the TSA's Vietnamese CN, not \\u escapes


def test_verify_a_mismatching_file_exits_1(kyso: Kyso, doc: Path, tsr: Path) -> None:
    (doc.parent / "other.txt").write_bytes(DATA + b"!")
    r = kyso("timestamp", "verify", "other.txt", tsr.name)
    clean(r)
    assert r.exit_code == 1
    assert "INVALID" in r.stderr and "does not stamp" in r.stderr
    assert r.stdout == ""


def test_verify_under_another_ca_exits_3(kyso: Kyso, doc: Path, tsr: Path) -> None:
    from signer.keys.types import KeyAlgorithm, Scheme

    _, other_ca = make_ca(KeyAlgorithm.EC_P256, Scheme.ECDSA, n=1)
    (doc.parent / "other-ca.pem").write_bytes(pem(other_ca))
    r = kyso("timestamp", "verify", doc.name, tsr.name, "--ca", "other-ca.pem")
    clean(r)
    assert r.exit_code == 3 and "UNDETERMINED" in r.stderr


def test_verify_garbage_exits_4(kyso: Kyso, doc: Path) -> None:
    """Not a timestamp at all: nothing could be checked (4), not "invalid" (1)."""
    (doc.parent / "junk.tsr").write_bytes(b"not a token")
    r = kyso("timestamp", "verify", doc.name, "junk.tsr")
    clean(r)
    assert r.exit_code == 4 and "not a DER time-stamp token" in r.stderr


def test_help_shows_the_options_of_the_main_use(kyso: Kyso) -> None:
    """`kyso timestamp FILE` is the command people type; its options used to hide behind
    a hidden `create` subcommand's help (issue 15 item 9)."""
    r = kyso("timestamp", "--help")
    assert r.exit_code == 0, r.stderr
    for option in ("--output", "--hash", "--url", "--policy"):
        assert option in r.stdout, r.stdout
    assert "verify" in r.stdout and "create" not in r.stdout
