"""The font of the Decree 30/2020 text blocks: which file, whether it can write them, and
how it is handed to pyHanko so that viewers space its glyphs as the font says.

Decree 30/2020 Appendix I asks for Times New Roman, 10 pt; Liberation Serif 2.x is
metric-compatible with it and has every Vietnamese letter (SIL Open Font License 1.1;
Debian ``fonts-liberation2``). Debian's older ``fonts-liberation`` (1.07) has the same
file name but no Vietnamese beyond Latin-1 (no ơ, ư, nothing in U+1EA0–U+1EF9): it is
refused by ``check_font``, naming the letters it lacks.

PDF glyph space has 1000 units per em: a CIDFont's ``/W`` widths, and ``TJ``
adjustments, are in thousandths of the font size (ISO 32000-1 §9.2.4, §9.7.4.3).
pyHanko 0.38's ``GlyphAccumulator`` writes both in the font's own units (2048 per em
for Liberation), so viewers set each glyph about twice as wide as it is (docs/limits.md,
trap 8); its ``/FontBBox``, ``/Ascent`` and ``/Descent`` are in font units too. kyso
therefore hands pyHanko a copy of the font rescaled to 1000 units per em (fontTools'
``scale_upem``: outlines, advances, kerning and every metric table), so every number
pyHanko derives from it is already in PDF units. Making it costs about 1.5 s of CPU, so
it is kept in memory and on disk (``font_cache_dir``): every later process (each
``kyso serve`` start, each ``kyso sign pdf``) reads the copy instead. The copy carries
no TrueType hinting: its instructions address the original grid, and a rescaled font
with them would be mis-hinted by viewers that run them.
The embedded subset keeps the font's name (the OFL lets a document embed a subset).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

__all__ = [
    "FONT_CACHE_ENV",
    "FONT_CANDIDATES",
    "FONT_ENV",
    "REQUIRED_CHARACTERS",
    "VIETNAMESE_LETTERS",
    "FontUnusable",
    "check_font",
    "check_text",
    "find_font",
    "font_cache_dir",
    "font_factory",
    "missing_characters",
    "pdf_font_bytes",
]

FONT_ENV = "KYSO_PDF_FONT"  # the server's [pdf] font; the thin client reads it directly
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",  # Debian 2.x
    "/usr/share/fonts/liberation-serif/LiberationSerif-Regular.ttf",  # Fedora 2.x
    # Liberation 1.x: found so that check_font can say what it lacks, not used.
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
)
log = logging.getLogger(__name__)

PDF_UNITS_PER_EM = 1000  # ISO 32000-1 §9.2.4: glyph space, 1000 units per text space unit

_VOWELS = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")  # ` ´ ~ hook, dot below


def _vietnamese_letters() -> str:
    """The Vietnamese alphabet with every tone, lower and upper case, precomposed (NFC):
    134 vowel forms with tones, and the consonants (đ is the only one beyond ASCII)."""
    letters = [unicodedata.normalize("NFC", unicodedata.normalize("NFD", v) + t)
               for v in _VOWELS for t in _TONES]
    letters += list("bcdđghklmnpqrstvx")
    out = letters + [c.upper() for c in letters]
    assert all(len(c) == 1 for c in out)
    return "".join(sorted(set(out)))


VIETNAMESE_LETTERS = _vietnamese_letters()
# What the attachment and copy blocks can show: document numbers and symbols
# ("11/QĐ-UBND"), the copy forms, agency names (Vietnamese) and the ISO 8601 time.
REQUIRED_CHARACTERS = "".join(sorted(set(
    "".join(chr(c) for c in range(0x20, 0x7F)) + VIETNAMESE_LETTERS + "–—‘’“”")))


class FontUnusable(Exception):
    """No font, or a font that cannot write the text blocks; ``message`` says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _describe(chars: str) -> str:
    return " ".join(f"{c} (U+{ord(c):04X})" for c in chars)


