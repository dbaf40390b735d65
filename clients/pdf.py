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
  not broken by the seal itself (``clients.pdf_personal``).
* ``attachment`` / ``copy`` — no image; a text block at the top right of page 1:
  number and symbol (or the copy form), organization name, signing time in
  ISO 8601 with +07:00; Times New Roman-compatible font (Liberation Serif,
  embedded, full Vietnamese diacritics), 10 pt, black.

Errors::

    PdfSignError                 (status on the class, a gRPC status name)
    ├── BadPdf                   INVALID_ARGUMENT     malformed, encrypted, bad options
    ├── PdfTooLarge              RESOURCE_EXHAUSTED   over MAX_PDF_BYTES
    └── PdfPreconditionFailed    FAILED_PRECONDITION  no trusted, unmodified personal
                                                      signature; no seal image
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clients.pdf_personal import TrustCheck

__all__ = [
    "COPY_FORMS",
    "LEVELS",
    "MAX_PDF_BYTES",
    "MM_TO_PT",
    "PROFILES",
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
    "iso_vn",
    "mm_to_pt",
    "seal_rect_over_left_third",
    "sign_pdf",
    "text_width",
    "top_right_box",
]

MM_TO_PT = 72.0 / 25.4  # PDF user space unit: 1/72 inch
VN_TZ = timezone(timedelta(hours=7), "ICT")  # Vietnam time, no daylight saving
MAX_PDF_BYTES = 256 * 1024 * 1024
PROFILES = ("seal", "attachment", "copy")
LEVELS = ("B-B", "B-T", "B-LT")
COPY_FORMS = ("SAO Y", "SAO LỤC", "TRÍCH SAO")
FONT_SIZE = 10
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",  # Debian fonts-liberation
    "/usr/share/fonts/liberation/LiberationSerif-Regular.ttf",  # Fedora
)
# Decree 30/2020 Appendix I: the text block sits at the top right of the first page.
TEXT_RIGHT_MARGIN_MM = 15.0
TEXT_TOP_MARGIN_MM = 10.0
TEXT_PADDING_PT = 2.0

SignRaw = Callable[[bytes, str], bytes]  # (digest, "sha256") -> raw signature
Timestamp = Callable[[bytes], bytes]  # DER TimeStampReq -> DER TimeStampResp


class PdfSignError(Exception):
    """A PDF that cannot be signed as asked; ``status`` names a gRPC status."""

    status = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadPdf(PdfSignError):
    status = "INVALID_ARGUMENT"


class PdfTooLarge(PdfSignError):
    status = "RESOURCE_EXHAUSTED"


class PdfPreconditionFailed(PdfSignError):
    status = "FAILED_PRECONDITION"


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
                  top_margin_mm: float = TEXT_TOP_MARGIN_MM) -> Rect:
    """A box of the given size at the top right of ``page`` (its MediaBox)."""
    x2 = page.x2 - mm_to_pt(right_margin_mm)
    y2 = page.y2 - mm_to_pt(top_margin_mm)
    return Rect(x2 - width_pt, y2 - height_pt, x2, y2)


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


def iso_vn(moment: datetime) -> str:
    """ISO 8601 in Vietnam time to the second: ``2025-07-01T09:15:30+07:00``."""
    return moment.astimezone(VN_TZ).replace(microsecond=0).isoformat()


def find_font() -> str:
    env = os.environ.get("KYSO_PDF_FONT")
    for path in ((env,) if env else ()) + FONT_CANDIDATES:
        if Path(path).is_file():
            return path
    raise PdfPreconditionFailed(
        "no font with Vietnamese glyphs found: install fonts-liberation (Liberation Serif, "
        "metric-compatible with Times New Roman) or set KYSO_PDF_FONT to a .ttf file"
    )


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


def _mediabox(page: Any) -> Rect:
    node = page
    while node is not None:
        if "/MediaBox" in node:
            box = [float(v) for v in node["/MediaBox"]]
            return Rect(min(box[0], box[2]), min(box[1], box[3]),
                        max(box[0], box[2]), max(box[1], box[3]))
        node = node.get("/Parent")
    return Rect(0, 0, 595.28, 841.89)  # A4


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
    from pyhanko.pdf_utils.font.opentype import (
        GlyphAccumulatorFactory,
    )
    from pyhanko.pdf_utils.layout import AxisAlignment, InnerScaling, Margins, SimpleBoxLayoutRule
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStampStyle

    return TextStampStyle(
        stamp_text="%(first)s\n%(org)s\n%(time)s",
        text_box_style=TextBoxStyle(
            font=GlyphAccumulatorFactory(font_path, font_size=FONT_SIZE),
            font_size=FONT_SIZE, leading=FONT_SIZE + 2,
            text_color=(0, 0, 0),
        ),
        border_width=0,
        background=None,
        inner_content_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MIN, y_align=AxisAlignment.ALIGN_MAX,
            margins=Margins.uniform(TEXT_PADDING_PT),  # type: ignore[no-untyped-call]
            inner_content_scaling=InnerScaling.NO_SCALING,
        ),
    )


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
) -> SignedPdf:
    """Add one PAdES signature (a new incremental revision) to ``data``.

    The ``seal`` profile checks the leader's personal signature first (unless
    ``options.skip_personal_check``): ``personal_trust`` validates each personal
    signature's certificate (kyso's verifier, ``clients.pdf_personal``); without one the
    seal is refused rather than applied unchecked."""
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
            from clients.pdf_personal import check_personal_signatures

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
        font = find_font()
        first = options.number if options.profile == "attachment" else options.copy_form
        if options.profile == "attachment" and not first:
            raise BadPdf("the attachment profile shows the document number: give --number")
        text_params = {"first": first, "org": identity.organization, "time": iso_vn(moment)}
        lines = [text_params["first"], text_params["org"], text_params["time"]]
        width = max(text_width(font, t, FONT_SIZE) for t in lines) + 2 * TEXT_PADDING_PT + 4
        height = len(lines) * (FONT_SIZE + 2) + 2 * TEXT_PADDING_PT + 4
        page_ix = 0
        rect = top_right_box(_mediabox(pages[0].get_object()), width, height)
        style = _text_style(font)
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
    """An error raised by the sign/timestamp callables (e.g. KysoClientError, or the
    server's KysoError) surfaces as itself, not wrapped by pyHanko."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if type(cur).__name__ in ("KysoClientError",) or (hasattr(cur, "status") and \
                type(cur).__module__.startswith(("signer.", "clients.client"))):
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
