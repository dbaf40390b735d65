"""The Decree 30/2020 appearances on the rendered page (issue 13): signed with
``clients.pdf.sign_pdf`` (the code ``kyso sign pdf`` and ``SignPdf`` run) and a local key,
rendered by poppler's pdftoppm at 100 dpi, measured against the unsigned page and the
font's own metrics (tests/decree30.py). The same checks run through a real server in
tests/e2e/test_pdf_render.py."""

from __future__ import annotations

import io
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from clients.pdf import (
    FONT_SIZE,
    TEXT_LEADING_PT,
    TEXT_PADDING_PT,
    VN_TZ,
    PdfPreconditionFailed,
    SealImage,
)
from tests import decree30 as d

pytestmark = [
    pytest.mark.database_free,
    pytest.mark.skipif(not d.FONT.is_file(), reason="fonts-liberation2 is not installed"),
    pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is missing"),
]

NOW = datetime(2025, 7, 1, 9, 15, 30, tzinfo=VN_TZ)
TIME = "2025-07-01T09:15:30+07:00"
PROFILES = {
    # profile: (PdfOptions, the block's three lines, the field's name prefix)
    "attachment": ({"number": "11/QĐ-UBND"}, ("11/QĐ-UBND", d.AGENCY, TIME),
                   "KysoAttachment"),
    "copy": ({"copy_form": "SAO LỤC"}, ("SAO LỤC", d.AGENCY, TIME), "KysoCopy"),
}
PAGE_W, PAGE_H = d.A4
SIG_BOX = (330, 360, 480, 420)  # the leader's signature field, points


@pytest.fixture(scope="module")
def page() -> bytes:
    return d.make_page()


@pytest.fixture(scope="module")
def unsigned(page: bytes) -> Image.Image:
    return d.render(page)


def top_right_crop(img: Image.Image) -> Image.Image:
    """What the reference PNGs hold: the right 100 mm of the top 30 mm (the block, the
    top of the motto under it)."""
    return img.crop((round((PAGE_W - 100 * d.MM) * d.PX), 0, img.width,
                     round(30 * d.MM * d.PX)))


def check_text_block(signed_pdf: bytes, unsigned: Image.Image, lines: tuple[str, ...],
                     prefix: str) -> dict[str, Any]:
    """Checks (a)–(d) of issue 13 on the rendered page; returns what was measured."""
    img = d.render(signed_pdf)
    added = d.added_ink(img, unsigned)
    block = d.bbox(added)
    assert block is not None, "signing drew nothing on page 1"
    left, top, right, bottom = block.mm()
    page_w_mm = PAGE_W / d.MM
    # (a) inside the page, and inside the top-right margin area: above the 20 mm top
    # margin where the header begins, right of the page's middle, left of the 15 mm
    # right margin.
    assert 0 <= left and right <= page_w_mm and top >= 3.0, block.mm()
    assert bottom <= d.TOP_MARGIN_MM, f"the block reaches {bottom:.1f} mm from the top"
    assert left >= page_w_mm / 2, f"the block starts {left:.1f} mm from the left"
    assert right <= page_w_mm - d.RIGHT_MARGIN_MM + 0.3, f"the block ends at {right:.1f} mm"
    # (b) none of the document's own ink within 1 mm of the block's ink
    document = d.ink_mask(unsigned)
    near = block.grow(round(1 * d.MM * d.PX))
    assert d.count(document, near) == 0, "the block overlaps the document's text"
    # where the lines are: the widget's rectangle and the Decree's 10 pt, 12 pt apart
    y2 = d.widget_rect(signed_pdf, prefix)[3]
    baselines = [(PAGE_H - (y2 - TEXT_PADDING_PT - (i + 1) * TEXT_LEADING_PT)) * d.PX
                 for i in range(len(lines))]
    # (c) each line's glyph run is as wide as the font's metrics say
    widths = {}
    for text, base in zip(lines, baselines, strict=True):
        measured, predicted, _ = d.run_width_check(added, text, base, FONT_SIZE)
        widths[text] = (measured, predicted)
        assert measured == pytest.approx(predicted, rel=0.03, abs=1.0), (
            f"{text!r}: {measured:.1f} pt on the page, {predicted:.1f} pt by the metrics")
    # (d) every letter of the agency name has ink, and its diacritic too
    org_base = baselines[1]
    band = added.crop((0, round(org_base - 5 * d.PX), added.width, round(org_base)))
    band_box = d.bbox(band)
    assert band_box is not None
    letters = d.letters_ink(added, lines[1], band_box.left, org_base, FONT_SIZE)
    blank = [li.char for li in letters if li.ink < 3]
    assert not blank, f"letters without ink: {blank}"
    no_mark = [li.char for li in letters if li.mark and li.mark_ink < 1]
    assert not no_mark, f"letters whose diacritic has no ink: {no_mark}"
    return {"image": img, "widths": widths, "block_mm": block.mm(), "letters": letters}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_text_block_on_the_rendered_page(profile: str, page: bytes,
                                         unsigned: Image.Image) -> None:
    options, lines, prefix = PROFILES[profile]
    signed = d.local_sign(page, profile=profile, now=NOW, **options)
    got = check_text_block(signed.data, unsigned, lines, prefix)
    problems = d.compare_with_reference(top_right_crop(got["image"]), profile)
    assert not problems, problems


