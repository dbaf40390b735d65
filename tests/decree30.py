"""Decree 30/2020-like first pages and checks on the rendered page (issue 13).

The appearance tests look at a signed PDF as a clerk does: rendered by poppler's
``pdftoppm`` (not kyso's code, not pyHanko's), compared with the unsigned page and
with the font's own metrics (fontTools on the .ttf file). Nothing here uses kyso's
font handling, so a fault there cannot hide itself.

Coordinates: ``Box`` is in pixels of a render at ``DPI``, y down from the top of the
page; PDF rectangles are in points, y up.
"""

from __future__ import annotations

import functools
import io
import os
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

REPO = Path(__file__).resolve().parent.parent
REFERENCES = Path(__file__).resolve().parent / "data" / "decree30"
UPDATE_ENV = "KYSO_UPDATE_RENDER_REFERENCES"  # =1: rewrite the reference PNGs, then fail

FONT_DIR = Path("/usr/share/fonts/truetype/liberation2")
FONT = FONT_DIR / "LiberationSerif-Regular.ttf"
FONT_BOLD = FONT_DIR / "LiberationSerif-Bold.ttf"

DPI = 100
PX = DPI / 72.0  # pixels per point
MM = 72.0 / 25.4  # points per millimetre
A4 = (595.28, 841.89)
SIG_BOX = (330, 360, 480, 420)  # the leader's signature field on the sealed page, points
AGENCY = "Ủy ban nhân dân thành phố Cần Thơ"

# Decree 30/2020 Appendix I page layout (A4): margins, and the header under the top margin.
TOP_MARGIN_MM = 20.0
RIGHT_MARGIN_MM = 15.0
LEFT_MARGIN_MM = 30.0
DARK = 160  # a gray level below this is ink (0 black, 255 white)


# --- a Decree 30 first page -------------------------------------------------------------


@functools.cache
def _font_1000(path: Path) -> bytes:
    """The font rescaled to 1000 units per em (PDF glyph space), for this test page only:
    built here, independently of kyso's own font code."""
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
    from fontTools.ttLib.scaleUpem import scale_upem  # type: ignore[import-untyped]

    tt = TTFont(str(path))
    scale_upem(tt, 1000)
    for tag in ("fpgm", "prep", "cvt ", "hdmx", "VDMX", "LTSH"):
        if tag in tt:
            del tt[tag]
    for name in tt.getGlyphOrder():
        tt["glyf"][name].removeHinting()
    out = io.BytesIO()
    tt.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class Line:
    text: str
    size: float
    top_mm: float  # the top of the line box (ascent), from the top of the page
    bold: bool = False
    centre_mm: float | None = None  # horizontal centre, from the left edge
    left_mm: float | None = None


# Decree 30 Appendix I, the first page of a Quyết định: issuing body on the left, the
# national motto on the right, both starting at the top margin (20 mm).
LEFT_COL, RIGHT_COL = 62.0, 135.0  # column centres, mm
DECREE30_LINES = (
    Line("ỦY BAN NHÂN DÂN", 12, TOP_MARGIN_MM, centre_mm=LEFT_COL),
    Line("THÀNH PHỐ CẦN THƠ", 12, TOP_MARGIN_MM + 5, bold=True, centre_mm=LEFT_COL),
    Line("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12, TOP_MARGIN_MM, bold=True,
         centre_mm=RIGHT_COL),
    Line("Độc lập - Tự do - Hạnh phúc", 13, TOP_MARGIN_MM + 5, bold=True, centre_mm=RIGHT_COL),
    Line("Số: 11/QĐ-UBND", 13, TOP_MARGIN_MM + 13, centre_mm=LEFT_COL),
    Line("Cần Thơ, ngày 01 tháng 7 năm 2025", 13, TOP_MARGIN_MM + 13, centre_mm=RIGHT_COL),
    Line("QUYẾT ĐỊNH", 14, 55, bold=True, centre_mm=112.5),
    Line("Về việc ban hành Quy chế công tác văn thư, lưu trữ", 14, 62, bold=True,
         centre_mm=112.5),
    Line("CHỦ TỊCH ỦY BAN NHÂN DÂN THÀNH PHỐ CẦN THƠ", 14, 75, bold=True, centre_mm=112.5),
    Line("Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính", 14, 88,
         left_mm=LEFT_MARGIN_MM + 12.7),
    Line("phủ về công tác văn thư;", 14, 95, left_mm=LEFT_MARGIN_MM),
    Line("Theo đề nghị của Chánh Văn phòng Ủy ban nhân dân thành phố,", 14, 102,
         left_mm=LEFT_MARGIN_MM + 12.7),
)

