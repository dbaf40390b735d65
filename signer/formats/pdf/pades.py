"""PAdES signatures of PDF files with a key that stays in kyso's HSM.

Transport-independent: the caller passes a ``SignRaw`` callable (digest in,
raw signature out) and, for B-T/B-LT, a ``Timestamp`` callable (DER
TimeStampReq in, DER TimeStampResp out). The thin client passes gRPC calls
(``kyso sign pdf``: the document never leaves the document system, only its
digest does); the server's ``PdfService`` passes ``SignerCore`` itself. This
module imports pyHanko, Pillow and fontTools, never server code.

Decree 30/2020/NĐ-CP, Appendix I appearance profiles:

* ``seal`` — the agency's red seal PNG at its real size over the LEFT THIRD of
  the personal signature (the last signed field), after checking that the PDF
  carries the leader's personal signature: intact, valid, trusted (the caller's
  ``TrustCheck``: kyso's verifier), not followed by changes it does not allow, and
  not broken by the seal itself (``signer.formats.pdf.personal``).
* ``attachment`` / ``copy`` — no image; a text block at the top right of page 1:
  number and symbol (or the copy form), organization name, signing time in
  ISO 8601 with +07:00; Times New Roman-compatible font (Liberation Serif 2.x,
  embedded, every Vietnamese letter; ``signer.formats.pdf.font``), 10 pt, upright, black.
  The block lies in the top margin of a Decree 30 page (20–25 mm), right-aligned
  on the 15 mm right margin, ending above the 20 mm line where the national motto
  and the issuing body begin. If page 1 has ink there (rendered, ``signer.formats.pdf.room``)
  the signature is refused, naming ``--at PAGE,X,Y``, which puts the block anywhere.

Errors (``signer.formats.pdf.errors``), in ``signer.errors``' one tree::

    PdfSignError(KysoError)
    ├── BadPdf(InvalidRequest)             malformed, encrypted, bad options
    ├── PdfTooLarge(LimitExceeded)         over MAX_PDF_BYTES
    └── PdfPreconditionFailed(NotUsable)   no trusted, unmodified personal signature;
                                           no seal image
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from signer.errors import KysoError, RemoteError
from signer.formats.pdf.errors import BadPdf, PdfPreconditionFailed, PdfSignError, PdfTooLarge

if TYPE_CHECKING:
    from signer.formats.pdf.personal import TrustCheck

__all__ = [
    "COPY_FORMS",
    "LEVELS",
    "MAX_PDF_BYTES",
    "MM_TO_PT",
    "PROFILES",
    "TEXT_LEADING_PT",
    "TEXT_PADDING_PT",
    "VN_TZ",
    "BadPdf",
    "PdfOptions",
    "PdfPreconditionFailed",
    "PdfSignError",
    "PdfTooLarge",
    "Rect",
    "SealImage",
    "SignedPdf",
    "SigningIdentity",
    "fits_top_margin",
    "iso_vn",
    "mm_to_pt",
    "place_text_block",
    "seal_rect_over_left_third",
    "sign_pdf",
    "text_block_size",
    "text_width",
    "top_right_box",
]

MM_TO_PT = 72.0 / 25.4  # PDF user space unit: 1/72 inch
VN_TZ = timezone(timedelta(hours=7), "ICT")  # Vietnam time, no daylight saving
MAX_PDF_BYTES = 256 * 1024 * 1024
PROFILES = ("seal", "attachment", "copy")
LEVELS = ("B-B", "B-T", "B-LT")
COPY_FORMS = ("SAO Y", "SAO LỤC", "TRÍCH SAO")
FONT_SIZE = 10  # Decree 30/2020 Appendix I: 10 pt, upright, black
# Decree 30/2020 Appendix I: the text block sits at the top right of the first page. A
# Decree 30 page (Appendix I, A4) has a top margin of 20–25 mm and a right margin of
# 15–20 mm; the national motto and the issuing body begin at the top margin. So the block
# goes in the top 20 mm, its right edge on the 15 mm margin.
TEXT_RIGHT_MARGIN_MM = 15.0
TEXT_TOP_MM = 4.0  # the block's top edge, from the page's top edge (printers' unprintable ~4 mm)
DECREE30_TOP_MARGIN_MM = 20.0  # the block ends above this line
DECREE30_LEFT_MARGIN_MM = 30.0  # and does not reach into the left margin (30–35 mm)
TEXT_LEADING_PT = 12  # baseline to baseline: 1.2 em (pyHanko writes it as an integer)
TEXT_PADDING_PT = 1.0
ROOM_CLEARANCE_MM = 1.0  # page 1 must be empty this far around the block
ROOM_MAX_INK_PX = 8  # at 100 dpi: more dark pixels than this is content (specks of a scan are not)

SignRaw = Callable[[bytes, str], bytes]  # (digest, "sha256") -> raw signature
Timestamp = Callable[[bytes], bytes]  # DER TimeStampReq -> DER TimeStampResp


# --- layout (pure functions, unit-tested) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in PDF user space (points), lower-left to upper-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (round(self.x1), round(self.y1), round(self.x2), round(self.y2))


def mm_to_pt(mm: float) -> float:
    return mm * MM_TO_PT


def seal_rect_over_left_third(signature: Rect, width_pt: float, height_pt: float) -> Rect:
    """Decree 30/2020 Appendix I: the seal covers about one third of the personal signature
    image, on its left. The seal's right edge is at one third of the signature's width, it
    is centred vertically on the signature; so it never reaches the right two thirds."""
    right = signature.x1 + signature.width / 3
    cy = (signature.y1 + signature.y2) / 2
    return Rect(right - width_pt, cy - height_pt / 2, right, cy + height_pt / 2)


def top_right_box(page: Rect, width_pt: float, height_pt: float,
                  right_margin_mm: float = TEXT_RIGHT_MARGIN_MM,
                  top_mm: float = TEXT_TOP_MM) -> Rect:
    """A box of the given size at the top right of ``page`` (its visible box): its right
    edge ``right_margin_mm`` and its top edge ``top_mm`` from the page's edges."""
    x2 = page.x2 - mm_to_pt(right_margin_mm)
    y2 = page.y2 - mm_to_pt(top_mm)
    return Rect(x2 - width_pt, y2 - height_pt, x2, y2)