def test_font_units_in_the_pdf(page: bytes) -> None:
    """The embedded font's /W widths are in PDF's 1000 units per em (ISO 32000-1 §9.7.4.3),
    as are its descriptor's metrics: Liberation's own 2048 would double every advance."""
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
    from pyhanko.pdf_utils.reader import PdfFileReader

    signed = d.local_sign(page, profile="attachment", number="11/QĐ-UBND", now=NOW)
    r = PdfFileReader(io.BytesIO(signed.data), strict=False)
    field = next(f for f in (x.get_object() for x in r.root["/AcroForm"]["/Fields"])
                 if str(f["/T"]).startswith("Kyso"))
    font = field["/AP"]["/N"]["/Resources"]["/Font"]["/F1"]
    cid = font["/DescendantFonts"][0]
    tt = TTFont(str(d.FONT))
    upem = tt["head"].unitsPerEm
    assert upem == 2048
    order = tt.getGlyphOrder()
    w = cid["/W"]
    checked = 0
    for i in range(0, len(w), 2):
        first, widths = int(w[i]), w[i + 1]
        for k, width in enumerate(widths):
            expected = tt["hmtx"][order[first + k]][0] * 1000 / upem
            assert float(width) == pytest.approx(expected, abs=1), order[first + k]
            checked += 1
    assert checked >= 20
    desc = cid["/FontDescriptor"]
    assert int(desc["/Ascent"]) == round(tt["hhea"].ascent * 1000 / upem)
    assert int(desc["/CapHeight"]) == round(tt["OS/2"].sCapHeight * 1000 / upem)


def test_refused_when_the_top_margin_is_taken_and_at_overrides() -> None:
    crowded = d.make_page(d.CROWDED_LINES)
    with pytest.raises(PdfPreconditionFailed) as e:
        d.local_sign(crowded, profile="copy", copy_form="SAO Y", now=NOW)
    msg = e.value.message
    assert "page 1 has content where the copy block goes" in msg
    assert "--at PAGE,X,Y" in msg and " — Tiếng Việt: " in msg
    assert "trang 1 có nội dung" in msg and "--at TRANG,X,Y" in msg
    # --at puts it where the clerk chose (here: the bottom right), unchecked
    signed = d.local_sign(crowded, profile="copy", copy_form="SAO Y", now=NOW,
                          at=(1, 380, 40))
    x1, y1, _x2, _y2 = d.widget_rect(signed.data, "KysoCopy")
    assert (round(x1), round(y1)) == (380, 40)
    added = d.added_ink(d.render(signed.data), d.render(crowded))
    block = d.bbox(added)
    assert block is not None and block.top > (PAGE_H - 100) * d.PX  # near the bottom


def test_at_outside_the_page_is_refused(page: bytes) -> None:
    from clients.pdf import BadPdf

    with pytest.raises(BadPdf, match="does not lie inside page 1"):
        d.local_sign(page, profile="copy", now=NOW, at=(1, 500, 820))