@functools.cache
def _cmap(path: str, mtime_ns: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    try:
        with TTFont(path, lazy=True) as tt:
            return frozenset(tt.getBestCmap() or ())
    except Exception as exc:
        raise FontUnusable(f"the PDF font {path} cannot be read as a TrueType/OpenType "
                           f"font: {exc}") from None


def _font_cmap(path: str) -> frozenset[int]:
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as exc:
        raise FontUnusable(f"the PDF font {path} cannot be read: {exc.strerror}") from None
    return _cmap(path, mtime)


def missing_characters(path: str, text: str = REQUIRED_CHARACTERS) -> str:
    """The characters of ``text`` (NFC; white space other than the space aside) that the
    font at ``path`` has no glyph for, in order, each once."""
    cmap = _font_cmap(path)
    seen: dict[str, None] = {}
    for ch in unicodedata.normalize("NFC", text):
        if ord(ch) not in cmap and (ch == " " or not ch.isspace()):
            seen.setdefault(ch, None)
    return "".join(seen)


def check_font(path: str, setting: str = FONT_ENV) -> None:
    """Refuse a font that cannot write every character the text blocks may use (start-up:
    ``kyso serve`` and ``kyso sign pdf``), naming the characters it lacks."""
    lacking = missing_characters(path)
    if lacking:
        raise FontUnusable(
            f"the PDF font {path} lacks {len(lacking)} of the characters the attachment and "
            f"copy blocks use: {_describe(lacking)}. Install Debian's fonts-liberation2 "
            "(Liberation Serif 2.x, metric-compatible with Times New Roman, with Vietnamese) "
            f"or set {setting} to a .ttf file that has them")


def check_text(path: str, text: str) -> None:
    """Refuse to write ``text`` (e.g. an agency name) in a font that lacks some of its
    characters: a viewer would show blank boxes where they are."""
    lacking = missing_characters(path, text)
    if lacking:
        raise FontUnusable(
            f"the PDF font {path} has no glyph for {_describe(lacking)} in {text!r}: the "
            f"text block would show blanks there; set {FONT_ENV} to a font that has them")


def find_font(configured: str | Path | None = None) -> str:
    """The font file to use: ``configured`` (the server's ``[pdf] font``), else
    ``$KYSO_PDF_FONT``, else the first of ``FONT_CANDIDATES`` that exists. Not checked:
    see ``check_font``."""
    if configured:
        path = str(configured)
        if not Path(path).is_file():
            raise FontUnusable(f"the PDF font {path} does not exist")
        return path
    env = os.environ.get(FONT_ENV)
    if env:
        if not Path(env).is_file():
            raise FontUnusable(f"{FONT_ENV} names {env}, which does not exist")
        return env
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return path
    raise FontUnusable(
        "no font for the attachment and copy blocks: install Debian's fonts-liberation2 "
        "(Liberation Serif 2.x, metric-compatible with Times New Roman, with Vietnamese) "
        f"or set {FONT_ENV} to a .ttf file")


FONT_CACHE_ENV = "KYSO_FONT_CACHE"
# The recipe below; a change to it must change this, so that no copy made by an older
# recipe is used.
_RECIPE = 1


def font_cache_dir() -> Path | None:
    """Where rescaled copies are kept: ``$KYSO_FONT_CACHE``, else ``$XDG_CACHE_HOME/kyso/
    fonts``, else ``~/.cache/kyso/fonts`` (None when there is no home directory)."""
    configured = os.environ.get(FONT_CACHE_ENV)
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    try:
        base = Path(xdg) if xdg else Path.home() / ".cache"
    except RuntimeError:  # no home directory to be found
        return None
    return base / "kyso" / "fonts"


def _cache_file(source: bytes) -> Path | None:
    """The copy of ``source``'s rescaling: named by the SHA-256 of the font, of fontTools'
    version and of the recipe, so a changed font, library or recipe is never served an
    old copy."""
    from fontTools import version  # type: ignore[import-untyped]

    where = font_cache_dir()
    if where is None:
        return None
    key = hashlib.sha256(source)
    key.update(f"|fontTools {version}|upem {PDF_UNITS_PER_EM}|recipe {_RECIPE}".encode())
    return where / f"{key.hexdigest()}.ttf"


def _store(file: Path, data: bytes) -> None:
    """Write ``data`` to ``file`` whole or not at all (a private temporary file renamed
    over it); a cache that cannot be written is only slower."""
    try:
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=".font-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, file)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log.debug("the rescaled font is not cached in %s: %s", file.parent, exc)


@functools.cache
def _rescaled(path: str, mtime_ns: int) -> bytes:
    source = Path(path).read_bytes()
    cached = _cache_file(source)
    if cached is not None:
        try:
            data = cached.read_bytes()
            if data:
                return data
        except OSError:
            pass
    data = _rescale(source)
    if cached is not None:
        _store(cached, data)
    return data


def _rescale(source: bytes) -> bytes:
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem  # type: ignore[import-untyped]

    tt = TTFont(io.BytesIO(source), recalcTimestamp=False)  # the same bytes every time
    if tt["head"].unitsPerEm != PDF_UNITS_PER_EM:
        scale_upem(tt, PDF_UNITS_PER_EM)
    # Hinting programs address the original grid (cvt values, fpgm/prep functions).
    for tag in ("fpgm", "prep", "cvt ", "hdmx", "VDMX", "LTSH"):
        if tag in tt:
            del tt[tag]
    if "glyf" in tt:
        glyf = tt["glyf"]
        for name in tt.getGlyphOrder():
            glyf[name].removeHinting()
    out = io.BytesIO()
    tt.save(out)
    return out.getvalue()


def pdf_font_bytes(path: str) -> bytes:
    """The font at ``path`` with 1000 units per em and no hinting (cached in memory and in
    ``font_cache_dir``)."""
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as exc:
        raise FontUnusable(f"the PDF font {path} cannot be read: {exc.strerror}") from None
    try:
        return _rescaled(path, mtime)
    except Exception as exc:  # fontTools raises many kinds on a font it cannot rescale
        raise FontUnusable(f"the PDF font {path} cannot be rescaled to 1000 units per em "
                           f"for PDF: {exc}") from None


def font_factory(path: str, font_size: int) -> Any:
    """pyHanko's ``GlyphAccumulatorFactory``, fed the 1000-units-per-em copy of the font at
    ``path`` (so ``/W``, ``TJ`` adjustments and the font descriptor are in PDF glyph
    units). Returns a ``pyhanko.pdf_utils.font.api.FontEngineFactory``."""
    from pyhanko.pdf_utils.font.api import FontEngineFactory
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulator

    data = pdf_font_bytes(path)

    class _Factory(FontEngineFactory):
        def create_font_engine(self, writer: Any, obj_stream: Any = None) -> Any:
            if obj_stream is None and writer.stream_xrefs:
                obj_stream = writer.prepare_object_stream()
            return GlyphAccumulator(writer=writer, font_handle=io.BytesIO(data),
                                    font_size=font_size, obj_stream=obj_stream)

    return _Factory()
