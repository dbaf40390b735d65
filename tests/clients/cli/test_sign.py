"""``kyso sign cms FILE``: the file is hashed here, only its digest is sent, the
signature the server returns is written to FILE.p7s (or -o); a refusal exits 1 and
leaves no file behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from clients.client import CHUNK, KysoClientError
from kyso.signer.v1 import signer_pb2
from tests.clients.cli.fake import FakeKyso, Kyso, clean

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

AGENCY = "000.00.00.H13"
DATA = "Công văn số 42/UBND-VP\n".encode() * 3
CMS = b"0\x82\x01\x00fake-cms-der"
KEY_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


def signed(level: int = signer_pb2.CADES_LEVEL_B_B) -> signer_pb2.SignDigestsResponse:
    return signer_pb2.SignDigestsResponse(
        signatures=[signer_pb2.SignedDigest(signature=CMS, level=level)], key_id=KEY_ID)


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    p = tmp_path / "công văn.txt"
    p.write_bytes(DATA)
    return p


def test_hashes_locally_and_writes_file_p7s(kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    fake.on("sign_digests", signed())
    r = kyso("sign", "cms", doc.name, "--agency", AGENCY)
    assert r.exit_code == 0, r.stderr
    call = fake.only("sign_digests")
    assert call.args == (AGENCY, [hashlib.sha256(DATA).digest()])
    assert call.kwargs == {"hash_alg": "sha256", "cms": True, "timestamp": False}
    out = doc.with_name(doc.name + ".p7s")
    assert out.read_bytes() == CMS
    assert sorted(p.name for p in doc.parent.iterdir()) == [doc.name, out.name]
    # the whole key id, as `kyso admin key list` shows and `key retire` accepts it
    assert f"for {AGENCY} with key {KEY_ID} as CAdES-B-B → {out.name}" in r.stderr
    assert hashlib.sha256(DATA).hexdigest()[:16] in r.stderr
    assert r.stdout == ""


def test_output_option_and_hash(kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    fake.on("sign_digests", signed())
    r = kyso("sign", "cms", doc.name, "--agency", AGENCY, "-o", "sig.der", "--hash", "sha512")
    assert r.exit_code == 0, r.stderr
    call = fake.only("sign_digests")
    assert call.args[1] == [hashlib.sha512(DATA).digest()]
    assert call.kwargs["hash_alg"] == "sha512"
    assert (doc.parent / "sig.der").read_bytes() == CMS
    assert not doc.with_name(doc.name + ".p7s").exists()


def test_a_file_of_several_chunks(kyso: Kyso, fake: FakeKyso, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    data = bytes(range(256)) * (CHUNK * 2 // 256 + 3)  # two chunks and a bit
    big.write_bytes(data)
    fake.on("sign_digests", signed())
    r = kyso("sign", "cms", "big.bin", "--agency", AGENCY, "--hash", "sha384")
    assert r.exit_code == 0, r.stderr
    assert fake.only("sign_digests").args[1] == [hashlib.sha384(data).digest()]


def test_level_b_t_asks_for_a_timestamp(kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    fake.on("sign_digests", signed(signer_pb2.CADES_LEVEL_B_T))
    r = kyso("sign", "cms", doc.name, "--agency", AGENCY, "--level", "B-T")
    assert r.exit_code == 0, r.stderr
    assert fake.only("sign_digests").kwargs["timestamp"] is True
    assert "as CAdES-B-T" in r.stderr and "warning" not in r.stderr


def test_level_b_t_degraded_to_b_b_warns(kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    fake.on("sign_digests", signed(signer_pb2.CADES_LEVEL_B_B))
    r = kyso("sign", "cms", doc.name, "--agency", AGENCY, "--level", "B-T")
    assert r.exit_code == 0, r.stderr
    assert "as CAdES-B-B" in r.stderr
    assert "warning: the timestamp authority failed" in r.stderr
    assert doc.with_name(doc.name + ".p7s").read_bytes() == CMS


def test_refusal_exits_4_and_leaves_no_file(kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    fake.on("sign_digests", KysoClientError("NOT_FOUND", f"no active key for agency {AGENCY}"))
    r = kyso("sign", "cms", doc.name, "--agency", AGENCY)
    clean(r)
    assert r.exit_code == 4
    assert f"error (NOT_FOUND): no active key for agency {AGENCY}" in r.stderr
    assert r.stdout == ""
    assert [p.name for p in doc.parent.iterdir()] == [doc.name]  # no .p7s, no .tmp


def test_refusal_keeps_an_existing_output(kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    old = doc.with_name(doc.name + ".p7s")
    old.write_bytes(b"previous signature")
    fake.on("sign_digests", KysoClientError("UNAVAILABLE", "HSM unavailable"))
    r = kyso("sign", "cms", doc.name, "--agency", AGENCY)
    assert r.exit_code == 4
    assert old.read_bytes() == b"previous signature"


def test_missing_file_and_agency_are_usage_errors(kyso: Kyso, fake: FakeKyso,
                                                  doc: Path) -> None:
    r = kyso("sign", "cms", "absent.txt", "--agency", AGENCY)
    assert r.exit_code == 2 and "absent.txt" in r.stderr
    r = kyso("sign", "cms", doc.name)
    assert r.exit_code == 2 and "--agency" in r.stderr
    assert fake.opened == [] and fake.calls == []


def test_an_output_that_cannot_be_written_is_a_sentence(kyso: Kyso, fake: FakeKyso,
                                                        doc: Path) -> None:
    """A missing directory: exit 4 and why, not a traceback (issue 15 items 8 and 9)."""
    fake.on("sign_digests", signed())
    r = kyso("sign", "cms", doc.name, "--agency", AGENCY, "-o", "no/such/dir/x.p7s")
    assert r.exit_code == 4, r.stderr
    assert "cannot write no/such/dir/x.p7s: No such file or directory" in r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_dash_writes_the_signature_to_standard_output(kyso: Kyso, fake: FakeKyso,
                                                      doc: Path) -> None:
    fake.on("sign_digests", signed())
    r = kyso("sign", "cms", doc.name, "--agency", AGENCY, "-o", "-")
    assert r.exit_code == 0, r.stderr
    assert r.stdout_bytes == CMS
    assert sorted(p.name for p in doc.parent.iterdir()) == [doc.name]


def test_json_names_the_output_key_and_level(kyso: Kyso, fake: FakeKyso, doc: Path) -> None:
    import json

    fake.on("sign_digests", signed())
    r = kyso("sign", "cms", doc.name, "--agency", AGENCY, "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["key_id"], d["level"], d["agency"]) == (KEY_ID, "CAdES-B-B", AGENCY)
    assert d["digest"] == hashlib.sha256(DATA).hexdigest()
    assert Path(d["output"]).name == doc.name + ".p7s"