def test_without_pdftoppm_the_block_is_refused_not_placed_blind(
    page: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PdfPreconditionFailed) as e:
        d.local_sign(page, profile="copy", now=NOW)
    assert "pdftoppm (Debian poppler-utils) is not installed" in e.value.message
    assert "--at PAGE,X,Y" in e.value.message


def test_a_scanned_page_with_a_white_margin_has_room() -> None:
    """A scan: one page-size image. Its white top margin is room; kyso looks at ink."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.images import pil_image
    from pyhanko.pdf_utils.writer import PdfFileWriter

    scan = Image.new("L", (827, 1170), 250)  # off-white paper at 100 dpi
    _draw_scan_lines(scan)
    w = PdfFileWriter(stream_xrefs=False)
    content = generic.StreamObject(stream_data=b"q %g 0 0 %g 0 0 cm /Im0 Do Q" % d.A4)
    w.insert_page(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.FloatObject(0), generic.FloatObject(0), generic.FloatObject(d.A4[0]),
             generic.FloatObject(d.A4[1])]),
        generic.NameObject("/Contents"): w.add_object(content),
        generic.NameObject("/Resources"): generic.DictionaryObject({
            generic.NameObject("/XObject"): generic.DictionaryObject({
                generic.NameObject("/Im0"): pil_image(scan, w)}),
        }),
    }))
    out = io.BytesIO()
    w.write(out)
    signed = d.local_sign(out.getvalue(), profile="copy", now=NOW)
    assert signed.field_name == "KysoCopy1"


def _draw_scan_lines(img: Image.Image) -> None:
    """Dark 'text' lines from 25 mm down, like a scanned letter."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    for y in range(100, 1100, 40):
        draw.rectangle((120, y, 760, y + 12), fill=30)


def test_text_the_font_lacks_is_refused(page: bytes) -> None:
    from clients.pdf import PdfOptions, SigningIdentity, sign_pdf

    identity = SigningIdentity(d.local_key()[1], [], "pkcs1v15", "Ủy ban 漢")

    with pytest.raises(PdfPreconditionFailed, match=r"no glyph for 漢 \(U\+6F22\)"):
        sign_pdf(page, PdfOptions(agency="x", profile="copy"), identity,
                 lambda dg, alg: b"", now=NOW)


# --- the seal profile: its image over the left third of the leader's signature --------


def seal_png() -> bytes:
    from PIL import ImageDraw

    img = Image.new("RGBA", (472, 472), (0, 0, 0, 0))  # 40 mm at 300 dpi
    draw = ImageDraw.Draw(img)
    draw.ellipse((0, 0, 471, 471), outline=(220, 0, 0, 255), width=18)
    draw.ellipse((70, 70, 402, 402), outline=(220, 0, 0, 255), width=8)
    star = [(236, 150), (258, 212), (324, 212), (270, 250), (290, 314), (236, 276),
            (182, 314), (202, 250), (148, 212), (214, 212)]
    draw.polygon(star, fill=(220, 0, 0, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def leader_signed_page() -> bytes:
    """The Decree 30 page with the leader's blue signature image in SIG_BOX (pyHanko)."""
    from PIL import ImageDraw
    from pyhanko.pdf_utils.images import PdfImage
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.stamp import StaticStampStyle

    lines = (*d.DECREE30_LINES,
             d.Line("TM. ỦY BAN NHÂN DÂN", 14, 133, bold=True, centre_mm=143),
             d.Line("CHỦ TỊCH", 14, 139, bold=True, centre_mm=143),
             d.Line("Nguyễn Văn An", 14, 173, bold=True, centre_mm=143))
    page = d.make_page(lines, sig_box=SIG_BOX)
    scribble = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(scribble)
    draw.line([(20, 180), (120, 40), (170, 200), (260, 60), (330, 190), (420, 70),
               (580, 120)], fill=(20, 40, 200, 255), width=10)
    key, cert = d.local_key()
    from asn1crypto import keys, x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    asn1_cert = x509.Certificate.load(cert)
    leader = signers.SimpleSigner(
        signing_cert=asn1_cert,
        signing_key=keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert]))  # type: ignore[no-untyped-call]
    out = signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="ChuKyCaNhan"), signer=leader,
        stamp_style=StaticStampStyle(background=PdfImage(scribble), border_width=0,
                                     background_opacity=1.0),
    ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(page)), existing_fields_only=True)
    return out.getvalue()


