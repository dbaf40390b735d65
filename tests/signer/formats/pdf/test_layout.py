"""Layout math of the Decree 30/2020 appearance profiles (signer.formats.pdf.pades)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from signer.formats.pdf.pades import (
    MM_TO_PT,
    Rect,
    fits_top_margin,
    iso_vn,
    mm_to_pt,
    seal_rect_over_left_third,
    text_block_size,
    text_width,
    top_right_box,
)

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

FONT = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"


def test_mm_to_pt() -> None:
    assert mm_to_pt(25.4) == pytest.approx(72.0)
    assert mm_to_pt(40) == pytest.approx(113.386, abs=1e-3)
    assert MM_TO_PT == pytest.approx(2.834645, abs=1e-6)


def test_seal_covers_the_left_third_only() -> None:
    sig = Rect(300, 300, 450, 360)
    seal = seal_rect_over_left_third(sig, mm_to_pt(40), mm_to_pt(40))
    assert seal.x2 == pytest.approx(350)  # one third of 150 pt from the left
    assert seal.width == pytest.approx(mm_to_pt(40))
    assert (seal.y1 + seal.y2) / 2 == pytest.approx(330)  # centred vertically
    assert seal.x1 < sig.x1 and seal.x2 < sig.x2 - sig.width / 3


def test_top_right_box_a4() -> None:
    a4 = Rect(0, 0, 595.28, 841.89)
    box = top_right_box(a4, 200, 40)
    assert box.x2 == pytest.approx(595.28 - mm_to_pt(15))
    assert box.y2 == pytest.approx(841.89 - mm_to_pt(4))
    assert box.width == pytest.approx(200) and box.height == pytest.approx(40)
    assert fits_top_margin(a4, box)  # ends 18.1 mm from the top: above the 20 mm margin


def test_top_margin_rule() -> None:
    a4 = Rect(0, 0, 595.28, 841.89)
    assert not fits_top_margin(a4, top_right_box(a4, 200, mm_to_pt(16.5)))  # to 20.5 mm
    assert not fits_top_margin(a4, top_right_box(a4, 480, 40))  # into the left margin
    assert not fits_top_margin(Rect(0, 0, 200, 200), top_right_box(Rect(0, 0, 200, 200),
                                                                   200, 40))


@pytest.mark.skipif(not Path(FONT).is_file(), reason="fonts-liberation2 is not installed")
def test_text_block_fits_the_top_margin() -> None:
    """Three lines of 10 pt, 12 pt apart, with a long agency name: within 20 mm."""
    lines = ["11/QĐ-UBND", "Sở Tài nguyên và Môi trường tỉnh Bà Rịa - Vũng Tàu",
             "2025-07-01T09:15:30+07:00"]
    w, h = text_block_size(FONT, lines)
    assert h == pytest.approx(1 + 3 * 12 + 2.16 + 1, abs=0.01)  # 40.2 pt, 14.2 mm
    assert w == pytest.approx(text_width(FONT, lines[1], 10) + 2)
    a4 = Rect(0, 0, 595.28, 841.89)
    assert fits_top_margin(a4, top_right_box(a4, w, h))


def test_iso_vn() -> None:
    assert iso_vn(datetime(2025, 7, 1, 2, 15, 30, 123, tzinfo=UTC)) == \
        "2025-07-01T09:15:30+07:00"


@pytest.mark.skipif(not Path(FONT).is_file(), reason="fonts-liberation2 is not installed")
def test_text_width_vietnamese() -> None:
    w = text_width(FONT, "Ủy ban nhân dân thành phố Cần Thơ", 10)
    assert 120 < w < 200
    assert text_width(FONT, "", 10) == 0
