from __future__ import annotations

import pytest

from signer.doctypes import DOCUMENT_TYPES, parse_document_type
from signer.errors import InvalidRequest

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


@pytest.mark.parametrize(("raw", "canonical"), [
    ("QĐ", "QĐ"), ("QD", "QĐ"), ("qđ", "QĐ"), ("QyĐ", "QyĐ"), ("QYD", "QyĐ"), ("TTr", "TTr"),
    ("ĐA", "ĐA"), ("DA", "DA"), ("CV", "CV"), ("", ""), (" CT ", "CT"),
])
def test_document_types(raw: str, canonical: str) -> None:
    assert parse_document_type(raw) == canonical


def test_every_appendix_iii_type_round_trips() -> None:
    assert len(DOCUMENT_TYPES) == 31
    for abbr in DOCUMENT_TYPES:
        assert parse_document_type(abbr) == abbr


def test_unknown_type_says_what_to_use() -> None:
    with pytest.raises(InvalidRequest, match="Appendix III"):
        parse_document_type("XYZ")
