"""Issue 13 through a real server and HSM key: the Decree 30/2020 appearances made by
``kyso sign pdf`` (thin client) and by ``PdfService/SignPdf`` (server-side), rendered
by pdftoppm and measured (tests/decree30.py): (a) inside the page's top-right margin
area, (b) clear of the document's own text, (c) each line as wide as the font's
metrics say, (d) ink in every letter of the agency name and its diacritics; the
seal over the left third of the leader's signature; and a visual diff against the
reference PNGs of tests/data/decree30/ (the signing time, which differs per run, left
out of the diff; its line is still measured by (c))."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from PIL import Image

from tests import decree30 as d
from tests.helpers import hsm_unavailable_reason
from tests.servers import Server, server_env, start_server, stop_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.database_free,  # formats, not records: the PostgreSQL pass skips it
    pytest.mark.skipif(not d.FONT.is_file(), reason="fonts-liberation2 is not installed"),
    pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is missing"),
]
DEMO = "000.00.00.H13"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00")
FIRST = {"attachment": "11/QĐ-UBND", "copy": "SAO LỤC"}
PREFIX = {"attachment": "KysoAttachment", "copy": "KysoCopy"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("pdf-render")
    s = start_server(workdir, server_env(workdir, "kyso-pdf-render"), "--demo")
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def pages(srv: Server) -> dict[str, Path]:
    w = srv.workdir
    out = {"decree30": w / "decree30.pdf", "crowded": w / "crowded.pdf",
           "leader": w / "leader.pdf"}
    out["decree30"].write_bytes(d.make_page())
    out["crowded"].write_bytes(d.make_page(d.CROWDED_LINES))
    out["leader"].write_bytes(d.leader_signed_page())
    (w / "seal.png").write_bytes(d.seal_png())
    r = srv.cli("admin", "seal", "set", DEMO, str(w / "seal.png"), "--width-mm", "40")
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def unsigned(pages: dict[str, Path]) -> Image.Image:
    return d.render(pages["decree30"])


def sign_cli(srv: Server, src: Path, profile: str, *extra: str) -> tuple[bytes, str]:
    dst = srv.workdir / f"{src.stem}-{profile}-cli.pdf"
    args = ["--number", FIRST["attachment"]] if profile == "attachment" else []
    if profile == "copy":
        args = ["--copy-form", FIRST["copy"]]
    r = srv.cli("sign", "pdf", str(src), "-o", str(dst), "--agency", DEMO,
                "--profile", profile, *args, *extra)
    assert r.returncode == 0, r.stderr
    m = TIME.search(r.stderr)
    assert m is not None, r.stderr
    return dst.read_bytes(), m.group(0)


def sign_rpc(srv: Server, src: Path, profile: str) -> tuple[bytes, str]:
    from kyso.signer.v1 import pdf_pb2, pdf_pb2_grpc

    pb_profile = {"attachment": pdf_pb2.PDF_PROFILE_ATTACHMENT,
                  "copy": pdf_pb2.PDF_PROFILE_COPY, "seal": pdf_pb2.PDF_PROFILE_SEAL}[profile]
    data = src.read_bytes()

    def requests() -> Iterator[pdf_pb2.SignPdfRequest]:
        yield pdf_pb2.SignPdfRequest(options=pdf_pb2.SignPdfOptions(
            agency_code=DEMO, profile=pb_profile, document_number=FIRST["attachment"],
            copy_form=FIRST["copy"]))
        for i in range(0, len(data), 1 << 16):
            yield pdf_pb2.SignPdfRequest(chunk=data[i : i + (1 << 16)])

    with grpc.insecure_channel(srv.endpoint) as ch:
        resp = list(pdf_pb2_grpc.PdfServiceStub(ch).SignPdf(
            requests(), timeout=60, metadata=(("authorization", f"Bearer {srv.token}"),)))
    signed = b"".join(r.chunk for r in resp[1:])
    assert len(signed) == resp[0].result.size
    return signed, resp[0].result.signing_time


SIGNERS = {"cli": sign_cli, "rpc": sign_rpc}


@pytest.mark.parametrize("profile", ["attachment", "copy"])
@pytest.mark.parametrize("via", ["cli", "rpc"])
def test_text_block_on_the_rendered_page(srv: Server, pages: dict[str, Path],
                                         unsigned: Image.Image, via: str,
                                         profile: str) -> None:
    with srv.client() as c:
        assert c.get_agency(DEMO).name == d.AGENCY
    signed, when = SIGNERS[via](srv, pages["decree30"], profile)
    got = d.check_text_block(signed, unsigned, (FIRST[profile], d.AGENCY, when),
                             PREFIX[profile])
    crop = d.top_right_crop(got["image"])
    problems = d.compare_with_reference(
        crop, profile, masks=(d.time_line_mask(signed, PREFIX[profile], crop.width),))
    assert not problems, problems


@pytest.mark.parametrize("via", ["cli", "rpc"])
def test_seal_over_the_left_third_of_the_leaders_signature(
    srv: Server, pages: dict[str, Path], via: str
) -> None:
    """The leader here signs with a self-signed key: what is tested is where the seal
    lands, so the agency's check of the leader's signature is off for this test
    (tests/e2e/test_pdf.py tests that check)."""
    assert srv.cli("admin", "seal", "policy", DEMO, "--skip-personal-check").returncode == 0
    try:
        signed, _ = SIGNERS[via](srv, pages["leader"], "seal")
    finally:
        assert srv.cli("admin", "seal", "policy", DEMO,
                       "--require-personal-check").returncode == 0
    crop = d.check_seal(signed)
    problems = d.compare_with_reference(crop, "seal")
    assert not problems, problems


def test_no_room_is_refused_in_both_languages_and_at_overrides(
    srv: Server, pages: dict[str, Path]
) -> None:
    dst = srv.workdir / "crowded-signed.pdf"
    r = srv.cli("sign", "pdf", str(pages["crowded"]), "-o", str(dst), "--agency", DEMO,
                "--profile", "attachment", "--number", "11/QĐ-UBND")
    assert r.returncode == 4, r.stderr
    err = " ".join(r.stderr.split())
    assert "FAILED_PRECONDITION" in err and "the document leaves no room" in err, err
    assert "--at PAGE,X,Y" in err and "— Tiếng Việt: trang 1 có nội dung" in err, err
    assert not dst.exists()
    with pytest.raises(grpc.RpcError) as e:
        sign_rpc(srv, pages["crowded"], "copy")
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    assert "--at TRANG,X,Y" in e.value.details()  # type: ignore[attr-defined]
    # the clerk's choice: bottom right of page 1
    signed, _ = sign_cli(srv, pages["crowded"], "attachment", "--at", "1,380,40")
    x1, y1, _x2, _y2 = d.widget_rect(signed, "KysoAttachment")
    assert (round(x1), round(y1)) == (380, 40)