# Something in the top margin at the right (a letterhead, a page number, a previous
# block): the attachment block has no room there.
CROWDED_LINES = (
    Line("Mẫu số 01 — kèm theo Quyết định số 11/QĐ-UBND", 10, 8, left_mm=110),
    *DECREE30_LINES,
)


def make_page(lines: tuple[Line, ...] = DECREE30_LINES, size: tuple[float, float] = A4,
              sig_box: tuple[int, int, int, int] | None = None) -> bytes:
    """A one-page PDF with ``lines`` in Liberation Serif (embedded, 1000 units per em).
    ``sig_box``: also an empty signature field there (for a leader's signature)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
    from pyhanko.pdf_utils.writer import PdfFileWriter

    w = PdfFileWriter(stream_xrefs=False)
    engines = {
        False: GlyphAccumulator(w, io.BytesIO(_font_1000(FONT)), 12),
        True: GlyphAccumulator(w, io.BytesIO(_font_1000(FONT_BOLD)), 12),
    }
    ops = [b"0 0 0 rg"]
    for ln in lines:
        eng = engines[ln.bold]
        eng.font_size = ln.size  # type: ignore[assignment]
        shaped = eng.shape(ln.text)
        width = shaped.x_advance * ln.size
        if ln.centre_mm is not None:
            x = ln.centre_mm * MM - width / 2
        else:
            assert ln.left_mm is not None
            x = ln.left_mm * MM
        baseline = size[1] - ln.top_mm * MM - 0.891 * ln.size  # Liberation ascent: 0.891 em
        font = b"/F2" if ln.bold else b"/F1"
        ops.append(b"BT %s %g Tf 1 0 0 1 %.3f %.3f Tm %s ET"
                   % (font, ln.size, x, baseline, shaped.graphics_ops))
    for eng in engines.values():
        eng.prepare_write()
    content = generic.StreamObject(stream_data=b"\n".join(ops))
    page = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.FloatObject(0), generic.FloatObject(0), generic.FloatObject(size[0]),
             generic.FloatObject(size[1])]),
        generic.NameObject("/Contents"): w.add_object(content),
        generic.NameObject("/Resources"): generic.DictionaryObject({
            generic.NameObject("/Font"): generic.DictionaryObject({
                generic.NameObject("/F1"): engines[False].as_resource(),
                generic.NameObject("/F2"): engines[True].as_resource(),
            }),
        }),
    })
    w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    data = out.getvalue()
    if sig_box is None:
        return data
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    iw = IncrementalPdfFileWriter(io.BytesIO(data))
    fields.append_signature_field(iw, fields.SigFieldSpec("ChuKyCaNhan", on_page=0,
                                                         box=sig_box))
    out = io.BytesIO()
    iw.write(out)
    return out.getvalue()


# --- rendering -------------------------------------------------------------------------


def render(pdf: bytes | Path, dpi: int = DPI, gray: bool = True) -> Image.Image:
    """Page 1 rendered by poppler's pdftoppm (the MediaBox, like a viewer)."""
    data = pdf.read_bytes() if isinstance(pdf, Path) else pdf
    with tempfile.TemporaryDirectory(prefix="kyso-render-") as d:
        src = Path(d) / "in.pdf"
        src.write_bytes(data)
        args = ["pdftoppm", "-r", str(dpi), "-png", "-f", "1", "-l", "1", "-singlefile"]
        if gray:
            args.append("-gray")
        r = subprocess.run([*args, str(src), str(Path(d) / "out")], capture_output=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        img = Image.open(Path(d) / "out.png")
        img.load()
    return img.convert("L" if gray else "RGB")


@dataclass(frozen=True)
class Box:
    """Pixels, y down: left, top inclusive; right, bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    def grow(self, px: int) -> Box:
        return Box(self.left - px, self.top - px, self.right + px, self.bottom + px)

    def mm(self) -> tuple[float, float, float, float]:
        f = 25.4 / DPI
        return (self.left * f, self.top * f, self.right * f, self.bottom * f)


def ink_mask(img: Image.Image, threshold: int = DARK) -> Image.Image:
    """1-bit image: 255 where ``img`` (gray) is ink."""
    return img.point(lambda v: 255 if v < threshold else 0, mode="L")


def count(mask: Image.Image, box: Box | None = None) -> int:
    part = mask if box is None else mask.crop((box.left, box.top, box.right, box.bottom))
    return part.histogram()[255]


def bbox(mask: Image.Image) -> Box | None:
    b = mask.getbbox()
    return None if b is None else Box(*b)


def added_ink(signed: Image.Image, unsigned: Image.Image) -> Image.Image:
    """What signing drew: pixels clearly darker after signing than before."""
    darker = ImageChops.subtract(unsigned, signed)  # > 0 where the signed page is darker
    return darker.point(lambda v: 255 if v > 255 - DARK else 0, mode="L")


def pdf_rect_to_box(rect: tuple[float, float, float, float], page_h: float) -> Box:
    x1, y1, x2, y2 = rect
    return Box(int(x1 * PX), int((page_h - y2) * PX), round(x2 * PX), round((page_h - y1) * PX))


def widget_rect(pdf: bytes | Path, prefix: str) -> tuple[float, float, float, float]:
    """The /Rect of the (last) signature field whose name starts with ``prefix``."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    data = pdf.read_bytes() if isinstance(pdf, Path) else pdf
    r = PdfFileReader(io.BytesIO(data), strict=False)
    found = None
    for name, _value, ref in enumerate_sig_fields(r):
        if name.startswith(prefix):
            fld = ref.get_object()
            w = fld if "/Rect" in fld else fld["/Kids"][0]
            x1, y1, x2, y2 = (float(v) for v in w["/Rect"])
            found = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    assert found is not None, f"no signature field named {prefix}*"
    return found


# --- the font's own metrics --------------------------------------------------------------


@dataclass(frozen=True)
class Glyph:
    char: str
    advance: float  # points, at the given size
    x_min: float
    x_max: float
    y_min: float
    y_max: float


@functools.cache
def _metrics_font(path: Path) -> Any:
    from fontTools.ttLib import TTFont

    return TTFont(str(path))


def glyph_run(text: str, size: float, path: Path = FONT) -> list[Glyph]:
    """Each character of ``text`` (NFC) with its advance and ink box in points, from the
    font's hmtx and glyf tables (no kerning: Liberation Serif kerns none of our pairs
    by more than a few hundredths of a point)."""
    tt = _metrics_font(path)
    cmap = tt.getBestCmap()
    upem = tt["head"].unitsPerEm
    glyf = tt["glyf"]
    out = []
    for ch in unicodedata.normalize("NFC", text):
        name = cmap[ord(ch)]
        adv = tt["hmtx"][name][0]
        g = glyf[name]
        if g.numberOfContours == 0:
            xs = ys = (0, 0)
            x_min = x_max = y_min = y_max = 0.0
        else:
            g.recalcBounds(glyf)
            xs, ys = (g.xMin, g.xMax), (g.yMin, g.yMax)
            x_min, x_max = xs[0] * size / upem, xs[1] * size / upem
            y_min, y_max = ys[0] * size / upem, ys[1] * size / upem
        out.append(Glyph(ch, adv * size / upem, x_min, x_max, y_min, y_max))
    return out


def ink_extent_pt(run: list[Glyph]) -> float:
    """Width in points from the first glyph's left ink edge to the last one's right edge."""
    inked = [(i, g) for i, g in enumerate(run) if g.x_max > g.x_min]
    first_i, first = inked[0]
    last_i, last = inked[-1]
    start = sum(g.advance for g in run[:first_i]) + first.x_min
    end = sum(g.advance for g in run[:last_i]) + last.x_max
    return end - start


def run_width_check(mask: Image.Image, text: str, baseline_px: float, size: float = 10
                    ) -> tuple[float, float, Box]:
    """(measured, predicted) ink width in points of the line ``text`` whose baseline is at
    ``baseline_px``: the ink between baseline and x-height, against the metrics."""
    band = Box(0, round(baseline_px - 0.45 * size * PX), mask.width, round(baseline_px))
    b = bbox(mask.crop((band.left, band.top, band.right, band.bottom)))
    assert b is not None, f"no ink at all on the line {text!r}"
    measured = (b.right - b.left) / PX
    return measured, ink_extent_pt(glyph_run(text, size)), Box(b.left, band.top, b.right,
                                                               band.bottom)


_ABOVE = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0302", "\u0306"}  # `´~ hook ^ breve
_BELOW = {"\u0323"}  # dot below


@dataclass(frozen=True)
class LetterInk:
    char: str
    box: Box
    ink: int  # ink pixels in the glyph's box
    mark: str  # "above", "below" or ""
    mark_ink: int  # ink pixels where the mark must be (above x-height/cap height, below base)


def letters_ink(mask: Image.Image, text: str, left_px: float, baseline_px: float,
                size: float = 10) -> list[LetterInk]:
    """For each letter of ``text``, set on ``baseline_px`` with its first glyph's ink
    starting at ``left_px``: the ink inside the glyph's box (trimmed by a fifth on each
    side, so neighbours do not count), and where its diacritic must be."""
    run = glyph_run(text, size)
    inked = next(g for g in run if g.x_max > g.x_min)
    origin = left_px - inked.x_min * PX
    tt = _metrics_font(FONT)
    upem = tt["head"].unitsPerEm
    x_height = tt["OS/2"].sxHeight * size / upem
    cap_height = tt["OS/2"].sCapHeight * size / upem
    out = []
    pen = 0.0
    for g in run:
        if g.char.isalpha():
            trim = (g.x_max - g.x_min) / 5
            x1, x2 = origin + (pen + g.x_min + trim) * PX, origin + (pen + g.x_max - trim) * PX
            box = Box(int(x1), round(baseline_px - g.y_max * PX),
                      max(int(x1) + 1, round(x2)), round(baseline_px - g.y_min * PX))
            marks = set(unicodedata.normalize("NFD", g.char)[1:])
            mark, mark_box = "", None
            if marks & _ABOVE:
                top_of_base = cap_height if g.char.isupper() else x_height
                mark = "above"
                mark_box = Box(box.left, box.top - 1,
                               box.right, round(baseline_px - (top_of_base + 0.9) * PX))
            elif marks & _BELOW:
                mark = "below"
                mark_box = Box(box.left, round(baseline_px + 0.9 * PX), box.right,
                               box.bottom + 1)
            out.append(LetterInk(g.char, box, count(mask, box), mark,
                                 count(mask, mark_box) if mark_box else 0))
        pen += g.advance
    return out


# --- reference images ------------------------------------------------------------------


def compare_with_reference(actual: Image.Image, name: str, *, tile: int = 8,
                           level: int = 96, per_tile: int = 6,
                           masks: tuple[Box, ...] = ()) -> list[str]:
    """Differences between ``actual`` and ``tests/data/decree30/<name>.png`` that a reader
    would see. Tolerant of font-hinting and anti-aliasing noise (a pixel counts only when
    it differs by more than ``level`` gray levels, a tile only with more than
    ``per_tile`` such pixels, after the best shift of at most one pixel either way), but
    not of a missing or misplaced glyph (dozens of pixels in one tile). With
    KYSO_UPDATE_RENDER_REFERENCES=1 the reference is rewritten instead (and this fails,
    so a rewritten reference is always looked at). ``masks``: parts left out of the
    comparison (painted white in both), e.g. a signing time that differs per run."""
    ref_path = REFERENCES / f"{name}.png"
    if os.environ.get(UPDATE_ENV) == "1":
        REFERENCES.mkdir(parents=True, exist_ok=True)
        actual.save(ref_path, optimize=True)
        return [f"reference {ref_path.relative_to(REPO)} rewritten: look at it, then rerun"]
    if not ref_path.is_file():
        return [f"no reference {ref_path.relative_to(REPO)}: run with {UPDATE_ENV}=1"]
    ref = Image.open(ref_path)
    ref.load()
    ref = ref.convert(actual.mode)
    if masks:
        from PIL import ImageDraw

        actual, ref = actual.copy(), ref.copy()
        white = 255 if actual.mode == "L" else (255, 255, 255)
        for m in masks:
            for im in (actual, ref):
                ImageDraw.Draw(im).rectangle((m.left, m.top, m.right - 1, m.bottom - 1),
                                             fill=white)
    if ref.size != actual.size:
        return [f"size {actual.size} differs from the reference's {ref.size}"]
    best: list[str] | None = None
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            moved = ImageChops.offset(actual, dx, dy)
            problems = _tile_differences(ref, moved, tile, level, per_tile)
            if best is None or len(problems) < len(best):
                best = problems
            if not best:
                return []
    assert best is not None
    return best


def _tile_differences(ref: Image.Image, actual: Image.Image, tile: int, level: int,
                      per_tile: int) -> list[str]:
    diff = ImageChops.difference(ref, actual)
    if diff.mode != "L":
        diff = ImageChops.lighter(ImageChops.lighter(*diff.split()[:2]), diff.split()[2])
    big = diff.point(lambda v: 255 if v > level else 0, mode="L")
    w, h = big.size
    out = []
    for y in range(1, h - 1, tile):  # the outermost pixel rows/columns roll over in offset
        for x in range(1, w - 1, tile):
            n = big.crop((x, y, min(x + tile, w - 1), min(y + tile, h - 1))).histogram()[255]
            if n > per_tile:
                out.append(f"tile at ({x},{y}) px: {n} pixels differ")
    return out


# --- signing without a server (the signer.formats.pdf.pades code the CLI and SignPdf run) ---


@functools.cache
def local_key() -> tuple[Any, bytes]:
    """An RSA key and a self-signed certificate for it (DER): sign_pdf's appearance does
    not depend on where the signature value comes from."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, AGENCY)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.DER)


def local_sign(data: bytes, **options: Any) -> Any:
    """``signer.formats.pdf.pades.sign_pdf`` with a local RSA key; ``options`` go to
    PdfOptions, except ``now``, ``seal`` and ``font``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    from signer.formats.pdf.pades import PdfOptions, SigningIdentity, sign_pdf

    key, cert = local_key()

    def sign_raw(digest: bytes, hash_alg: str) -> bytes:
        alg = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
               "sha512": hashes.SHA512()}[hash_alg]
        return bytes(key.sign(digest, padding.PKCS1v15(), utils.Prehashed(alg)))

    extra = {k: options.pop(k) for k in ("now", "seal", "font") if k in options}
    identity = SigningIdentity(cert, [], "pkcs1v15", AGENCY)
    return sign_pdf(data, PdfOptions(agency="000.00.00.H13", **options), identity, sign_raw,
                    **extra)