def fits_top_margin(page: Rect, box: Rect) -> bool:
    """Whether ``box`` lies in the top margin of a Decree 30 page: above the 20 mm line
    where the header begins, and right of the 30 mm left margin."""
    return (box.y1 >= page.y2 - mm_to_pt(DECREE30_TOP_MARGIN_MM) - 1e-6
            and box.x1 >= page.x1 + mm_to_pt(DECREE30_LEFT_MARGIN_MM)
            and box.y2 <= page.y2 and box.x2 <= page.x2)


def text_width(font_path: str, text: str, size: float) -> float:
    """Advance width of ``text`` in points (no kerning: a safe upper bound for a box)."""
    import unicodedata

    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    font = TTFont(font_path, lazy=True)
    cmap = font.getBestCmap()
    hmtx = font["hmtx"]
    upem = font["head"].unitsPerEm
    total = 0
    for ch in unicodedata.normalize("NFC", text):
        glyph = cmap.get(ord(ch), ".notdef")
        total += hmtx[glyph][0]
    return float(total * size / float(upem))


def text_block_size(font_path: str, lines: Sequence[str], size: float = FONT_SIZE,
                    leading: float = TEXT_LEADING_PT,
                    padding: float = TEXT_PADDING_PT) -> tuple[float, float]:
    """Width and height in points of the text block: the widest line, and ``lines``
    baselines ``leading`` apart, the first ``leading`` below the top padding (room for
    Vietnamese stacked diacritics, up to 0.91 em in Liberation Serif), the last line's
    descenders below the last baseline."""
    from fontTools.ttLib import TTFont

    with TTFont(font_path, lazy=True) as font:
        descent = -font["hhea"].descent / font["head"].unitsPerEm * size
    width = max((text_width(font_path, t, size) for t in lines), default=0.0)
    return width + 2 * padding, padding + len(lines) * leading + descent + padding


