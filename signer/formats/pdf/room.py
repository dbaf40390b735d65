"""Is a part of a PDF page empty? Asked of the rendered page, as a reader would see it.

The attachment and copy blocks go in the top margin of page 1, at the right (Decree
30/2020 Appendix I). Before putting one there kyso renders that part of page 1 with
poppler's ``pdftoppm`` and counts the dark pixels. Rendering, rather than reading the
content stream's text and path positions, because what matters is ink: a scanned
document (one page-size image, its margins white) has room; a letterhead drawn as
vector art, an image or a form field's appearance has none; text in a white or
invisible render mode, or a white background rectangle, takes no room. A separate
process, with a time limit, because the PDF comes from someone else: a renderer that
hangs or crashes on it costs that one request, not the server.

``pdftoppm`` is Debian's ``poppler-utils`` (``make deps`` installs it); without it the
caller must give the position itself (``--at``).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["DARK", "Region", "RenderFailed", "ink_pixels"]

DARK = 192  # gray level (0 black … 255 white) below which a pixel counts as ink
RENDER_DPI = 100
RENDER_TIMEOUT_S = 30.0


class RenderFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle in points relative to the rendered box's lower-left corner."""

    x1: float
    y1: float
    x2: float
    y2: float


def ink_pixels(data: bytes, page: int, box_width: float, box_height: float,
               region: Region, *, use_cropbox: bool = True, dpi: int = RENDER_DPI,
               threshold: int = DARK) -> int:
    """How many pixels of ``region`` of page ``page`` (1-based) are ink, rendered at
    ``dpi`` in gray. ``box_width`` × ``box_height`` is the rendered box (the CropBox,
    or with ``use_cropbox=False`` the MediaBox) in points."""
    from PIL import Image

    exe = shutil.which("pdftoppm")
    if exe is None:
        raise RenderFailed("pdftoppm (Debian poppler-utils) is not installed")
    scale = dpi / 72.0
    left = max(0, int(region.x1 * scale))
    top = max(0, int((box_height - region.y2) * scale))
    right = min(int(box_width * scale + 0.5), int(region.x2 * scale + 0.999))
    bottom = min(int(box_height * scale + 0.5), int((box_height - region.y1) * scale + 0.999))
    if right <= left or bottom <= top:
        return 0
    args = [exe, "-r", str(dpi), "-gray", "-f", str(page), "-l", str(page),
            "-x", str(left), "-y", str(top), "-W", str(right - left),
            "-H", str(bottom - top)]
    if use_cropbox:
        args.append("-cropbox")
    try:
        proc = subprocess.run([*args, "-"], input=data, capture_output=True,
                              timeout=RENDER_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise RenderFailed(f"pdftoppm did not render page {page} within "
                           f"{RENDER_TIMEOUT_S:.0f} s") from None
    except OSError as exc:
        raise RenderFailed(f"pdftoppm could not run: {exc}") from None
    if proc.returncode != 0 or not proc.stdout:
        why = proc.stderr.decode("utf-8", "replace").strip()[:300] or f"exit {proc.returncode}"
        raise RenderFailed(f"pdftoppm could not render page {page}: {why}")
    import io

    try:
        img = Image.open(io.BytesIO(proc.stdout))
        img.load()
    except Exception as exc:
        raise RenderFailed(f"pdftoppm's image cannot be read: {exc}") from None
    gray = img.convert("L")
    return int(sum(gray.histogram()[:threshold]))
