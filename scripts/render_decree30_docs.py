#!/usr/bin/env python3
"""Re-render the pictures of docs/decree30.md: the Decree 30-like test page of
tests/decree30.py, signed by signer.formats.pdf.pades.sign_pdf (the code of ``kyso sign pdf`` and
``SignPdf``) with a throwaway local key at a fixed time, rendered by pdftoppm at 100 dpi.

    .venv/bin/python scripts/render_decree30_docs.py [--out docs/img/decree30]
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    from signer.formats.pdf.pades import VN_TZ, SealImage
    from tests import decree30 as d

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "decree30")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    now = datetime(2025, 7, 1, 9, 15, 30, tzinfo=VN_TZ)
    page = d.make_page()
    top = round(45 * d.MM * d.PX)  # the top 45 mm: the block, the header under it
    for profile, options in (("attachment", {"number": "11/QĐ-UBND"}),
                             ("copy", {"copy_form": "SAO Y"})):
        signed = d.local_sign(page, profile=profile, now=now, **options)
        img = d.render(signed.data)
        img.crop((0, 0, img.width, top)).save(args.out / f"{profile}.png", optimize=True)
        big = d.render(signed.data, dpi=200)  # the block itself, as on paper
        mm = 200 / 25.4
        big.crop((round((210 - 80) * mm), 0, big.width, round(24 * mm))).save(
            args.out / f"{profile}-200dpi.png", optimize=True)
    leader = d.leader_signed_page()
    sealed = d.local_sign(leader, profile="seal", now=now, skip_personal_check=True,
                          seal=SealImage(d.seal_png(), 40.0, 40.0))
    img = d.render(sealed.data, gray=False)
    x1, y1, x2, y2 = d.SIG_BOX
    box = d.pdf_rect_to_box((x1, y1, x2, y2), d.A4[1]).grow(round(35 * d.MM * d.PX))
    img.crop((box.left, box.top, box.right, box.bottom)).save(args.out / "seal.png",
                                                              optimize=True)
    print(f"wrote {args.out}/attachment[-200dpi].png, copy[-200dpi].png, seal.png")


if __name__ == "__main__":
    main()