def iso_vn(moment: datetime) -> str:
    """ISO 8601 in Vietnam time to the second: ``2025-07-01T09:15:30+07:00``."""
    return moment.astimezone(VN_TZ).replace(microsecond=0).isoformat()




# --- inputs and outputs ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealImage:
    png: bytes
    width_mm: float
    height_mm: float


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    """The agency's signing certificate (DER), its chain (leaf's issuer first), the key's
    signature scheme (``pkcs1v15``, ``pss`` or ``ecdsa``) and the organization's name."""

    certificate: bytes
    chain: Sequence[bytes]
    scheme: str
    organization: str


@dataclass(frozen=True, slots=True)
class PdfOptions:
    agency: str
    profile: str = "seal"
    number: str = ""  # "11/CT-UBND"
    doc_type: str = ""  # Appendix III abbreviation, for the statistics
    level: str = "B-B"
    copy_form: str = "SAO Y"
    at: tuple[int, float, float] | None = None  # seal: (1-based page, x, y) lower-left, pt
    skip_personal_check: bool = False
    hash_alg: str = "sha256"

    def check(self) -> None:
        if self.profile not in PROFILES:
            raise BadPdf(f"unknown profile {self.profile!r}: use seal, attachment or copy")
        if self.level not in LEVELS:
            raise BadPdf(f"unknown level {self.level!r}: use B-B, B-T or B-LT")
        if self.profile == "copy" and self.copy_form not in COPY_FORMS:
            raise BadPdf(f"unknown copy form {self.copy_form!r}: use SAO Y, SAO LỤC or "
                         "TRÍCH SAO")
        if self.hash_alg not in ("sha256", "sha384", "sha512"):
            raise BadPdf(f"unsupported hash {self.hash_alg!r}")
        if self.at is not None and self.at[0] < 1:
            raise BadPdf("--at: pages are numbered from 1")


@dataclass(frozen=True, slots=True)
class SignedPdf:
    data: bytes
    level: str  # reached
    signing_time: str  # ISO 8601, +07:00
    field_name: str
    notes: list[str] = field(default_factory=list)


# --- pyHanko glue ---------------------------------------------------------------------------


def _mechanism(identity: SigningIdentity, hash_alg: str) -> Any:
    from asn1crypto import algos

    if identity.scheme == "ecdsa":
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_alg}_ecdsa"})
    if identity.scheme == "pss":
        # Matches the HSM: MGF1 with the same hash, salt as long as the hash (RFC 8017 §9.1).
        return algos.SignedDigestAlgorithm({
            "algorithm": "rsassa_pss",
            "parameters": algos.RSASSAPSSParams({
                "hash_algorithm": {"algorithm": hash_alg},
                "mask_gen_algorithm": {"algorithm": "mgf1",
                                       "parameters": {"algorithm": hash_alg}},
                "salt_length": hashlib.new(hash_alg).digest_size,
                "trailer_field": "trailer_field_bc",
            }),
        })
    return algos.SignedDigestAlgorithm({"algorithm": f"{hash_alg}_rsa"})


def _signature_size(cert: Any) -> int:
    pub = cert.public_key
    if pub.algorithm == "ec":
        n = (pub.bit_size + 7) // 8
        return int(2 * n + 9)  # DER SEQUENCE of two INTEGERs, worst case
    return int((pub.bit_size + 7) // 8)


def _make_signer(identity: SigningIdentity, sign_raw: SignRaw, hash_alg: str) -> Any:
    from asn1crypto import x509
    from pyhanko.sign.signers.pdf_cms import Signer
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    class KysoSigner(Signer):
        """Hashes locally; the HSM signs the digest (PKCS#1 v1.5, PSS or ECDSA)."""

        async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                                 dry_run: bool = False) -> bytes:
            if dry_run:
                return bytes(_signature_size(self.signing_cert))
            digest = hashlib.new(digest_algorithm, data).digest()
            return sign_raw(digest, digest_algorithm)

    cert = x509.Certificate.load(identity.certificate)
    chain = [x509.Certificate.load(c) for c in identity.chain]
    return KysoSigner(
        signing_cert=cert,
        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [cert, *chain]),
        signature_mechanism=_mechanism(identity, hash_alg),
        prefer_pss=identity.scheme == "pss",
    )


