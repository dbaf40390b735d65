"""The text blocks' font (signer/formats/pdf/font.py): coverage of every character the blocks
use, checked at start by ``kyso serve`` and ``kyso sign pdf``, and the copy handed to
pyHanko in PDF's 1000 units per em."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from signer.formats.pdf.font import (
    REQUIRED_CHARACTERS,
    VIETNAMESE_LETTERS,
    FontUnusable,
    check_font,
    missing_characters,
    pdf_font_bytes,
)

pytestmark = pytest.mark.database_free

FONT = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"
OLD_DEBIAN_FONT = "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"
KYSO = str(Path(sys.executable).parent / "kyso")
needs_font = pytest.mark.skipif(not Path(FONT).is_file(),
                                reason="fonts-liberation2 is not installed")
DROPPED = "ơƠưƯỦ"


@pytest.fixture(scope="module")
def font_without_some_letters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Liberation Serif 2.x without ơ Ơ ư Ư Ủ (a subset that keeps everything else)."""
    from fontTools import subset  # type: ignore[import-untyped]
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    if not Path(FONT).is_file():
        pytest.skip("fonts-liberation2 is not installed")
    tt = TTFont(FONT)
    keep = [c for c in tt.getBestCmap() if chr(c) not in DROPPED]
    opts = subset.Options()
    opts.name_IDs = ["*"]
    s = subset.Subsetter(opts)
    s.populate(unicodes=keep)
    s.subset(tt)
    path = tmp_path_factory.mktemp("font") / "NoHorn.ttf"
    tt.save(str(path))
    return path


def test_the_vietnamese_alphabet() -> None:
    # 12 vowels × 6 tones × 2 cases, and đ Đ; plus the ASCII consonants
    assert len(VIETNAMESE_LETTERS) == 12 * 6 * 2 + 17 * 2
    for ch in "ỦủốỐầẦơƠụỤđĐỹỸẵẴ":
        assert ch in VIETNAMESE_LETTERS
    assert set(VIETNAMESE_LETTERS) <= set(REQUIRED_CHARACTERS)


@needs_font
def test_liberation_serif_2_covers_every_character() -> None:
    assert missing_characters(FONT) == ""
    check_font(FONT)


@pytest.mark.skipif(not Path(OLD_DEBIAN_FONT).is_file(),
                    reason="Debian's fonts-liberation 1.07 is not installed")
def test_debian_liberation_1_is_refused_with_the_letters_it_lacks() -> None:
    lacking = missing_characters(OLD_DEBIAN_FONT)
    for ch in "ỦốầơỤ":  # the blank letters
        assert ch in lacking
    with pytest.raises(FontUnusable, match=r"lacks \d+ of the characters.*Ủ \(U\+1EE6\)"):
        check_font(OLD_DEBIAN_FONT)


def test_a_font_missing_letters_is_refused_naming_them(font_without_some_letters: Path
                                                        ) -> None:
    assert missing_characters(str(font_without_some_letters)) == "ƠơƯưỦ"
    with pytest.raises(FontUnusable) as e:
        check_font(str(font_without_some_letters))
    for ch, cp in zip("ƠơƯưỦ", ("01A0", "01A1", "01AF", "01B0", "1EE6"), strict=True):
        assert f"{ch} (U+{cp})" in e.value.message
    assert "lacks 5 of the characters" in e.value.message
    assert "fonts-liberation2" in e.value.message


@needs_font
def test_the_copy_given_to_pyhanko_has_1000_units_per_em() -> None:
    import io

    from fontTools.ttLib import TTFont

    original = TTFont(FONT)
    scaled = TTFont(io.BytesIO(pdf_font_bytes(FONT)))
    assert original["head"].unitsPerEm == 2048 and scaled["head"].unitsPerEm == 1000
    cmap = scaled.getBestCmap()
    for ch in "Ủy ban nhân dân thành phố Cần Thơ":
        name = cmap[ord(ch)]
        assert scaled["hmtx"][name][0] == pytest.approx(
            original["hmtx"][name][0] * 1000 / 2048, abs=1)
    assert "fpgm" not in scaled and "prep" not in scaled  # no hinting for the old grid
    assert pdf_font_bytes(FONT) is pdf_font_bytes(FONT)  # made once


