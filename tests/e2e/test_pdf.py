"""PAdES through a real server and HSM key, checked by pdfsig (NSS), pyHanko's validator,
pdftoppm + Pillow (where the red seal lands) and pdftotext (the attachment text)."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.helpers import hsm_unavailable_reason
from tests.servers import Server, server_env, start_server, stop_server

# Formats and handlers: what they do does not depend on the database (records reach
# PostgreSQL in the modules that test records), so the PostgreSQL pass skips them.
pytestmark = [pytest.mark.e2e, pytest.mark.database_free]
DEMO = "000.00.00.H13"
SIG_BOX = (300, 300, 450, 360)  # the personal signature's field rectangle, points


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("pdf")
    s = start_server(workdir, server_env(workdir, "kyso-pdf"), "--demo")
    yield s
    stop_server(s)


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def env(srv: Server) -> dict[str, Path]:
    """Dev CA PEM, an NSS db trusting it (docs/limits.md trap 6), the seal, a blank and a
    personally signed PDF."""
    from PIL import Image, ImageDraw
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.writer import PdfFileWriter
    from pyhanko.sign import fields, signers

    d = srv.workdir
    ca = d / "ca.pem"
    assert srv.cli("admin", "ca", "export", "-o", str(ca)).returncode == 0
    nss = d / "nss"
    nss.mkdir()
    assert run("certutil", "-N", "-d", f"sql:{nss}", "--empty-password").returncode == 0
    r = run("certutil", "-A", "-d", f"sql:{nss}", "-n", "kyso-dev-ca", "-t", "C,C,C",
            "-i", str(ca))
    assert r.returncode == 0, r.stderr
    # the seal: a red ring on a transparent background, 40 mm
    img = Image.new("RGBA", (472, 472), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((8, 8, 464, 464), fill=(220, 0, 0, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    (d / "seal.png").write_bytes(buf.getvalue())
    r = srv.cli("admin", "seal", "set", DEMO, str(d / "seal.png"), "--width-mm", "40")
    assert r.returncode == 0, r.stderr
    # a blank A4 page
    w = PdfFileWriter()
    w.insert_page(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(0), generic.NumberObject(0), generic.FloatObject(595.28),
             generic.FloatObject(841.89)]),
    }))
    out = io.BytesIO()
    w.write(out)
    (d / "blank.pdf").write_bytes(out.getvalue())
    # the leader's own key and CSR; the development CA certifies it (the seal profile
    # requires a personal signature that chains to a trust anchor)
    r = run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
            str(d / "p.key"), "-out", str(d / "p.csr"), "-utf8", "-subj", "/CN=Nguyễn Văn An")
    assert r.returncode == 0, r.stderr
    r = srv.cli("admin", "cert", "issue-person", str(d / "p.csr"), "-o", str(d / "p.crt"),
                "--days", "30")
    assert r.returncode == 0, r.stderr
    personal = signers.SimpleSigner.load(str(d / "p.key"), str(d / "p.crt"),
                                         ca_chain_files=(str(ca),))
    signed = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(out.getvalue())),
        signers.PdfSignatureMetadata(field_name="ChuKyCaNhan"), signer=personal,
        new_field_spec=fields.SigFieldSpec("ChuKyCaNhan", on_page=0, box=SIG_BOX))
    (d / "personal.pdf").write_bytes(signed.getvalue())
    return {"ca": ca, "nss": nss, "blank": d / "blank.pdf", "personal": d / "personal.pdf"}


def pdfsig(nss: Path, pdf: Path) -> str:
    r = run("pdfsig", "-nssdir", f"sql:{nss}", str(pdf))
    return r.stdout + r.stderr


def sign(srv: Server, src: Path, dst: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return srv.cli("sign", "pdf", str(src), "-o", str(dst), "--agency", DEMO, *args)


def validate(env: dict[str, Path], pdf: Path) -> list[object]:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    with pdf.open("rb") as f:
        reader = PdfFileReader(f)
        out = []
        for sig in reader.embedded_signatures:
            vc = ValidationContext(trust_roots=[load_cert_from_pemder(str(env["ca"]))],
                                   allow_fetching=False, revocation_mode="soft-fail")
            out.append(validate_pdf_signature(sig, vc))
        return out


def test_seal_over_left_third_of_personal_signature(srv: Server, env: dict[str, Path]) -> None:
    from PIL import Image

    dst = srv.workdir / "sealed.pdf"
    r = sign(srv, env["personal"], dst, "--profile", "seal", "--number", "11/CT-UBND",
             "--type", "CT", "--level", "B-T")
    assert r.returncode == 0, r.stderr
    text = pdfsig(env["nss"], dst)
    assert text.count("Signature is Valid.") == 2, text
    last = text.split("Signature #2:")[1]
    assert "Total document signed" in last and "Certificate is Trusted." in last, text
    personal, seal = validate(env, dst)
    assert personal.intact and personal.valid  # type: ignore[attr-defined]
    assert seal.intact and seal.valid and seal.trusted  # type: ignore[attr-defined]
    assert seal.timestamp_validity is not None  # type: ignore[attr-defined]
    assert seal.timestamp_validity.intact and seal.timestamp_validity.valid  # type: ignore[attr-defined]
    assert seal.timestamp_validity.trusted  # type: ignore[attr-defined]
    # render at 72 dpi: 1 px = 1 pt; image y runs down from the top of the page
    png = srv.workdir / "sealed"
    assert run("pdftoppm", "-r", "72", "-png", "-f", "1", "-l", "1", "-singlefile", str(dst),
               str(png)).returncode == 0
    img = Image.open(f"{png}.png").convert("RGB")
    x1, y1, x2, y2 = SIG_BOX
    top, bottom = img.height - y2, img.height - y1

    def red(xa: float, xb: float) -> int:
        return sum(1 for x in range(int(xa), int(xb)) for y in range(int(top), int(bottom))
                   if (p := img.getpixel((x, y)))[0] > 150 and p[1] < 80 and p[2] < 80)  # type: ignore[index]

    third = (x2 - x1) / 3
    assert red(x1 + 1, x1 + third - 1) > 100
    assert red(x2 - third + 1, x2) == 0


def test_attachment_text_top_right(srv: Server, env: dict[str, Path]) -> None:
    import re

    dst = srv.workdir / "attachment.pdf"
    r = sign(srv, env["blank"], dst, "--profile", "attachment", "--number", "11/CT-UBND",
             "--type", "CT")
    assert r.returncode == 0, r.stderr
    text = run("pdftotext", "-f", "1", "-l", "1", str(dst), "-").stdout
    assert "11/CT-UBND" in text
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", text), text
    with srv.client() as c:
        name = c.get_agency(DEMO).name
    assert name in text, text
    out = pdfsig(env["nss"], dst)
    assert "Signature is Valid." in out and "Total document signed" in out, out


def test_copy_form_and_vietnamese_name(srv: Server, env: dict[str, Path]) -> None:
    with srv.client() as c:  # the demo agency's name
        assert c.get_agency(DEMO).name == "Ủy ban nhân dân thành phố Cần Thơ"
    dst = srv.workdir / "copy.pdf"
    r = sign(srv, env["blank"], dst, "--profile", "copy", "--copy-form", "SAO LỤC")
    assert r.returncode == 0, r.stderr
    text = run("pdftotext", "-f", "1", "-l", "1", str(dst), "-").stdout
    assert "SAO LỤC" in text and "Ủy ban nhân dân thành phố Cần Thơ" in text, text


def test_b_lt_says_no_revocation_data(srv: Server, env: dict[str, Path]) -> None:
    dst = srv.workdir / "lt.pdf"
    r = sign(srv, env["blank"], dst, "--profile", "attachment", "--number", "7/TB-UBND",
             "--level", "B-LT")
    assert r.returncode == 0, r.stderr
    assert "no revocation data could be embedded" in r.stderr
    assert "Signature is Valid." in pdfsig(env["nss"], dst)


def test_tampering_is_detected(srv: Server, env: dict[str, Path]) -> None:
    dst = srv.workdir / "tamper-src.pdf"
    assert sign(srv, env["blank"], dst, "--profile", "attachment",
                "--number", "1/QĐ-UBND").returncode == 0
    data = bytearray(dst.read_bytes())
    i = data.index(b"/MediaBox")
    data[i + 1] = ord("X")  # inside the first signed byte range
    bad = srv.workdir / "tampered.pdf"
    bad.write_bytes(bytes(data))
    assert "Signature is Valid." not in pdfsig(env["nss"], bad)
    (status,) = validate(env, bad)
    assert not status.intact  # type: ignore[attr-defined]
    # kyso's own verifier: the intact file passes, the tampered one fails.
    ok = srv.cli("verify", str(dst), "--lang", "en")
    assert ok.returncode == 0 and "PASSED" in ok.stdout, ok.stdout + ok.stderr
    broken = srv.cli("verify", str(bad), "--json")
    assert broken.returncode == 1, broken.stdout + broken.stderr


def test_seal_refused_without_personal_signature_unless_policy_off(
    srv: Server, env: dict[str, Path]
) -> None:
    dst = srv.workdir / "nopersonal.pdf"
    r = sign(srv, env["blank"], dst, "--profile", "seal", "--at", "1,100,100")
    assert r.returncode == 4 and "no personal signature" in r.stderr, r.stderr
    assert srv.cli("admin", "seal", "policy", DEMO, "--skip-personal-check").returncode == 0
    try:
        r = sign(srv, env["blank"], dst, "--profile", "seal", "--at", "1,100,100")
        assert r.returncode == 0, r.stderr
        assert "Signature is Valid." in pdfsig(env["nss"], dst)
    finally:
        assert srv.cli("admin", "seal", "policy", DEMO,
                       "--require-personal-check").returncode == 0


def test_malformed_and_encrypted_pdfs(srv: Server, env: dict[str, Path]) -> None:
    from pyhanko.pdf_utils.crypt import StandardSecurityHandler
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    junk = srv.workdir / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\nthis is not really a PDF")
    r = sign(srv, junk, srv.workdir / "o.pdf", "--profile", "attachment", "--number", "1/TB")
    assert r.returncode == 4 and "malformed" in r.stderr, r.stderr
    with env["blank"].open("rb") as f:
        w = copy_into_new_writer(PdfFileReader(f))
    w.encrypt = None
    w.security_handler = StandardSecurityHandler.build_from_pw("secret", "secret")
    w._assign_security_handler(w.security_handler)
    enc = srv.workdir / "enc.pdf"
    with enc.open("wb") as f:
        w.write(f)
    r = sign(srv, enc, srv.workdir / "o.pdf", "--profile", "attachment", "--number", "1/TB")
    assert r.returncode == 4 and "encrypted" in r.stderr, r.stderr


def _stream(srv: Server, data: bytes, **options: object) -> list[object]:
    from kyso.signer.v1 import pdf_pb2, pdf_pb2_grpc

    def requests() -> Iterator[pdf_pb2.SignPdfRequest]:
        yield pdf_pb2.SignPdfRequest(options=pdf_pb2.SignPdfOptions(**options))  # type: ignore[arg-type]
        for i in range(0, len(data), 1000):
            yield pdf_pb2.SignPdfRequest(chunk=data[i : i + 1000])

    with grpc.insecure_channel(srv.endpoint) as ch:
        stub = pdf_pb2_grpc.PdfServiceStub(ch)
        return list(stub.SignPdf(requests(), timeout=60,
                                 metadata=(("authorization", f"Bearer {srv.token}"),)))


def test_streaming_rpc_signs_like_any_other_language(srv: Server, env: dict[str, Path]) -> None:
    from kyso.signer.v1 import pdf_pb2

    resp = _stream(srv, env["personal"].read_bytes(), agency_code=DEMO,
                   profile=pdf_pb2.PDF_PROFILE_SEAL, document_number="12/QĐ-UBND",
                   document_type="QĐ", level=pdf_pb2.PADES_LEVEL_B_T)
    result = resp[0].result  # type: ignore[attr-defined]
    assert result.level == "B-T" and result.signing_time.endswith("+07:00")
    data = b"".join(r.chunk for r in resp[1:])  # type: ignore[attr-defined]
    assert len(data) == result.size
    dst = srv.workdir / "streamed.pdf"
    dst.write_bytes(data)
    text = pdfsig(env["nss"], dst)
    assert text.count("Signature is Valid.") == 2 and "Total document signed" in text, text


def test_streaming_rpc_errors(srv: Server, env: dict[str, Path]) -> None:
    from kyso.signer.v1 import pdf_pb2

    with pytest.raises(grpc.RpcError) as e:
        _stream(srv, b"%PDF-1.4 junk", agency_code=DEMO,
                profile=pdf_pb2.PDF_PROFILE_ATTACHMENT, document_number="1/TB")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as e:
        _stream(srv, env["blank"].read_bytes(), agency_code=DEMO,
                profile=pdf_pb2.PDF_PROFILE_SEAL, has_position=True, page=1, x=100, y=100)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    assert "personal signature" in e.value.details()  # type: ignore[attr-defined]


def test_readme_leader_then_seal_demo_flow(srv: Server, env: dict[str, Path]) -> None:
    """The README's demo, command for command: the leader's key and CSR with openssl, the
    certificate from the development CA, the leader's signature with pyHanko's CLI, the
    seal with kyso; checked by pdfsig and kyso verify."""
    import sys

    d = srv.workdir / "readme"
    d.mkdir()
    r = run("openssl", "req", "-new", "-newkey", "rsa:3072", "-nodes", "-keyout",
            str(d / "leader.key"), "-out", str(d / "leader.csr"), "-utf8",
            "-subj", "/C=VN/O=Ủy ban nhân dân thành phố Cần Thơ/CN=Nguyễn Văn An")
    assert r.returncode == 0, r.stderr
    r = srv.cli("admin", "cert", "issue-person", str(d / "leader.csr"), "-o",
                str(d / "leader.pem"))
    assert r.returncode == 0, r.stderr
    pyhanko = str(Path(sys.executable).parent / "pyhanko")
    r = run(pyhanko, "sign", "addsig", "--field", "1/300,300,450,360/ChuKyLanhDao",
            "pemder", "--key", str(d / "leader.key"), "--cert", str(d / "leader.pem"),
            "--chain", str(env["ca"]), "--no-pass", str(env["blank"]),
            str(d / "quyet-dinh-leader.pdf"))
    assert r.returncode == 0, r.stdout + r.stderr
    dst = d / "quyet-dinh-signed.pdf"
    r = sign(srv, d / "quyet-dinh-leader.pdf", dst, "--profile", "seal",
             "--number", "11/QĐ-UBND", "--type", "QĐ")
    assert r.returncode == 0, r.stderr
    text = pdfsig(env["nss"], dst)
    assert text.count("Signature is Valid.") == 2, text
    assert text.count("Certificate is Trusted.") == 2, text
    ok = srv.cli("verify", str(dst), "--lang", "vi")
    assert ok.returncode == 0 and "HỢP LỆ" in ok.stdout, ok.stdout + ok.stderr


def test_external_tsa_for_pades_retries_per_cades_settings(
        srv: Server, env: dict[str, Path], tmp_path: Path) -> None:
    """[cades] source = "url": PAdES timestamps take the CAdES road (HttpTimestamper), so
    a TSA that fails once is asked again, as [cades] attempts says."""
    import threading
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from kyso.signer.v1 import pdf_pb2

    hits: list[int] = []

    class FailsOnceThenForwards(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hits.append(len(body))
            if len(hits) == 1:
                status, ctype, reply = 503, "text/plain", b"try again"
            else:  # the first server's TSA
                req = urllib.request.Request(srv.tsa_url, data=body, method="POST", headers={
                    "Content-Type": "application/timestamp-query"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    status, ctype, reply = r.status, r.headers["Content-Type"], r.read()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), FailsOnceThenForwards)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    e = server_env(tmp_path, "kyso-pdf-ext")
    e.update(KYSO_CADES_SOURCE="url", KYSO_TSA_ENABLED="false",
             KYSO_CADES_URL=f"http://127.0.0.1:{proxy.server_address[1]}/tsa",
             KYSO_CADES_ATTEMPTS="2", KYSO_CADES_BACKOFF_S="0.05", KYSO_CADES_TIMEOUT_S="10")
    other = start_server(tmp_path, e, "--demo")
    try:
        resp = _stream(other, env["blank"].read_bytes(), agency_code=DEMO,
                       profile=pdf_pb2.PDF_PROFILE_ATTACHMENT, document_number="7/TB",
                       document_type="TB", level=pdf_pb2.PADES_LEVEL_B_T)
    finally:
        stop_server(other)
        proxy.shutdown()
        proxy.server_close()
    assert resp[0].result.level == "B-T"  # type: ignore[attr-defined]
    assert len(hits) == 2  # refused once, asked again