# --- the checks of issue 13 -------------------------------------------------------------


def top_right_crop(img: Image.Image) -> Image.Image:
    """What the reference PNGs hold: the right 100 mm of the top 30 mm (the block, the
    top of the motto under it)."""
    return img.crop((round((A4[0] - 100 * MM) * PX), 0, img.width,
                     round(30 * MM * PX)))


def check_text_block(signed_pdf: bytes, unsigned: Image.Image, lines: tuple[str, ...],
                     prefix: str) -> dict[str, Any]:
    """Checks (a)–(d) of issue 13 on the rendered page; returns what was measured."""
    from signer.formats.pdf.pades import FONT_SIZE, TEXT_LEADING_PT, TEXT_PADDING_PT

    img = render(signed_pdf)
    added = added_ink(img, unsigned)
    block = bbox(added)
    assert block is not None, "signing drew nothing on page 1"
    left, top, right, bottom = block.mm()
    page_w_mm = A4[0] / MM
    # (a) inside the page, and inside the top-right margin area: above the 20 mm top
    # margin where the header begins, right of the page's middle, left of the 15 mm
    # right margin.
    assert 0 <= left and right <= page_w_mm and top >= 3.0, block.mm()
    assert bottom <= TOP_MARGIN_MM, f"the block reaches {bottom:.1f} mm from the top"
    assert left >= page_w_mm / 2, f"the block starts {left:.1f} mm from the left"
    assert right <= page_w_mm - RIGHT_MARGIN_MM + 0.3, f"the block ends at {right:.1f} mm"
    # (b) none of the document's own ink within 1 mm of the block's ink
    document = ink_mask(unsigned)
    near = block.grow(round(1 * MM * PX))
    assert count(document, near) == 0, "the block overlaps the document's text"
    # where the lines are: the widget's rectangle and the Decree's 10 pt, 12 pt apart
    y2 = widget_rect(signed_pdf, prefix)[3]
    baselines = [(A4[1] - (y2 - TEXT_PADDING_PT - (i + 1) * TEXT_LEADING_PT)) * PX
                 for i in range(len(lines))]
    # (c) each line's glyph run is as wide as the font's metrics say
    widths = {}
    for text, base in zip(lines, baselines, strict=True):
        measured, predicted, _ = run_width_check(added, text, base, FONT_SIZE)
        widths[text] = (measured, predicted)
        assert measured == pytest.approx(predicted, rel=0.03, abs=1.0), (
            f"{text!r}: {measured:.1f} pt on the page, {predicted:.1f} pt by the metrics")
    # (d) every letter of the agency name (and of line 1: QĐ, LỤC) has ink, and its
    # diacritic too
    letters = []
    for text, base in ((lines[1], baselines[1]), (lines[0], baselines[0])):
        band = added.crop((0, round(base - 5 * PX), added.width, round(base)))
        band_box = bbox(band)
        assert band_box is not None, f"no ink on the line {text!r}"
        letters += letters_ink(added, text, band_box.left, base, FONT_SIZE)
    blank = [li.char for li in letters if li.ink < 3]
    assert not blank, f"letters without ink: {blank}"
    no_mark = [li.char for li in letters if li.mark and li.mark_ink < 1]
    assert not no_mark, f"letters whose diacritic has no ink: {no_mark}"
    return {"image": img, "widths": widths, "block_mm": block.mm(), "letters": letters}


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

    lines = (*DECREE30_LINES,
             Line("TM. ỦY BAN NHÂN DÂN", 14, 133, bold=True, centre_mm=143),
             Line("CHỦ TỊCH", 14, 139, bold=True, centre_mm=143),
             Line("Nguyễn Văn An", 14, 173, bold=True, centre_mm=143))
    page = make_page(lines, sig_box=SIG_BOX)
    scribble = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(scribble)
    draw.line([(20, 180), (120, 40), (170, 200), (260, 60), (330, 190), (420, 70),
               (580, 120)], fill=(20, 40, 200, 255), width=10)
    key, cert = local_key()
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
    img = render(signed_pdf, gray=False)
    x1, y1, x2, y2 = SIG_BOX
    sig = pdf_rect_to_box((x1, y1, x2, y2), A4[1])
    area = sig.grow(round(30 * MM * PX))
    crop = img.crop((area.left, area.top, area.right, area.bottom))
    red = _rgb_mask(crop, lambda p: p[0] > 150 and p[1] < 90 and p[2] < 90)
    blue = _rgb_mask(crop, lambda p: p[2] > 120 and p[0] < 90)
    rb = bbox(red)
    assert rb is not None, "no red seal on the page"
    off_x, off_y = area.left, area.top
    third = sig.left + (sig.right - sig.left) / 3
    assert rb.right + off_x == pytest.approx(third, abs=2), "seal's right edge"
    assert (rb.right - rb.left) == pytest.approx(40 * MM * PX, abs=3), "seal's size"
    assert (rb.top + rb.bottom) / 2 + off_y == pytest.approx((sig.top + sig.bottom) / 2,
                                                             abs=2)
    right_two_thirds = Box(round(third) + 2 - off_x, sig.top - off_y, sig.right - off_x,
                             sig.bottom - off_y)
    assert count(red, right_two_thirds) == 0
    left_third = Box(sig.left - off_x, sig.top - off_y, round(third) - 2 - off_x,
                       sig.bottom - off_y)
    assert count(red, left_third) > 100
    assert count(blue, right_two_thirds) > 100, "the leader's signature is hidden"
    return crop


def time_line_mask(signed_pdf: bytes, prefix: str, width_px: int) -> Box:
    """The rows of the block's third line (the signing time), in page pixels: a test
    that cannot fix the time leaves them out of the reference comparison."""
    from signer.formats.pdf.pades import TEXT_LEADING_PT, TEXT_PADDING_PT

    y2 = widget_rect(signed_pdf, prefix)[3]
    base = (A4[1] - (y2 - TEXT_PADDING_PT - 3 * TEXT_LEADING_PT)) * PX
    return Box(0, round(base - 8 * PX), width_px, round(base + 3 * PX))