@needs_font
def test_the_copy_is_made_once_per_machine_and_read_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A later process reads the rescaled copy from the cache instead of spending ~1.5 s
    of CPU on it; the copy read back is exactly the one made, and a cache that cannot be
    written only costs time."""
    from signer.formats.pdf import font

    monkeypatch.setenv(font.FONT_CACHE_ENV, str(tmp_path / "cache"))
    font._rescaled.cache_clear()  # as a new process
    made = pdf_font_bytes(FONT)
    [copy] = (tmp_path / "cache").iterdir()
    assert copy.read_bytes() == made and copy.suffix == ".ttf"
    assert (tmp_path / "cache").stat().st_mode & 0o077 == 0  # private to its user

    font._rescaled.cache_clear()
    monkeypatch.setattr(font, "_rescale", lambda _source: pytest.fail("made again"))
    assert pdf_font_bytes(FONT) == made

    # Another font (or fontTools version, or recipe) is another file, never this copy.
    other = tmp_path / "other.ttf"
    other.write_bytes(Path(FONT).read_bytes() + b"\0")
    assert font._cache_file(other.read_bytes()) != copy

    monkeypatch.undo()
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache directory would be")
    monkeypatch.setenv(font.FONT_CACHE_ENV, str(blocked / "fonts"))
    font._rescaled.cache_clear()
    assert pdf_font_bytes(FONT) == made
    font._rescaled.cache_clear()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_")}
    env.update(extra)
    return env


def test_server_refuses_to_start_with_a_font_missing_letters(
    font_without_some_letters: Path, tmp_path: Path
) -> None:
    """The check comes first in start-up: no HSM, no database are touched."""
    r = subprocess.run(
        [KYSO, "serve", "--listen", "127.0.0.1:0"], capture_output=True, text=True,
        timeout=60, cwd=tmp_path,
        env=_env(KYSO_PDF_FONT=str(font_without_some_letters),
                 KYSO_STORE_URL=f"sqlite:///{tmp_path / 'never.db'}"))
    assert r.returncode == 2, r.stdout + r.stderr
    out = " ".join(r.stderr.split())
    assert "cannot start" in out and "pdf.font (KYSO_PDF_FONT)" in out, out
    assert "Ơ (U+01A0) ơ (U+01A1) Ư (U+01AF) ư (U+01B0) Ủ (U+1EE6)" in out, out
    assert not (tmp_path / "never.db").exists()


def test_server_refuses_a_font_file_that_does_not_exist(tmp_path: Path) -> None:
    r = subprocess.run([KYSO, "serve"], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path, env=_env(KYSO_PDF_FONT=str(tmp_path / "nope.ttf")))
    assert r.returncode == 2
    assert "pdf.font (KYSO_PDF_FONT): font file" in " ".join(r.stderr.split())


def test_sign_pdf_refuses_before_connecting(font_without_some_letters: Path,
                                            tmp_path: Path) -> None:
    """``kyso sign pdf`` checks its font first: nothing is sent (no server here)."""
    pdf = tmp_path / "in.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    r = subprocess.run(
        [KYSO, "--server", "127.0.0.1:9", "sign", "pdf", str(pdf), "--agency",
         "000.00.00.H13", "--profile", "copy"], capture_output=True, text=True, timeout=60,
        env=_env(KYSO_PDF_FONT=str(font_without_some_letters)))
    assert r.returncode == 2, r.stdout + r.stderr
    out = " ".join(r.stderr.split())
    assert "Ủ (U+1EE6)" in out and "lacks 5 of the characters" in out, out