def _make_timestamper(timestamp: Timestamp) -> Any:
    from asn1crypto import tsp
    from pyhanko.sign.timestamps.api import TimeStamper

    class CallableTimeStamper(TimeStamper):
        async def async_request_tsa_response(self, req: Any) -> Any:
            return tsp.TimeStampResp.load(timestamp(req.dump()))

    return CallableTimeStamper()  # type: ignore[no-untyped-call]


def open_pdf(data: bytes) -> Any:
    """An incremental writer over ``data``; malformed or encrypted input is a BadPdf."""
    from pyhanko.pdf_utils.incremental_writer import (
        IncrementalPdfFileWriter,
    )

    if len(data) > MAX_PDF_BYTES:
        raise PdfTooLarge(f"the PDF is {len(data):,} bytes; the limit is {MAX_PDF_BYTES:,}")
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise BadPdf("not a PDF file (it does not start with %PDF-)")
    try:
        w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        encrypted = w.prev.encrypted
        if not encrypted:
            _ = w.root["/Pages"]["/Count"]
    except Exception as exc:  # pyHanko raises PdfReadError, KeyError, ValueError ...
        raise BadPdf(f"the PDF is malformed and cannot be read: {exc}") from None
    if encrypted:
        raise BadPdf("the PDF is encrypted (password-protected): remove the protection "
                     "before signing; kyso signs only unencrypted PDFs")
    return w


def _page_refs(reader: Any) -> list[Any]:
    count = int(reader.root["/Pages"]["/Count"])
    return [reader.find_page_for_modification(i)[0] for i in range(count)]


def _inherited(page: Any, key: str) -> Any:
    """A page attribute, inherited from the page tree (ISO 32000-1 §7.7.3.4)."""
    node = page
    for _ in range(64):  # a page tree deeper than this is a loop
        if node is None:
            return None
        if key in node:
            return node[key]
        node = node["/Parent"] if "/Parent" in node else None  # [] dereferences
    return None


def _box(page: Any, key: str) -> Rect | None:
    box = _inherited(page, key)
    if box is None:
        return None
    b = [float(v) for v in box]
    return Rect(min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3]))


def _mediabox(page: Any) -> Rect:
    return _box(page, "/MediaBox") or Rect(0, 0, 595.28, 841.89)  # A4


def _visible_box(page: Any) -> tuple[Rect, bool]:
    """The part of the page a viewer shows (the CropBox within the MediaBox), and whether
    a CropBox set it."""
    media = _mediabox(page)
    crop = _box(page, "/CropBox")
    if crop is None:
        return media, False
    x1, y1 = max(media.x1, crop.x1), max(media.y1, crop.y1)
    x2, y2 = min(media.x2, crop.x2), min(media.y2, crop.y2)
    if x2 <= x1 or y2 <= y1:
        return media, False
    return Rect(x1, y1, x2, y2), True


def last_signed_field(reader: Any) -> tuple[int, Rect] | None:
    """Page index (0-based) and rectangle of the last signed signature field with a
    visible widget: the personal signature the seal goes over."""
    from pyhanko.sign.fields import enumerate_sig_fields

    pages = _page_refs(reader)
    found: tuple[int, Rect] | None = None
    for _name, value, ref in enumerate_sig_fields(reader, filled_status=True):
        if value is None:
            continue
        fld = ref.get_object()
        widget_ref = ref if "/Rect" in fld else (fld["/Kids"].raw_get(0) if "/Kids" in fld
                                                 else None)
        if widget_ref is None:
            continue
        widget = widget_ref.get_object()
        box = [float(v) for v in widget["/Rect"]]
        rect = Rect(min(box[0], box[2]), min(box[1], box[3]),
                    max(box[0], box[2]), max(box[1], box[3]))
        if rect.width <= 0 or rect.height <= 0:
            continue  # an invisible signature has no image to put the seal over
        page_ix = None
        p = widget.raw_get("/P") if "/P" in widget else None
        for i, pref in enumerate(pages):
            if p is not None and getattr(p, "idnum", None) == pref.idnum:
                page_ix = i
                break
            annots = pref.get_object().get("/Annots")
            if annots is not None and any(
                getattr(annots.raw_get(j), "idnum", None) == widget_ref.idnum
                for j in range(len(annots))
            ):
                page_ix = i
                break
        if page_ix is not None:
            found = (page_ix, rect)
    return found


