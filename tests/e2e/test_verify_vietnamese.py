"""Issue 13: `kyso verify` reports wholly in Vietnamese (Circular 15/2025), and says what
really happened.

A set of real documents — an intact CAdES signature from kyso, the same with its content
changed, a CMS signature by a self-signed certificate, a PDF signed by a person and then
changed by an incremental update, edXML packages with and without a signing time, an RFC
3161 token — is verified through the CLI; every line of the Vietnamese report (above its
"Chi tiết kỹ thuật" section, where library text and distinguished names belong) is scanned
for English words, and so is every refusal of `kyso verify` (not a signature, a missing
file, a server that is away). Proper names (signers, agencies, the development CA) are
data, taken from the JSON report of the same document.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import pytest

from tests.documents import EDXML, blank_pdf, rewrite_page
from tests.helpers import hsm_unavailable_reason
from tests.servers import Server, server_env, start_server, stop_server
from tests.vietnamese import dn_values, english_words, has_dn

pytestmark = [pytest.mark.e2e, pytest.mark.database_free]
DEMO = "000.00.00.H13"
DETAILS_VI = "Chi tiết kỹ thuật"
LEADER_CN = "Nguyễn Văn An"
LEADER_O = "Ủy ban nhân dân thành phố Cần Thơ"
SELF_CN = "Lê Thị Hoa"
SELF_O = "Phòng Hành chính Tự quản"


def run(*cmd: str) -> None:
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("e2e-verify-vi")
    server = start_server(workdir, server_env(workdir, "kyso-e2e-verify-vi"), "--demo")
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def docs(srv: Server) -> dict[str, tuple[str, ...]]:
    """name -> the arguments of `kyso verify` for one document."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    d = srv.workdir / "docs"
    d.mkdir()
    out: dict[str, tuple[str, ...]] = {}
    # CAdES-B-T from kyso, intact and then with its content changed
    content = d / "cong-van.docx"
    content.write_bytes(b"Kinh gui " * 200)
    p7s = d / "cong-van.docx.p7s"
    r = srv.cli("sign", "cms", str(content), "--agency", DEMO, "-o", str(p7s), "--level", "B-T")
    assert r.returncode == 0, r.stderr
    out["cms-intact"] = (str(p7s), "--content", str(content))
    changed = d / "cong-van-sua.docx"
    changed.write_bytes(content.read_bytes() + b"!")
    out["cms-tampered"] = (str(p7s), "--content", str(changed))
    # a CMS signature by a self-signed certificate
    key, cert = d / "self.key", d / "self.pem"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
        "-out", str(cert), "-days", "30", "-utf8", "-subj", f"/CN={SELF_CN}/O={SELF_O}/C=VN")
    self_p7s = d / "tu-ky.p7s"
    run("openssl", "cms", "-sign", "-binary", "-outform", "DER", "-in", str(content),
        "-signer", str(cert), "-inkey", str(key), "-md", "sha256", "-out", str(self_p7s))
    out["cms-self-signed"] = (str(self_p7s), "--content", str(content))
    # a PDF signed by the leader (a person certified by the development CA), then changed
    pkey, csr, pcert = d / "leader.key", d / "leader.csr", d / "leader.pem"
    run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(pkey),
        "-out", str(csr), "-utf8", "-subj", f"/C=VN/O={LEADER_O}/CN={LEADER_CN}")
    r = srv.cli("admin", "cert", "issue-person", str(csr), "-o", str(pcert), "--days", "30")
    assert r.returncode == 0, r.stderr
    leader = signers.SimpleSigner.load(str(pkey), str(pcert))
    assert leader is not None
    signed = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(blank_pdf())),
                              signers.PdfSignatureMetadata(field_name="ChuKyLanhDao"),
                              signer=leader).getvalue()
    (d / "quyet-dinh.pdf").write_bytes(signed)
    out["pdf-intact"] = (str(d / "quyet-dinh.pdf"),)
    (d / "quyet-dinh-sua.pdf").write_bytes(rewrite_page(signed))
    out["pdf-modified"] = (str(d / "quyet-dinh-sua.pdf"),)
    # edXML: XML-DSig without a signing time, XAdES with one
    src = d / "goi-tin.xml"
    src.write_text(EDXML, encoding="utf-8")
    for name, extra in (("xml-no-time", ()), ("xml-xades", ("--xades",))):
        dst = d / f"{name}.xml"
        r = srv.cli("sign", "xml", str(src), "-o", str(dst), "--agency", DEMO, *extra)
        assert r.returncode == 0, r.stderr
        out[name] = (str(dst),)
    # an RFC 3161 token
    tsr = d / "cong-van.docx.tsr"
    r = srv.cli("timestamp", str(content), "-o", str(tsr))
    assert r.returncode == 0, r.stderr
    out["tsr"] = (str(tsr), "--content", str(content))
    return out


