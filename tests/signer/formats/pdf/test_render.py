"""The Decree 30/2020 appearances on the rendered page (issue 13): signed with
``signer.formats.pdf.pades.sign_pdf``
(the code ``kyso sign pdf`` and ``SignPdf`` run) and a local key,
rendered by poppler's pdftoppm at 100 dpi, measured against the unsigned page and the
font's own metrics (tests/decree30.py). The same checks run through a real server in
tests/e2e/test_pdf_render.py."""

from __future__ import annotations

import io
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from signer.formats.pdf.pades import (
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


@pytest.fixture(scope="module")
def page() -> bytes:
    return d.make_page()


@pytest.fixture(scope="module")
def unsigned(page: bytes) -> Image.Image:
    return d.render(page)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_text_block_on_the_rendered_page(profile: str, page: bytes,
                                         unsigned: Image.Image) -> None:
    options, lines, prefix = PROFILES[profile]
    signed = d.local_sign(page, profile=profile, now=NOW, **options)
    got = d.check_text_block(signed.data, unsigned, lines, prefix)
    problems = d.compare_with_reference(d.top_right_crop(got["image"]), profile)
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
    from signer.formats.pdf.pades import BadPdf

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
    from signer.formats.pdf.pades import PdfOptions, SigningIdentity, sign_pdf

    identity = SigningIdentity(d.local_key()[1], [], "pkcs1v15", "Ủy ban 漢")

    with pytest.raises(PdfPreconditionFailed, match=r"no glyph for 漢 \(U\+6F22\)"):
        sign_pdf(page, PdfOptions(agency="x", profile="copy"), identity,
                 lambda dg, alg: b"", now=NOW)


# --- the seal profile: its image over the left third of the leader's signature --------


def test_seal_over_the_left_third_of_the_leaders_signature() -> None:
    page = d.leader_signed_page()
    signed = d.local_sign(page, profile="seal", now=NOW, skip_personal_check=True,
                          seal=SealImage(d.seal_png(), 40.0, 40.0))
    crop = d.check_seal(signed.data)
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