def _unique_field_name(reader: Any, base: str) -> str:
    from pyhanko.sign.fields import enumerate_sig_fields

    names = {n for n, _v, _r in enumerate_sig_fields(reader)}
    i = 1
    while f"{base}{i}" in names:
        i += 1
    return f"{base}{i}"


def _seal_style(seal: SealImage) -> Any:
    from PIL import Image
    from pyhanko.pdf_utils.images import PdfImage
    from pyhanko.pdf_utils.layout import (
        InnerScaling,
        Margins,
        SimpleBoxLayoutRule,
    )
    from pyhanko.stamp import StaticStampStyle

    try:
        img = Image.open(io.BytesIO(seal.png))
        img.load()
        rgba = img if img.mode == "RGBA" else img.convert("RGBA")
    except Exception as exc:
        raise PdfPreconditionFailed(f"the agency's seal image cannot be read: {exc}") from None
    return StaticStampStyle(
        background=PdfImage(rgba),
        background_opacity=1.0,
        border_width=0,
        background_layout=SimpleBoxLayoutRule(
            x_align=_mid(), y_align=_mid(), margins=Margins(),
            inner_content_scaling=InnerScaling.STRETCH_TO_FIT,
        ),
    )


def _mid() -> Any:
    from pyhanko.pdf_utils.layout import AxisAlignment

    return AxisAlignment.ALIGN_MID


def _text_style(font_path: str) -> Any:
    from pyhanko.pdf_utils.layout import AxisAlignment, InnerScaling, Margins, SimpleBoxLayoutRule
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStampStyle

    from signer.formats.pdf.font import font_factory

    return TextStampStyle(
        stamp_text="%(first)s\n%(org)s\n%(time)s",
        text_box_style=TextBoxStyle(
            # the font rescaled to PDF's 1000 units per em (signer.formats.pdf.font)
            font=font_factory(font_path, FONT_SIZE),
            font_size=FONT_SIZE, leading=TEXT_LEADING_PT,
            text_color=(0, 0, 0),
            # no margin of its own (pyHanko's default adds 10 pt on every side): the
            # padding below is the only one, so the baselines are where the box says
            box_layout_rule=SimpleBoxLayoutRule(
                x_align=AxisAlignment.ALIGN_MIN, y_align=AxisAlignment.ALIGN_MAX,
                margins=Margins(), inner_content_scaling=InnerScaling.NO_SCALING,
            ),
        ),
        border_width=0,
        background=None,
        inner_content_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MIN, y_align=AxisAlignment.ALIGN_MAX,
            margins=Margins.uniform(TEXT_PADDING_PT),  # type: ignore[no-untyped-call]
            inner_content_scaling=InnerScaling.NO_SCALING,
        ),
    )


def _at_hint(w: float, h: float) -> str:
    return (f"give its place with --at PAGE,X,Y (its lower-left corner, in points from the "
            f"page's lower-left corner; it is {w:.0f} × {h:.0f} pt; SignPdf: has_position, "
            "page, x, y)")


def _at_hint_vi(w: float, h: float) -> str:
    return (f"hãy chỉ định vị trí bằng --at TRANG,X,Y (góc dưới bên trái của khối, tính "
            f"bằng point từ góc dưới bên trái của trang; khối có kích thước {w:.0f} × "
            f"{h:.0f} pt; SignPdf: has_position, page, x, y)")


def _no_room(reason_en: str, reason_vi: str, w: float, h: float) -> PdfPreconditionFailed:
    """One message, English then Vietnamese, naming the --at override."""
    return PdfPreconditionFailed(f"{reason_en}: {_at_hint(w, h)} — Tiếng Việt: {reason_vi}: "
                                 f"{_at_hint_vi(w, h)}")