def _data(rep: dict, paths: tuple[str, ...]) -> list[str]:
    """Proper names and file names in the report: data, not words of the report."""
    data = [*paths, *(Path(p).name for p in paths)]
    data += [v for dn in rep.get("trust_anchors", []) for v in dn_values(dn)]
    for s in rep["signatures"]:
        for c in [s.get("signer"), *s.get("chain", [])]:
            if c:
                data += dn_values(c["subject"]) + dn_values(c["issuer"])
        if s.get("agency"):
            a = s["agency"]
            data += [a["name_on_signing_date"], a["current_name"], *a["successor_names"]]
        if s.get("timestamp"):
            data += dn_values(s["timestamp"]["tsa"])
        if s.get("field"):
            data.append(s["field"])
    return data


def _report(srv: Server, args: tuple[str, ...], lang: str = "vi"
            ) -> tuple[subprocess.CompletedProcess[str], dict]:
    r = srv.cli("verify", *args, "--lang", lang)
    j = srv.cli("verify", *args, "--json")
    assert j.stdout, j.stderr
    return r, json.loads(j.stdout)


def _summary(text: str) -> list[str]:
    return text.split(DETAILS_VI)[0].splitlines()


EXPECTED = {
    # name: (exit status, indication, sub-indication, Vietnamese phrases)
    "cms-intact": (0, "PASSED", None, ["Chữ ký số 1: HỢP LỆ", "Toàn vẹn: nội dung không bị "
                                        "thay đổi", "Thời điểm ký:", "Dấu thời gian:"]),
    "cms-tampered": (1, "FAILED", "HASH_FAILURE", ["KHÔNG HỢP LỆ", "đã bị thay đổi"]),
    "cms-self-signed": (3, "INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                        ["tự ký", "không xác định được tổ chức cấp", f"Người ký: {SELF_CN}"]),
    "pdf-intact": (0, "PASSED", None, [f"Người ký: {LEADER_CN}", "toàn bộ tệp"]),
    "pdf-modified": (1, "FAILED", "FORMAT_FAILURE",
                     ["nguyên vẹn", "không cho phép", "Thay đổi sau khi ký:"]),
    "xml-no-time": (0, "PASSED", None, ["Chữ ký không ghi thời điểm ký", "toàn bộ gói tin"]),
    "xml-xades": (0, "PASSED", None, ["Thời điểm ký:", "toàn bộ gói tin"]),
    "tsr": (0, "PASSED", None, ["Dấu thời gian:"]),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_vietnamese_report_has_no_english(srv: Server, docs: dict[str, tuple[str, ...]],
                                          name: str) -> None:
    code, indication, sub, phrases = EXPECTED[name]
    r, rep = _report(srv, docs[name])
    assert r.returncode == code, r.stdout + r.stderr
    s = rep["signatures"][0]
    assert (s["indication"], s["sub_indication"]) == (indication, sub), r.stdout
    for phrase in phrases:
        assert phrase in r.stdout, f"{phrase!r} missing:\n{r.stdout}"
    data = _data(rep, docs[name])
    bad = {line: words for line in _summary(r.stdout)
           if (words := english_words(line, data))}
    assert not bad, "English in the Vietnamese report:\n" + "\n".join(
        f"  {line!r}: {words}" for line, words in bad.items())
    dns = [line for line in _summary(r.stdout) if has_dn(line)]
    assert not dns, f"distinguished names belong in {DETAILS_VI!r}: {dns}"


def test_integrity_agrees_with_the_indication(srv: Server,
                                              docs: dict[str, tuple[str, ...]]) -> None:
    """A PDF changed after signing by an incremental update: its signed bytes are intact,
    the change is what is wrong. The lines say so and do not contradict each other."""
    r, rep = _report(srv, docs["pdf-modified"])
    s = rep["signatures"][0]
    assert s["integrity"]["intact"] and s["integrity"]["signature_valid"], s
    assert s["coverage"]["modifications"] == "suspicious", s
    integrity = next(x for x in r.stdout.splitlines() if x.strip().startswith("Toàn vẹn:"))
    assert "không bị thay đổi" not in integrity, r.stdout
    assert "HASH_FAILURE" not in r.stdout, r.stdout
    en = srv.cli("verify", *docs["pdf-modified"], "--lang", "en")
    assert "FORMAT_FAILURE" in en.stdout and "does not allow" in en.stdout, en.stdout


def test_names_not_distinguished_names(srv: Server, docs: dict[str, tuple[str, ...]]) -> None:
    r, _ = _report(srv, docs["pdf-intact"])
    summary = "\n".join(_summary(r.stdout))
    assert f"Người ký: {LEADER_CN} ({LEADER_O})" in summary, r.stdout
    assert DETAILS_VI in r.stdout and "CN=" in r.stdout.split(DETAILS_VI)[1], r.stdout
    r, _ = _report(srv, docs["cms-intact"])
    with srv.client() as c:
        name = c.get_agency(DEMO).name
    assert f"Cơ quan: {name} ({DEMO})" in r.stdout, r.stdout
    en = srv.cli("verify", *docs["cms-intact"], "--lang", "en")
    assert "Technical details" in en.stdout and "Signer:" in en.stdout, en.stdout


@contextmanager
def _closed_port() -> Iterator[int]:
    """A port nothing listens on, held (bound, not listening) so that no other server
    can take it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def test_cli_refusals_in_vietnamese(srv: Server, tmp_path: Path) -> None:
    junk = tmp_path / "khong-phai-chu-ky.p7s"
    junk.write_bytes(os.urandom(300))
    content = tmp_path / "van-ban.txt"
    content.write_bytes(b"noi dung")
    missing = str(tmp_path / "khong-co.txt")
    cases = {
        "not a signature": (str(junk),),
        "a plain text file": (str(content),),  # used to be answered by an asn1crypto error
        "missing content file": (str(junk), "--content", missing),
        "missing file": (missing,),
        "both --content and --sig": (str(junk), "--content", str(content), "--sig",
                                     str(content)),
    }
    for what, args in cases.items():
        r = srv.cli("verify", *args, "--lang", "vi")
        assert r.returncode in (2, 4) and r.stderr.strip(), (what, r.stdout, r.stderr)
        words = english_words("\n".join(_summary(r.stderr)), [*args, str(tmp_path)])
        assert not words, f"{what}: English in a Vietnamese refusal: {words}\n{r.stderr}"
        en = srv.cli("verify", *args, "--lang", "en")
        assert en.returncode == r.returncode and en.stderr.strip(), (what, en.stderr)
        assert english_words(en.stderr), f"{what}: the English refusal is not English"
    with _closed_port() as port:
        away = srv.cli("--server", f"127.0.0.1:{port}", "verify", str(content), "--lang", "vi")
    assert away.returncode == 4, away.stderr
    words = english_words("\n".join(_summary(away.stderr)), [str(content)])
    assert not words, f"server away: English in a Vietnamese refusal: {words}\n{away.stderr}"
    assert "Traceback" not in away.stderr
