"""Agency names and dates as people type them: cleaned (NFC), and refused when empty or
carrying control characters (names are printed in terminals, logs, reports and CSV)."""

from __future__ import annotations

import unicodedata
from datetime import date

from signer.errors import InvalidRequest


def clean_name(name: str) -> str:
    """Strip and NFC-normalise: "Cần Thơ" typed with combining marks is the same name."""
    return unicodedata.normalize("NFC", name.strip())


# Bidi embeddings, overrides and isolates (Unicode TR9): they reorder what follows.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def control_character_problem(name: str) -> str | None:
    """Why ``name`` may not be stored (its first control character), or None."""
    for i, ch in enumerate(name):
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS:
            what = unicodedata.name(ch, "")
            return (f"contains control character U+{ord(ch):04X}{f' ({what})' if what else ''}"
                    f" at position {i + 1}: remove it (names are printed in terminals, "
                    "logs and reports)")
    return None


def checked_name(name: str) -> str:
    """``clean_name``, refusing empty names and names with control characters."""
    clean = clean_name(name)
    if not clean:
        raise InvalidRequest("agency name is empty: give the body's official name")
    problem = control_character_problem(clean)
    if problem:
        raise InvalidRequest(f"agency name {clean!r} {problem}")
    return clean


def parse_date(text: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(f"{what} {text!r} is not a date: write YYYY-MM-DD") from None