def place_text_block(data: bytes, page: Any, width: float, height: float,
                     what: str) -> Rect:
    """Decree 30/2020 Appendix I: the block's place at the top right of page 1, in its
    top margin, above the header; refused (naming --at) when the page is rotated, too
    small, or has ink where the block would go (``signer.formats.pdf.room``)."""
    from signer.formats.pdf.room import Region, RenderFailed, ink_pixels

    rotate = int(_inherited(page, "/Rotate") or 0) % 360
    if rotate:
        raise _no_room(
            f"page 1 is shown rotated by {rotate}°, and kyso places the {what} block "
            "only on upright pages",
            f"trang 1 được hiển thị xoay {rotate}°, kyso chỉ tự đặt khối chữ ký trên "
            "trang đứng", width, height)
    visible, cropped = _visible_box(page)
    rect = top_right_box(visible, width, height)
    if not fits_top_margin(visible, rect):
        raise _no_room(
            f"the {what} block ({width:.0f} × {height:.0f} pt) does not fit in the top "
            f"margin of page 1 ({DECREE30_TOP_MARGIN_MM:.0f} mm, right of the "
            f"{DECREE30_LEFT_MARGIN_MM:.0f} mm left margin)",
            f"khối chữ ký ({width:.0f} × {height:.0f} pt) không vừa lề trên của trang 1 "
            f"({DECREE30_TOP_MARGIN_MM:.0f} mm, bên phải lề trái "
            f"{DECREE30_LEFT_MARGIN_MM:.0f} mm)", width, height)
    c = mm_to_pt(ROOM_CLEARANCE_MM)
    region = Region(rect.x1 - c - visible.x1, rect.y1 - c - visible.y1,
                    rect.x2 + c - visible.x1, rect.y2 + c - visible.y1)
    try:
        ink = ink_pixels(data, 1, visible.width, visible.height, region,
                         use_cropbox=cropped)
    except RenderFailed as exc:
        raise _no_room(
            f"kyso cannot check that page 1 has room for the {what} block ({exc.message})",
            "kyso không kiểm tra được trang 1 còn chỗ trống cho khối chữ ký", width,
            height) from None
    if ink > ROOM_MAX_INK_PX:
        raise _no_room(
            f"page 1 has content where the {what} block goes, in its top margin at the right "
            f"(x {rect.x1:.0f}–{rect.x2:.0f} pt, y {rect.y1:.0f}–{rect.y2:.0f} pt, the top "
            f"{DECREE30_TOP_MARGIN_MM:.0f} mm of the page): the document leaves no room for "
            "it",
            "trang 1 có nội dung ở lề trên bên phải, nơi đặt khối chữ ký (trong "
            f"{DECREE30_TOP_MARGIN_MM:.0f} mm trên cùng của trang): văn bản không còn chỗ "
            "trống cho khối", width, height)
    return rect


def _bytes_reserved(identity: SigningIdentity, timestamped: bool) -> int:
    """Room for the CMS: signature, certificates, signed attributes and (B-T) a token with
    the TSA's own certificates; generous, since an overflow fails the signature."""
    certs = len(identity.certificate) + sum(len(c) for c in identity.chain)
    return 8192 + 2 * certs + (16384 if timestamped else 0)