def _rgb_mask(img: Image.Image, pred: Any) -> Image.Image:
    mask = Image.new("L", img.size, 0)
    px, out = img.load(), mask.load()
    assert px is not None and out is not None
    for y in range(img.height):
        for x in range(img.width):
            if pred(px[x, y]):
                out[x, y] = 255
    return mask


def check_seal(signed_pdf: bytes) -> Image.Image:
    """The seal's red ink: its real size (40 mm), its right edge at one third of the
    leader's signature, centred on it vertically, nothing red on the right two thirds;
    the blue signature still visible there. Returns the crop kept as a reference."""
    img = d.render(signed_pdf, gray=False)
    x1, y1, x2, y2 = SIG_BOX
    sig = d.pdf_rect_to_box((x1, y1, x2, y2), PAGE_H)
    area = sig.grow(round(30 * d.MM * d.PX))
    crop = img.crop((area.left, area.top, area.right, area.bottom))
    red = _rgb_mask(crop, lambda p: p[0] > 150 and p[1] < 90 and p[2] < 90)
    blue = _rgb_mask(crop, lambda p: p[2] > 120 and p[0] < 90)
    rb = d.bbox(red)
    assert rb is not None, "no red seal on the page"
    off_x, off_y = area.left, area.top
    third = sig.left + (sig.right - sig.left) / 3
    assert rb.right + off_x == pytest.approx(third, abs=2), "seal's right edge"
    assert (rb.right - rb.left) == pytest.approx(40 * d.MM * d.PX, abs=3), "seal's size"
    assert (rb.top + rb.bottom) / 2 + off_y == pytest.approx((sig.top + sig.bottom) / 2,
                                                             abs=2)
    right_two_thirds = d.Box(round(third) + 2 - off_x, sig.top - off_y, sig.right - off_x,
                             sig.bottom - off_y)
    assert d.count(red, right_two_thirds) == 0
    left_third = d.Box(sig.left - off_x, sig.top - off_y, round(third) - 2 - off_x,
                       sig.bottom - off_y)
    assert d.count(red, left_third) > 100
    assert d.count(blue, right_two_thirds) > 100, "the leader's signature is hidden"
    return crop


def test_seal_over_the_left_third_of_the_leaders_signature() -> None:
    page = leader_signed_page()
    signed = d.local_sign(page, profile="seal", now=NOW, skip_personal_check=True,
                          seal=SealImage(seal_png(), 40.0, 40.0))
    crop = check_seal(signed.data)
    problems = d.compare_with_reference(crop, "seal")
    assert not problems, problems


def test_the_reference_diff_tolerates_hinting_not_a_blank_glyph() -> None:
    """The visual diff's tolerance, on the attachment reference itself: anti-aliasing
    changes (a slight blur, a one-pixel shift) pass; one blanked letter (ố of "phố"), or the
    block moved by 3 px, fail."""
    from PIL import ImageDraw, ImageFilter

    ref = Image.open(d.REFERENCES / "attachment.png").convert("L")
    assert d.compare_with_reference(ref.filter(ImageFilter.GaussianBlur(0.5)),
                                    "attachment") == []
    assert d.compare_with_reference(ref.transform(ref.size, Image.Transform.AFFINE,
                                                  (1, 0, 1, 0, 1, 0), fillcolor=255),
                                    "attachment") == []
    ink = d.ink_mask(ref)
    # the org line: its x-height band is rows 42–48 of the crop, its baseline row 49
    row = d.bbox(ink.crop((0, 42, ink.width, 49)))
    assert row is not None
    o = next(li for li in d.letters_ink(ink, d.AGENCY, row.left, 49) if li.char == "ố")
    assert o.ink > 5 and o.mark_ink > 0  # found where the metrics put it
    blanked = ref.copy()
    ImageDraw.Draw(blanked).rectangle((o.box.left - 1, 33, o.box.right + 1, 49), fill=255)
    assert d.compare_with_reference(blanked, "attachment") != []
    moved = ref.transform(ref.size, Image.Transform.AFFINE, (1, 0, 3, 0, 1, 0), fillcolor=255)
    assert d.compare_with_reference(moved, "attachment") != []
