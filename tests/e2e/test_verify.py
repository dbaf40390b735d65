"""`kyso verify` end to end: CAdES from `kyso sign cms` (content and digest paths),
tampering, untrusted and weak signatures from OpenSSL, RFC 3161 tokens, revocation
pointers that cannot be reached, agency history, PAdES and XML-DSig from third-party
signers, and the Vietnamese / English / JSON reports."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.documents import blank_pdf
from tests.helpers import hsm_unavailable_reason
from tests.servers import Server, server_env, start_server, stop_server

# Formats and handlers: what they do does not depend on the database (records reach
# PostgreSQL in the modules that test records), so the PostgreSQL pass skips them.
pytestmark = [pytest.mark.e2e, pytest.mark.database_free]
DEMO = "000.00.00.H13"


def run(*cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    r = subprocess.run(cmd, capture_output=True, timeout=60, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r


def make_ca(d: Path, name: str, *, leaf_ext: str = "") -> tuple[Path, Path, Path]:
    """A throwaway CA and a leaf it issues (RSA-2048, SHA-256): (ca.pem, leaf.pem, leaf.key)."""
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca = d / "ca.key", d / "ca.pem"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
        "-out", str(ca), "-days", "30", "-subj", f"/CN={name} CA/O=Test/C=VN",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
        "keyUsage=critical,keyCertSign,cRLSign")
    key, csr, leaf = d / "leaf.key", d / "leaf.csr", d / "leaf.pem"
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", f"/CN={name} Signer/O=Test/C=VN")
    ext = d / "ext.cnf"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
                   + leaf_ext)
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(leaf), "-days", "20", "-sha256", "-extfile", str(ext))
    return ca, leaf, key


def openssl_cms(content: Path, leaf: Path, key: Path, out: Path, md: str = "sha256") -> Path:
    run("openssl", "cms", "-sign", "-binary", "-outform", "DER", "-in", str(content),
        "-signer", str(leaf), "-inkey", str(key), "-md", md, "-out", str(out))
    return out


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    other_ca, other_leaf, other_key = make_ca(d / "other", "Untrusted")
    rev_ca, rev_leaf, rev_key = make_ca(
        d / "rev", "Revocable",
        leaf_ext="authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/\n"
                 "crlDistributionPoints=URI:http://127.0.0.1:9/x.crl\n")
    return {"other_ca": other_ca, "other_leaf": other_leaf, "other_key": other_key,
            "rev_ca": rev_ca, "rev_leaf": rev_leaf, "rev_key": rev_key}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Path]) -> Iterator[Server]:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("e2e-verify")
    env = server_env(workdir, "kyso-e2e-verify")
    # The revocable CA is a Government-CA-like anchor: its certificates name CRL/OCSP.
    env["KYSO_VERIFY_TRUST_ANCHOR_FILES"] = json.dumps([str(pki["rev_ca"])])
    server = start_server(workdir, env, "--demo")
    yield server
    stop_server(server)


def verify(srv: Server, *args: str) -> tuple[int, dict]:
    r = srv.cli("verify", *args, "--json")
    assert r.returncode in (0, 1, 3) and r.stdout, r.stderr + srv.log()[-3000:]
    return r.returncode, json.loads(r.stdout)


def sign_cms(srv: Server, doc: Path, *extra: str) -> Path:
    p7s = doc.with_name(doc.name + ".p7s")
    r = srv.cli("sign", "cms", str(doc), "--agency", DEMO, "-o", str(p7s), *extra)
    assert r.returncode == 0, r.stderr
    return p7s


def test_cades_from_kyso_passes_with_the_agency(srv: Server) -> None:
    doc = srv.workdir / "quyet-dinh.pdf"
    doc.write_bytes(os.urandom(30_000))
    p7s = sign_cms(srv, doc)
    code, rep = verify(srv, str(p7s), "--content", str(doc))  # digest path
    assert code == 0, rep
    assert rep["kind"] == "cms" and rep["overall"] == "PASSED"
    (s,) = rep["signatures"]
    assert s["indication"] == "PASSED" and s["sub_indication"] is None
    assert s["integrity"] == {"intact": True, "signature_valid": True}
    assert s["trust"]["trusted"] and "Development CA" in s["trust"]["anchor"]
    assert s["revocation"]["status"] == "not-required"
    assert s["agency"]["code"] == DEMO and s["agency"]["name_on_signing_date"]
    assert s["signing_time"].endswith("+07:00")
    assert s["algorithms"]["digest"] == "sha256" and "RSA 2048" in s["algorithms"]["signature"]
    assert s["signer"]["subject"] and s["signer"]["serial"] and s["chain"]
    # --sig: FILE is the content. Same verdict.
    code2, rep2 = verify(srv, str(doc), "--sig", str(p7s))
    assert code2 == 0 and rep2["overall"] == "PASSED"
    # The whole content sent (client library, no digest).
    with srv.client() as c:
        resp = c.verify(p7s.read_bytes(), content=doc.read_bytes())
    assert resp.overall_indication == 1 and resp.signatures[0].agency.code == DEMO


def test_reports_in_vietnamese_and_english(srv: Server) -> None:
    doc = srv.workdir / "cong-van.docx"
    doc.write_bytes(b"Kinh gui " * 100)
    p7s = sign_cms(srv, doc, "--level", "B-T")
    vi = srv.cli("verify", str(p7s), "--content", str(doc))
    assert vi.returncode == 0, vi.stdout + vi.stderr
    with srv.client() as c:
        name = c.get_agency(DEMO).name
    for line in ("Chữ ký số 1: HỢP LỆ", "Người ký:", f"Cơ quan: {name} ({DEMO})",
                 "Thời điểm ký:", "Dấu thời gian:", "Toàn vẹn: nội dung không bị thay đổi",
                 "Thuật toán: SHA-256 / RSA 2048 bit", "Chuỗi chứng thư: tin cậy",
                 "Tình trạng thu hồi:"):
        assert line in vi.stdout, vi.stdout
    assert "+07:00" in vi.stdout
    assert any(ch in name for ch in "ủơầ"), name  # the demo name has diacritics
    en = srv.cli("verify", str(p7s), "--content", str(doc), "--lang", "en")
    assert en.returncode == 0 and "Signature 1: PASSED" in en.stdout, en.stdout
    _, rep = verify(srv, str(p7s), "--content", str(doc))
    ts = rep["signatures"][0]["timestamp"]
    assert rep["signatures"][0]["format"] == "CAdES-B-T"
    assert ts["indication"] == "PASSED" and ts["time"].endswith("+07:00")
    assert set(rep) == {"kind", "overall", "verified_at", "trust_anchors", "notes",
                        "note_messages", "signatures"}


def test_tampered_content_fails(srv: Server) -> None:
    doc = srv.workdir / "to-trinh.pdf"
    doc.write_bytes(os.urandom(5_000))
    p7s = sign_cms(srv, doc)
    doc.write_bytes(doc.read_bytes() + b"!")
    for args in (("--content", str(doc)),):
        code, rep = verify(srv, str(p7s), *args)
        assert code == 1
        s = rep["signatures"][0]
        assert s["indication"] == "FAILED" and s["sub_indication"] == "HASH_FAILURE", s
    with srv.client() as c:
        resp = c.verify(p7s.read_bytes(), content=doc.read_bytes())
    assert resp.signatures[0].sub_indication == "HASH_FAILURE"
    vi = srv.cli("verify", str(p7s), "--content", str(doc))
    assert "KHÔNG HỢP LỆ" in vi.stdout


def test_untrusted_openssl_cms_is_indeterminate(srv: Server, pki: dict[str, Path]) -> None:
    doc = srv.workdir / "other.txt"
    doc.write_bytes(b"van ban khac")
    p7s = openssl_cms(doc, pki["other_leaf"], pki["other_key"], srv.workdir / "other.p7s")
    code, rep = verify(srv, str(p7s), "--content", str(doc))
    s = rep["signatures"][0]
    assert code == 3 and s["indication"] == "INDETERMINATE", s
    assert s["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert s["integrity"]["intact"] and s["agency"] is None


def test_sha1_cms_is_weak_never_passed(srv: Server, pki: dict[str, Path]) -> None:
    doc = srv.workdir / "sha1.txt"
    doc.write_bytes(b"edXML cu")
    p7s = openssl_cms(doc, pki["rev_leaf"], pki["rev_key"], srv.workdir / "sha1.p7s", md="sha1")
    code, rep = verify(srv, str(p7s), "--content", str(doc))
    s = rep["signatures"][0]
    assert code == 3 and s["indication"] == "INDETERMINATE", s
    assert "SHA-1" in s["algorithms"]["weak"]
    assert s["integrity"]["intact"]


def test_unreachable_revocation_is_indeterminate(srv: Server, pki: dict[str, Path]) -> None:
    doc = srv.workdir / "rev.txt"
    doc.write_bytes(b"thu hoi")
    p7s = openssl_cms(doc, pki["rev_leaf"], pki["rev_key"], srv.workdir / "rev.p7s")
    code, rep = verify(srv, str(p7s), "--content", str(doc))
    s = rep["signatures"][0]
    assert code == 3 and s["indication"] == "INDETERMINATE", s
    assert s["sub_indication"] == "TRY_LATER"
    assert s["revocation"]["status"] == "unavailable"
    assert s["integrity"]["intact"]


def test_rfc3161_token(srv: Server) -> None:
    doc = srv.workdir / "bien-ban.pdf"
    doc.write_bytes(os.urandom(8_000))
    tsr = srv.workdir / "bien-ban.tsr"
    r = srv.cli("timestamp", str(doc), "-o", str(tsr))
    assert r.returncode == 0, r.stderr
    code, rep = verify(srv, str(tsr), "--content", str(doc))
    s = rep["signatures"][0]
    assert code == 0 and rep["kind"] == "tsr" and s["indication"] == "PASSED", s
    assert s["timestamp"]["time"] and s["signing_time"]
    other = srv.workdir / "khac.pdf"
    other.write_bytes(b"another file")
    code, rep = verify(srv, str(other), "--sig", str(tsr))
    assert code == 1 and rep["signatures"][0]["sub_indication"] == "HASH_FAILURE"


def test_agency_name_on_the_signing_date(srv: Server) -> None:
    doc = srv.workdir / "truoc-doi-ten.pdf"
    doc.write_bytes(b"x" * 1000)
    with srv.client() as c:
        old = c.get_agency(DEMO).name
    p7s = sign_cms(srv, doc)
    new = "Ủy ban nhân dân thành phố Cần Thơ mới"
    r = srv.cli("admin", "agency", "rename", DEMO, "--name", new, "--effective",
                datetime.now(UTC).date().isoformat())  # the server's day
    if r.returncode != 0 and "before" in r.stderr:
        pytest.skip(r.stderr)
    assert r.returncode == 0, r.stderr
    _, rep = verify(srv, str(p7s), "--content", str(doc))
    a = rep["signatures"][0]["agency"]
    # Renamed from today: a signature made today carries today's name; the history and
    # today's name are both in the report.
    assert a["current_name"] == new
    assert a["name_on_signing_date"] in (old, new)
    assert a["successors"] == [DEMO]


def test_pdf_signed_by_pyhanko_is_listed(srv: Server, pki: dict[str, Path]) -> None:
    from io import BytesIO

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers


    signer = signers.SimpleSigner.load(str(pki["other_key"]), str(pki["other_leaf"]))
    assert signer is not None
    out = BytesIO()
    w = IncrementalPdfFileWriter(BytesIO(blank_pdf()))
    signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name="Sig1"), signer=signer,
                     output=out)
    pdf = srv.workdir / "signed.pdf"
    pdf.write_bytes(out.getvalue())
    _, rep = verify(srv, str(pdf))
    assert rep["kind"] == "pdf" and len(rep["signatures"]) == 1
    s = rep["signatures"][0]
    assert s["coverage"]["kind"] == "whole-file" and s["field"] == "Sig1"
    assert s["indication"] == "INDETERMINATE" and s["integrity"]["intact"], s
    bad = srv.workdir / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7\nnot really a pdf")
    r = srv.cli("verify", str(bad))
    assert r.returncode == 4 and "INVALID_ARGUMENT" in r.stderr


def test_xml_dsig_tamper_and_trust(srv: Server, pki: dict[str, Path]) -> None:
    from lxml import etree
    from signxml import XMLSigner

    root = etree.fromstring(b"<edXML><MessageHeader><Subject>Thong bao</Subject>"
                            b"</MessageHeader></edXML>")
    signed = XMLSigner().sign(root, key=pki["other_key"].read_bytes(),
                              cert=pki["other_leaf"].read_bytes())
    xml = srv.workdir / "goi-tin.xml"
    xml.write_bytes(etree.tostring(signed))
    _, rep = verify(srv, str(xml))
    s = rep["signatures"][0]
    assert rep["kind"] == "xml" and s["indication"] == "INDETERMINATE", s
    assert s["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND" and s["integrity"]["intact"]
    xml.write_bytes(xml.read_bytes().replace(b"Thong bao", b"Thong bao gia"))
    code, rep = verify(srv, str(xml))
    assert code == 1 and rep["signatures"][0]["indication"] == "FAILED"