def sign_pdf(
    data: bytes,
    options: PdfOptions,
    identity: SigningIdentity,
    sign_raw: SignRaw,
    *,
    timestamp: Timestamp | None = None,
    seal: SealImage | None = None,
    now: datetime | None = None,
    personal_trust: TrustCheck | None = None,
    font: str | None = None,
) -> SignedPdf:
    """Add one PAdES signature (a new incremental revision) to ``data``.

    The ``seal`` profile checks the leader's personal signature first (unless
    ``options.skip_personal_check``): ``personal_trust`` validates each personal
    signature's certificate (kyso's verifier, ``signer.formats.pdf.personal``); without one the
    seal is refused rather than applied unchecked.

    ``font``: the attachment/copy blocks' font file (the server's ``[pdf] font``); by
    default ``$KYSO_PDF_FONT`` or Liberation Serif 2.x (``signer.formats.pdf.font``)."""
    options.check()
    writer = open_pdf(data)
    notes: list[str] = []
    moment = (now or datetime.now(VN_TZ)).astimezone(VN_TZ).replace(microsecond=0)
    if options.level != "B-B" and timestamp is None:
        raise PdfPreconditionFailed(f"{options.level} needs a timestamp authority, and none "
                                    "is configured")
    try:
        pages = _page_refs(writer.prev)
    except Exception as exc:
        raise BadPdf(f"the PDF's page tree is malformed: {exc}") from None
    if not pages:
        raise BadPdf("the PDF has no pages")

    text_params: dict[str, str] = {}
    before_signing: Callable[[bytes], None] | None = None
    if options.profile == "seal":
        if seal is None:
            raise PdfPreconditionFailed(
                f"agency {options.agency} has no seal image: set one with "
                f"`kyso admin seal set {options.agency} seal.png`")
        if not options.skip_personal_check:
            from signer.formats.pdf.personal import check_personal_signatures

            if personal_trust is None:
                raise PdfPreconditionFailed(
                    "no trust check for the leader's personal signature is configured here: "
                    "refusing to seal unchecked (a bug of the caller)")
            checked = check_personal_signatures(writer.prev, identity.certificate,
                                                personal_trust)
            notes.extend(checked.notes)
            before_signing = checked.check_seal_keeps
        w, h = mm_to_pt(seal.width_mm), mm_to_pt(seal.height_mm)
        if options.at is not None:
            page_ix = options.at[0] - 1
            if page_ix >= len(pages):
                raise BadPdf(f"--at: page {options.at[0]} does not exist "
                             f"(the PDF has {len(pages)})")
            rect = Rect(options.at[1], options.at[2], options.at[1] + w, options.at[2] + h)
        else:
            last = last_signed_field(writer.prev)
            if last is None:
                raise PdfPreconditionFailed(
                    "no visible signed signature field to place the seal over: give the "
                    "position with --at PAGE,X,Y (points, the seal's lower-left corner)")
            page_ix, sig_rect = last
            rect = seal_rect_over_left_third(sig_rect, w, h)
        style = _seal_style(seal)
        field_base = "KysoSeal"
    else:
        from signer.formats.pdf.font import FontUnusable, check_font, check_text, find_font

        first = options.number if options.profile == "attachment" else options.copy_form
        if options.profile == "attachment" and not first:
            raise BadPdf("the attachment profile shows the document number: give --number")
        # NFC: one precomposed glyph per Vietnamese letter (the font's cmap, the widths
        # measured here and the ToUnicode map all work on precomposed letters).
        text_params = {k: unicodedata.normalize("NFC", v) for k, v in (
            ("first", first), ("org", identity.organization), ("time", iso_vn(moment)))}
        lines = [text_params["first"], text_params["org"], text_params["time"]]
        try:
            font_path = find_font(font)
            check_font(font_path)
            check_text(font_path, "".join(lines))
        except FontUnusable as exc:
            raise PdfPreconditionFailed(exc.message) from None
        width, height = text_block_size(font_path, lines)
        what = options.profile
        if options.at is not None:
            page_ix = options.at[0] - 1
            if page_ix >= len(pages):
                raise BadPdf(f"--at: page {options.at[0]} does not exist "
                             f"(the PDF has {len(pages)})")
            rect = Rect(options.at[1], options.at[2], options.at[1] + width,
                        options.at[2] + height)
            media = _mediabox(pages[page_ix].get_object())
            if (rect.x1 < media.x1 or rect.y1 < media.y1 or rect.x2 > media.x2
                    or rect.y2 > media.y2):
                raise BadPdf(f"--at: the {what} block ({width:.0f} × {height:.0f} pt) at "
                             f"{options.at[1]:g},{options.at[2]:g} does not lie inside page "
                             f"{options.at[0]} ({media.x1:g},{media.y1:g})–"
                             f"({media.x2:g},{media.y2:g})")
        else:
            page_ix = 0
            rect = place_text_block(data, pages[0].get_object(), width, height, what)
        style = _text_style(font_path)
        field_base = "KysoAttachment" if options.profile == "attachment" else "KysoCopy"

    from pyhanko.sign import fields, signers

    name = _unique_field_name(writer.prev, field_base)
    timestamper = _make_timestamper(timestamp) if timestamp and options.level != "B-B" else None
    vc = None
    if options.level == "B-LT":
        from asn1crypto import x509
        from pyhanko_certvalidator import ValidationContext

        roots = [x509.Certificate.load(c) for c in identity.chain[-1:]] or \
            [x509.Certificate.load(identity.certificate)]
        vc = ValidationContext(trust_roots=roots, allow_fetching=True,
                               revocation_mode="soft-fail")
    meta = signers.PdfSignatureMetadata(
        field_name=name,
        md_algorithm=options.hash_alg,
        subfilter=fields.SigSeedSubFilter.PADES,
        name=identity.organization or None,
        location="Việt Nam",
        embed_validation_info=vc is not None,
        validation_context=vc,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer=_make_signer(identity, sign_raw, options.hash_alg),
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=fields.SigFieldSpec(sig_field_name=name, on_page=page_ix,
                                           box=rect.as_tuple()),
    )
    try:
        out, validation = asyncio.run(_run(pdf_signer, writer, moment, text_params,
                                           _bytes_reserved(identity, timestamper is not None),
                                           before_signing))
    except PdfSignError:
        raise
    except Exception as exc:
        kyso = _kyso_cause(exc)
        if kyso is not None:
            raise kyso from None
        raise BadPdf(f"pyHanko could not sign this PDF: {exc}") from exc
    level = options.level
    if options.level == "B-LT":
        crls = len(validation.crls_to_embed) if validation is not None else 0
        ocsps = len(validation.ocsps_to_embed) if validation is not None else 0
        if crls + ocsps == 0:
            level = "B-T"
            notes.append(
                "no revocation data could be embedded: the certificates name no CRL or OCSP "
                "service that answered (the development CA publishes none); the DSS holds the "
                "certificate chain only, so the signature is B-T, not B-LT")
        else:
            notes.append(f"embedded {crls} CRL(s) and {ocsps} OCSP response(s) in the DSS")
    return SignedPdf(out, level, iso_vn(moment), name, notes)


