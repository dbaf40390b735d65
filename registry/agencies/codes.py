"""Agency identifier codes ("mã định danh"), in both formats in use (docs/domain.md).

* QCVN 102:2016/BTTTT: ``DDD.DD.DD.LNN``, read right to left: level 1 is ``LNN``
  (a letter and two digits), then level 2 ``DD``, level 3 ``DD``, level 4 ``DDD``.
  Zeros mean "level unused"; a used level below an unused one is malformed.
* Decision 20/2020/QĐ-TTg (amended by 09/2025): at most 35 characters of
  ``[0-9A-Z.]``, dot-separated groups growing left to right, the first group the
  level-1 code ``LNN`` (letter A–Y and two digits).

The two cannot be confused: a QCVN code starts with three digits, a Decision 20
code with a letter.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from signer.errors import InvalidRequest


class CodeFormat(enum.Enum):
    QCVN_102_2016 = "qcvn-102-2016"
    DECISION_20_2020 = "decision-20-2020"


# ASCII only (re.ASCII: "\d" would also match full-width and Arabic-Indic digits, and
# look-alike twins of real codes could be registered); level-1 letters run A to Y.
_QCVN = re.compile(r"^([0-9]{3})\.([0-9]{2})\.([0-9]{2})\.([A-Y][0-9]{2})$", re.ASCII)
_D20_LEVEL1 = re.compile(r"^[A-Y][0-9]{2}$", re.ASCII)
_D20_GROUP = re.compile(r"^[0-9A-Z]+$", re.ASCII)
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$", re.ASCII)
D20_MAX_LEN = 35


@dataclass(frozen=True, slots=True)
class AgencyCode:
    code: str
    format: CodeFormat
    level: int
    parent: str | None  # the code one level up; None at level 1

    def __str__(self) -> str:
        return self.code


def parse_code(raw: str) -> AgencyCode:
    """Validate an agency code and derive its level and parent.

    Raises ``InvalidRequest`` with a message saying what is wrong and what a
    valid code looks like.
    """
    code = raw.strip()
    if not code:
        raise InvalidRequest("agency code is empty: give a code such as 000.00.00.H13 or H13.12")
    if not _PRINTABLE_ASCII.match(code):
        # before upper(): "ſ".upper() is "S", and "１３" would pass for "13"
        bad = next(ch for ch in code if not ("!" <= ch <= "~"))
        raise InvalidRequest(
            f"agency code {raw!r} contains {bad!r} (U+{ord(bad):04X}): a code is written "
            "with the ASCII digits 0-9, the letters A-Z and dots only")
    code = code.upper()
    if code[0].isdigit():
        return _parse_qcvn(code, raw)
    return _parse_d20(code, raw)


def _parse_qcvn(code: str, raw: str) -> AgencyCode:
    m = _QCVN.match(code)
    if not m:
        raise InvalidRequest(
            f"agency code {raw!r} is malformed: a QCVN 102:2016 code is DDD.DD.DD.LNN "
            "(three digits, two, two, then a letter A-Y and two digits), e.g. 000.00.00.H13"
        )
    l4, l3, l2, l1 = m.groups()
    used = [int(l2) != 0, int(l3) != 0, int(l4) != 0]  # levels 2, 3, 4
    level = 1
    for i, is_used in enumerate(used):
        if is_used:
            if level != i + 1:
                raise InvalidRequest(
                    f"agency code {raw!r} is malformed: level {i + 2} is set while level "
                    f"{level + 1} is 00; a lower level needs every level above it"
                )
            level = i + 2
    parent: str | None
    if level == 1:
        parent = None
    elif level == 2:
        parent = f"000.00.00.{l1}"
    elif level == 3:
        parent = f"000.00.{l2}.{l1}"
    else:
        parent = f"000.{l3}.{l2}.{l1}"
    return AgencyCode(code, CodeFormat.QCVN_102_2016, level, parent)


def _parse_d20(code: str, raw: str) -> AgencyCode:
    if len(code) > D20_MAX_LEN:
        raise InvalidRequest(
            f"agency code {raw!r} is {len(code)} characters long: a Decision 20/2020 code "
            f"has at most {D20_MAX_LEN}"
        )
    groups = code.split(".")
    if not _D20_LEVEL1.match(groups[0]):
        raise InvalidRequest(
            f"agency code {raw!r} is malformed: a Decision 20/2020 code starts with the "
            "level-1 code, a letter A-Y and two digits (e.g. H13 or H55.242); a QCVN "
            "102:2016 code looks like 000.00.00.H13"
        )
    for i, g in enumerate(groups[1:], start=2):
        if not _D20_GROUP.match(g):
            raise InvalidRequest(
                f"agency code {raw!r} is malformed: group {i} ({g!r}) must be one or more "
                "characters of 0-9 and A-Z, groups separated by single dots"
            )
    parent = ".".join(groups[:-1]) if len(groups) > 1 else None
    return AgencyCode(code, CodeFormat.DECISION_20_2020, len(groups), parent)
