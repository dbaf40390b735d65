"""Finding English in text meant to be Vietnamese (Circular 15/2025: verification software
reports in Vietnamese).

A word is suspect when all its letters are ASCII and it is neither a Vietnamese syllable
written without diacritics (``VI_ASCII``, each checked against Vietnamese syllable
structure so that no English word can hide there) nor a non-word the reports may carry
(``NON_WORDS``: codes, algorithm and format names, units). Tokens holding a digit or an
underscore (``SHA-256``, ``000.00.00.H13``, ``TRY_LATER``, ``trust_anchor_files``) or a
dot between letters (file and host names) are codes or data; so is anything quoted
(backticks, straight or curly double quotes, guillemets) and any string the caller names
as data (proper names from the report: a signer's CN, an agency's name, a field name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Vietnamese syllables that need no diacritics, as the reports use them. A new one is
# added here only if it is Vietnamese: ``_VI_SYLLABLE`` rejects most English.
VI_ASCII = frozenset("""
    ai bao ca chi cho coi danh do dung ghi gian hai hay khai khi minh nay qua quan quy sai sau so
    sung tham thao thay theo thu tin tra trang trong trung truy vi xem
""".split())

_INITIAL = r"(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdghklmnprstvx])?"
_NUCLEUS = r"(?:[aeiouy]{1,3})"
_FINAL = r"(?:ch|ng|nh|[cmnptiouy])?"
_VI_SYLLABLE = re.compile(f"^{_INITIAL}{_NUCLEUS}{_FINAL}$")

# Codes, names of algorithms, formats and standards, units: not English words.
NON_WORDS = frozenset("""
    kyso CMS PDF XML RSA ECDSA DSA PSS PKCS SHA MD CRL OCSP TSA CA DN URI DocMDP CAdES
    PAdES XAdES edXML DSig RFC ETSI EN TS ISO bit Ed HSM PNG UTC ByteRange KeyInfo
    SignedInfo SignerInfo SignedData ContentInfo TimeStampResp TimeStampToken OID DER PEM
    QCVN TT BKHCN BTTTT NĐ CP QĐ TTg AIA OK JSON gRPC HTTP HTTPS ID CN O C VN PASSED FAILED
    INDETERMINATE UNSPECIFIED SAO Y TSR TLS LT byte
    UNAVAILABLE INTERNAL UNAUTHENTICATED UNKNOWN ABORTED CANCELLED UNIMPLEMENTED
""".split())  # the last line: gRPC status codes

_QUOTED = re.compile(r"`[^`]*`|\"[^\"]*\"|“[^”]*”|«[^»]*»")
_TOKEN = re.compile(r"[^\W_][\w.#+/'-]*|_\w+", re.UNICODE)
_DN = re.compile(r"(?<![\w])(?:CN|O|OU|C|L|ST|UID|serialNumber)=")

for _w in VI_ASCII:  # the allow-list itself must be Vietnamese-shaped
    assert _VI_SYLLABLE.match(_w), f"{_w!r} is not a Vietnamese syllable"


def _suspect(token: str) -> bool:
    t = token.strip(".-/'#+")
    letters = [c for c in t if c.isalpha()]
    if not letters or any(not c.isascii() for c in letters):
        return False  # a number, or a word with Vietnamese letters
    if any(c.isdigit() for c in t) or "_" in t:
        return False  # a code: SHA-256, H13, TRY_LATER, trust_anchor_files
    if re.search(r"[A-Za-z]\.[A-Za-z]", t):
        return False  # a file or host name
    for part in re.split(r"[-/#+']", t):
        if not part or len(part) == 1:
            continue
        if part in NON_WORDS or part.lower() in VI_ASCII:
            continue
        return True
    return False


def english_words(text: str, data: Iterable[str] = ()) -> list[str]:
    """The suspect words of ``text``, once ``data`` (proper names, file names) and quoted
    spans are taken out."""
    for d in sorted((d for d in data if d), key=len, reverse=True):
        text = text.replace(d, " ")
    text = _QUOTED.sub(" ", text)
    return [t for t in _TOKEN.findall(text) if _suspect(t)]


def has_dn(text: str) -> bool:
    """Whether ``text`` shows a distinguished name (``CN=…``, ``O=…``)."""
    return bool(_DN.search(text))


def dn_values(dn: str) -> list[str]:
    """The attribute values of an RFC 4514 string (``CN=a\\, b,O=c`` -> ``["a, b", "c"]``)."""
    out, cur, key, i = [], "", True, 0
    while i < len(dn):
        ch = dn[i]
        if ch == "\\" and i + 1 < len(dn):
            cur += dn[i + 1]
            i += 2
            continue
        if key and ch == "=":
            key, cur = False, ""
        elif not key and ch in ",+":
            out.append(cur)
            key, cur = True, ""
        elif not key:
            cur += ch
        i += 1
    if not key:
        out.append(cur)
    return [v.strip() for v in out if v.strip()]
