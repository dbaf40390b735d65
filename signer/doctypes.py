"""Document types of Decree 30/2020/NĐ-CP, Appendix III, as carried in signing
requests for the monthly statistics (docs/domain.md)."""

from __future__ import annotations

import unicodedata

from signer.errors import InvalidRequest

# abbreviation -> name. Công văn has no abbreviation in the Decree: kyso uses "CV".
DOCUMENT_TYPES: dict[str, str] = {
    "NQ": "Nghị quyết", "QĐ": "Quyết định", "CT": "Chỉ thị", "QC": "Quy chế",
    "QyĐ": "Quy định", "TC": "Thông cáo", "TB": "Thông báo", "HD": "Hướng dẫn",
    "CTr": "Chương trình", "KH": "Kế hoạch", "PA": "Phương án", "ĐA": "Đề án",
    "DA": "Dự án", "BC": "Báo cáo", "BB": "Biên bản", "TTr": "Tờ trình", "HĐ": "Hợp đồng",
    "CĐ": "Công điện", "BGN": "Bản ghi nhớ", "BTT": "Bản thỏa thuận", "GUQ": "Giấy ủy quyền",
    "GM": "Giấy mời", "GGT": "Giấy giới thiệu", "GNP": "Giấy nghỉ phép", "PG": "Phiếu gửi",
    "PC": "Phiếu chuyển", "PB": "Phiếu báo", "SY": "Bản sao y", "TrS": "Bản trích sao",
    "SL": "Bản sao lục", "CV": "Công văn",
}


def _fold(s: str) -> str:
    s = s.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


_BY_FOLDED: dict[str, str] = {}
for _abbr in DOCUMENT_TYPES:
    _BY_FOLDED.setdefault(_fold(_abbr).upper(), _abbr)
# "QD" is ambiguous only in theory (QĐ vs QyĐ fold differently); DA/ĐA do collide:
# an ASCII "DA" means Dự án, write "ĐA" for Đề án.
_BY_FOLDED["DA"] = "DA"


# What the records of a load test (``kyso bench sign``) carry instead of a document type:
# no request can name it (parse_document_type accepts only Appendix III abbreviations),
# and the monthly report counts these records apart.
LOAD_TEST = "*bench"


def parse_document_type(raw: str) -> str:
    """The canonical abbreviation for ``raw`` ('' stays ''), accepting ASCII spellings."""
    if not raw:
        return ""
    s = unicodedata.normalize("NFC", raw.strip())
    if s in DOCUMENT_TYPES:
        return s
    folded = _BY_FOLDED.get(_fold(s).upper())
    if folded is not None:
        return folded
    raise InvalidRequest(
        f"unknown document type {raw!r}: use a Decree 30/2020 Appendix III abbreviation "
        "(NQ, QĐ, CT, TB, KH, BC, TTr, ...) or CV for a công văn"
    )