def _kyso_cause(exc: BaseException) -> BaseException | None:
    """An error raised by the sign/timestamp callables (the client's KysoClientError, a
    ``RemoteError``, or the server's KysoError) surfaces as itself, not wrapped by pyHanko."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (KysoError, RemoteError)):
            return cur
        cur = cur.__cause__ or cur.__context__
    return None


async def _run(pdf_signer: Any, writer: Any, moment: datetime, text_params: dict[str, str],
               bytes_reserved: int, before_signing: Callable[[bytes], None] | None = None
               ) -> tuple[bytes, Any]:
    """pyHanko's ``async_sign_pdf``, with the signing time fixed to ``moment`` so the text
    shown on the page and the CMS signing-time attribute agree to the second.
    ``before_signing`` sees the prepared file (placeholder signature) before anything is
    signed, and may refuse."""
    from pyhanko.sign.signers.pdf_signer import (  # type: ignore[attr-defined]
        PdfCMSSignedAttributes,
    )

    session = pdf_signer.init_signing_session(writer)
    session.system_time = moment
    validation = await session.perform_presign_validation(writer)
    tbs = session.prepare_tbs_document(
        validation_info=validation, bytes_reserved=bytes_reserved,
        appearance_text_params=text_params or None,
    )
    prepared, res_output = tbs.digest_tbs_document(in_place=False, chunk_size=1 << 16,
                                                   output=None)
    if before_signing is not None:
        before_signing(res_output.getvalue())
    post = await tbs.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=moment,
            adobe_revinfo_attr=None,
            cades_signed_attrs=pdf_signer.signature_meta.cades_signed_attr_spec,
        ),
    )
    await post.post_signature_processing(res_output, chunk_size=1 << 16)
    res_output.seek(0)
    return res_output.read(), validation
