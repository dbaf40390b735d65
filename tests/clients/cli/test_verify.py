"""``kyso verify``: the exit status per overall indication (README: "exit 0 passed, 1
failed, 2 indeterminate"), the report in Vietnamese by default and in English with
``--lang en``, ``--json``, what is sent for a detached signature, and the refusals, in
the report's language."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from clients.client import KysoClientError
from kyso.signer.v1 import verify_pb2
from signer.catalogue import text
from tests.clients.cli.fake import FakeKyso, Kyso, clean, token_for

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

SIGNER = "Nguyễn Văn An"
ORG = "Sở Tài chính"


def response(overall: int, kind: str = "cms") -> verify_pb2.VerifyResponse:
    return verify_pb2.VerifyResponse(
        kind=kind, overall_indication=overall, verified_at_unix=1_740_000_000,
        signatures=[verify_pb2.SignatureReport(
            index=1, format="CAdES-B-B", indication=overall,
            sub_indication="" if overall == verify_pb2.INDICATION_PASSED
            else "NO_CERTIFICATE_CHAIN_FOUND",
            signer=verify_pb2.CertificateSummary(
                subject=f"CN={SIGNER},O={ORG},C=VN", issuer="CN=kyso dev CA",
                serial_hex="1f", not_before_unix=1_700_000_000, not_after_unix=1_800_000_000,
                common_name=SIGNER, organization=ORG),
            intact=True, signature_valid=True, digest_algorithm="sha256",
            signature_algorithm="ECDSA P-256")])


@pytest.fixture
def sig(tmp_path: Path) -> Path:
    p = tmp_path / "a.p7s"
    p.write_bytes(b"0\x80 a signature the fake server does not read")
    return p


# Exit status: 0 valid, 1 invalid, 3 undetermined, 4 could not be checked (an answer
# naming no indication is not a verdict); 2 stays click's for a wrong command line.
EXITS = [(verify_pb2.INDICATION_PASSED, 0), (verify_pb2.INDICATION_FAILED, 1),
         (verify_pb2.INDICATION_INDETERMINATE, 3), (verify_pb2.INDICATION_UNSPECIFIED, 4)]


@pytest.mark.parametrize(("overall", "status"), EXITS)
def test_exit_status_per_indication(kyso: Kyso, fake: FakeKyso, sig: Path, overall: int,
                                    status: int) -> None:
    fake.on("verify", response(overall))
    r = kyso("verify", sig.name)
    clean(r)
    assert r.exit_code == status, r.stdout + r.stderr
    call = fake.only("verify")
    assert call.args == (sig.read_bytes(),) and call.kwargs == {"kind": "auto"}


@pytest.mark.parametrize(("overall", "status"), EXITS)
def test_json_exit_status_too(kyso: Kyso, fake: FakeKyso, sig: Path, overall: int,
                              status: int) -> None:
    fake.on("verify", response(overall))
    r = kyso("verify", sig.name, "--json")
    assert r.exit_code == status
    d = json.loads(r.stdout)
    names = {0: "UNSPECIFIED", 1: "PASSED", 2: "FAILED", 3: "INDETERMINATE"}
    assert d["overall"] == names[overall]
    assert d["signatures"][0]["signer"]["common_name"] == SIGNER


def test_report_is_vietnamese_by_default(kyso: Kyso, fake: FakeKyso, sig: Path) -> None:
    fake.on("verify", response(verify_pb2.INDICATION_PASSED))
    r = kyso("verify", sig.name)
    assert r.exit_code == 0
    assert r.stdout.startswith("Kết quả kiểm tra (CMS): HỢP LỆ\n")
    assert SIGNER in r.stdout and ORG in r.stdout
    assert "Verification result" not in r.stdout and "PASSED" not in r.stdout


@pytest.mark.parametrize("how", [("--lang", "en"), ("--lang=en",), ("env",)])
def test_report_in_english(kyso: Kyso, fake: FakeKyso, sig: Path, how: tuple[str, ...]) -> None:
    fake.on("verify", response(verify_pb2.INDICATION_FAILED))
    args = () if how == ("env",) else how
    r = kyso("verify", sig.name, *args, env={"KYSO_LANG": "en"} if how == ("env",) else None)
    assert r.exit_code == 1
    assert r.stdout.startswith("Verification result (CMS): FAILED\n")
    assert "Kết quả" not in r.stdout and "KHÔNG HỢP LỆ" not in r.stdout


def test_kind_is_passed(kyso: Kyso, fake: FakeKyso, sig: Path) -> None:
    fake.on("verify", response(verify_pb2.INDICATION_PASSED, kind="tsr"))
    assert kyso("verify", sig.name, "--kind", "tsr").exit_code == 0
    assert fake.only("verify").kwargs == {"kind": "tsr"}


# --- detached: only the content's digest is sent ------------------------------------------


def test_content_of_a_token_is_sent_as_its_digest(kyso: Kyso, fake: FakeKyso,
                                                  tmp_path: Path) -> None:
    data = "Tờ trình số 9\n".encode()
    (tmp_path / "doc.txt").write_bytes(data)
    (tmp_path / "doc.tsr").write_bytes(token_for(data))
    fake.on("verify", response(verify_pb2.INDICATION_PASSED, kind="tsr"))
    r = kyso("verify", "doc.tsr", "--content", "doc.txt")
    assert r.exit_code == 0, r.stderr
    call = fake.only("verify")
    assert call.args == ((tmp_path / "doc.tsr").read_bytes(),)
    assert call.kwargs == {"kind": "auto", "content_digest": hashlib.sha256(data).digest(),
                           "content_hash": "sha256"}
    # --sig: the other way round, the same request
    r = kyso("verify", "doc.txt", "--sig", "doc.tsr")
    assert r.exit_code == 0, r.stderr
    assert fake.calls[-1].args == call.args and fake.calls[-1].kwargs == call.kwargs


def test_content_sent_whole_when_the_hash_cannot_be_read(kyso: Kyso, fake: FakeKyso,
                                                         sig: Path, tmp_path: Path) -> None:
    (tmp_path / "doc.txt").write_bytes(b"content")
    fake.on("verify", response(verify_pb2.INDICATION_FAILED))
    r = kyso("verify", sig.name, "--content", "doc.txt")
    assert r.exit_code == 1
    assert fake.only("verify").kwargs == {"kind": "auto", "content": b"content"}
    assert r.stderr.startswith(f"{text('label.caution', 'vi')}: "
                               f"{text('cli.sending_content', 'vi')}")


# --- refusals, in the report's language ----------------------------------------------------


def test_server_refusal_exits_4_in_vietnamese(kyso: Kyso, fake: FakeKyso, sig: Path) -> None:
    fake.on("verify", KysoClientError("RESOURCE_EXHAUSTED", "document larger than 64 MiB"))
    r = kyso("verify", sig.name)
    clean(r)
    assert r.exit_code == 4 and r.stdout == ""
    assert r.stderr.startswith("Lỗi (RESOURCE_EXHAUSTED): ")
    assert text("cli.too_large", "vi") in r.stderr
    assert "document larger than 64 MiB" in r.stderr  # on the technical-details line


def test_server_refusal_in_english(kyso: Kyso, fake: FakeKyso, sig: Path) -> None:
    fake.on("verify", KysoClientError("UNAVAILABLE", "cannot reach kyso", unreachable=True,
                                      endpoint="127.0.0.1:50051"))
    r = kyso("verify", sig.name, "--lang", "en")
    clean(r)
    assert r.exit_code == 4
    assert r.stderr.startswith("error (UNAVAILABLE): ") and "127.0.0.1:50051" in r.stderr


def test_missing_file_exits_2_in_vietnamese(kyso: Kyso, fake: FakeKyso) -> None:
    r = kyso("verify", "absent.p7s")
    clean(r)
    assert r.exit_code == 2
    assert text("cli.file_missing", "vi", {"path": "absent.p7s"}) in r.stderr
    assert fake.opened == []


def test_missing_argument_exits_2_in_vietnamese(kyso: Kyso, fake: FakeKyso) -> None:
    r = kyso("verify")
    clean(r)
    assert r.exit_code == 2
    assert r.stderr.startswith(text("label.problem", "vi") + ": ")
    assert "Usage" not in r.stderr.splitlines()[0]


def test_content_and_sig_together_exit_2(kyso: Kyso, fake: FakeKyso, sig: Path) -> None:
    r = kyso("verify", sig.name, "--content", sig.name, "--sig", sig.name, "--lang", "en")
    assert r.exit_code == 2
    assert text("cli.content_and_sig", "en") in r.stderr
    assert fake.calls == []


def test_plaintext_token_refused_in_vietnamese(kyso: Kyso, fake: FakeKyso, sig: Path) -> None:
    r = kyso("--server", "10.11.12.13:50051", "--token", "secret", "verify", sig.name)
    clean(r)
    assert r.exit_code == 2
    assert text("cli.plaintext_token", "vi", {"endpoint": "10.11.12.13:50051"}) in r.stderr
    assert fake.calls == []
