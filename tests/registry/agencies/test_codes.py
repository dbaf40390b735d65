from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.agencies.codes import CodeFormat, parse_code
from signer.errors import InvalidRequest

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("000.00.00.H13", 1, None),
        ("000.00.00.H49", 1, None),
        ("000.00.11.H53", 2, "000.00.00.H53"),
        ("000.00.04.G14", 2, "000.00.00.G14"),
        ("000.12.11.H53", 3, "000.00.11.H53"),
        ("001.12.11.H53", 4, "000.12.11.H53"),
    ],
)
def test_qcvn_levels_and_parents(code: str, level: int, parent: str | None) -> None:
    c = parse_code(code)
    assert (c.format, c.level, c.parent) == (CodeFormat.QCVN_102_2016, level, parent)


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [("H13", 1, None), ("H55.242", 2, "H55"), ("G12.01.A7", 3, "G12.01"), ("k57", 1, None)],
)
def test_decision_20_levels_and_parents(code: str, level: int, parent: str | None) -> None:
    c = parse_code(code)
    assert (c.format, c.level, c.parent) == (CodeFormat.DECISION_20_2020, level, parent)
    assert c.code == code.upper()


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("", "empty"),
        ("000.00.00.H1", "DDD.DD.DD.LNN"),
        ("00.00.00.H13", "DDD.DD.DD.LNN"),
        ("000.12.00.H13", "level 3 is set while level 2 is 00"),
        ("001.00.11.H13", "level 4 is set while level 3 is 00"),
        ("Z13", "letter A-Y"),
        ("H13..1", "group 2"),
        ("H13.1-2", "group 2"),
        ("H13." + "1" * 40, "at most 35"),
    ],
)
def test_malformed_codes_say_what_is_wrong(code: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        parse_code(code)
    assert fragment in exc.value.message


@given(st.text(max_size=40))
def test_parse_never_crashes(raw: str) -> None:
    try:
        c = parse_code(raw)
    except InvalidRequest:
        return
    assert c.level >= 1
    if c.parent is not None:
        assert parse_code(c.parent).level == c.level - 1
