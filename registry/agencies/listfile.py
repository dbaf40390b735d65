"""The official list of agency codes as a file (CSV or JSON): parsing and checking each
line for ``AgencyRegistry.import_list``, and writing ``export_list``'s file. No database
here: what the registry already holds is the lifecycle's concern."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from registry.agencies.codes import AgencyCode, parse_code
from registry.agencies.names import clean_name, control_character_problem
from registry.db.models import ACTIVE, CLOSED
from signer.errors import InvalidRequest

CSV_COLUMNS = ("code", "name", "parent_code", "valid_from")
CLOSED_COLUMNS = ("status", "valid_to", "successor_code")
FORMATS = ("csv", "json")


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Entry:
    line: int
    code: AgencyCode
    name: str
    valid_from: date | None
    closed: bool = False


@dataclass
class ParsedList:
    entries: list[Entry] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    codes: set[str] = field(default_factory=set)  # every well-formed code in the file


# OWASP CSV Injection: spreadsheets evaluate a cell that starts with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CSV_ESCAPE = "'"


def csv_cell(value: str) -> str:
    """A CSV cell no spreadsheet evaluates: ``'`` in front of a formula trigger, and
    in front of a leading ``'`` too, so that ``csv_value`` undoes it exactly."""
    return _CSV_ESCAPE + value if value.startswith((*_FORMULA_START, _CSV_ESCAPE)) else value


def csv_value(cell: str) -> str:
    """The value of an (exported or hand-written) CSV cell: one leading ``'`` dropped."""
    cell = cell.strip()
    return cell[1:] if cell.startswith(_CSV_ESCAPE) else cell


def check_format(fmt: str) -> str:
    f = (fmt or "csv").strip().lower()
    if f not in FORMATS:
        raise InvalidRequest(f"unknown format {fmt!r}: use csv or json")
    return f


def parse_list(content: bytes, fmt: str) -> ParsedList:
    f = check_format(fmt)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        return ParsedList(problems=[ImportProblem(line, "file", "not UTF-8 text")])
    records = _csv_records(text) if f == "csv" else _json_records(text)
    if isinstance(records, ImportProblem):
        return ParsedList(problems=[records])
    out = ParsedList()
    seen: dict[str, int] = {}
    for line, rec in records:
        if isinstance(rec, str):
            out.problems.append(ImportProblem(line, "record", rec))
            continue
        out.entries += _entry(line, rec, seen, out)
    return out


def _entry(line: int, rec: Mapping[str, Any], seen: dict[str, int], out: ParsedList) -> list[Entry]:
    problems = out.problems
    before = len(problems)
    for key in rec:
        if key not in CSV_COLUMNS + CLOSED_COLUMNS:
            problems.append(ImportProblem(line, str(key), "unknown field"))

    def text(key: str) -> str:
        v = rec.get(key)
        if v is None:
            return ""
        if not isinstance(v, str):
            problems.append(ImportProblem(line, key, f"must be a string, not {type(v).__name__}"))
            return ""
        return v.strip()

    code: AgencyCode | None = None
    raw = text("code")
    if not raw:
        problems.append(ImportProblem(line, "code", "missing"))
    else:
        try:
            code = parse_code(raw)
        except InvalidRequest as exc:
            problems.append(ImportProblem(line, "code", exc.message))
    name = clean_name(text("name"))
    if not name:
        problems.append(ImportProblem(line, "name", "empty: give the body's official name"))
    elif problem := control_character_problem(name):
        problems.append(ImportProblem(line, "name", f"{name!r} {problem}"))
    parent = text("parent_code")
    if code is not None and parent:
        try:
            given = parse_code(parent).code
        except InvalidRequest as exc:
            problems.append(ImportProblem(line, "parent_code", exc.message))
        else:
            if given != code.parent:
                implied = code.parent or "none (a level-1 code)"
                problems.append(ImportProblem(
                    line, "parent_code",
                    f"{given} is not the parent of {code.code}: the code implies {implied}"))
    valid_from: date | None = None
    if vf := text("valid_from"):
        try:
            valid_from = date.fromisoformat(vf)
        except ValueError:
            problems.append(ImportProblem(line, "valid_from", f"{vf!r} is not a YYYY-MM-DD date"))
    status = text("status").lower() or ACTIVE
    if status not in (ACTIVE, CLOSED):
        problems.append(ImportProblem(line, "status", f"{status!r}: use active or closed"))
    if code is not None:
        out.codes.add(code.code)
        if code.code in seen:
            problems.append(ImportProblem(
                line, "code", f"{code.code} appears twice: first on line {seen[code.code]}"))
            return []
        seen[code.code] = line
    if code is None or len(problems) > before:
        return []
    return [Entry(line, code, name, valid_from, closed=status == CLOSED)]


Records = list[tuple[int, dict[str, Any] | str]]  # (line, fields or what is wrong)


def _csv_records(text: str) -> Records | ImportProblem:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return ImportProblem(1, "file", "empty: expected a header line code,name[,...]")
    except csv.Error as exc:
        return ImportProblem(1, "file", f"not CSV: {exc}")
    cols = [h.strip().lower() for h in header]
    allowed = CSV_COLUMNS + CLOSED_COLUMNS
    unknown = [c for c in cols if c not in allowed]
    if unknown or "code" not in cols or "name" not in cols or len(set(cols)) != len(cols):
        return ImportProblem(
            1, "header",
            f"columns are {','.join(cols)}; expected code,name and optionally "
            "parent_code,valid_from (and status,valid_to,successor_code from an export)")
    out: Records = []
    start = 2
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(cols):
                out.append((line, f"{len(row)} fields where the header has {len(cols)}"))
                continue
            out.append((line, dict(zip(cols, map(csv_value, row), strict=True))))
    except csv.Error as exc:
        return ImportProblem(start, "file", f"not CSV: {exc}")
    return out


def _json_records(text: str) -> Records | ImportProblem:
    dec = json.JSONDecoder()
    i = _skip_ws(text, 0)
    if i >= len(text) or text[i] != "[":
        return ImportProblem(text.count("\n", 0, i) + 1, "file",
                             "expected a JSON array of {code, name, ...} objects")
    i = _skip_ws(text, i + 1)
    out: Records = []
    if i < len(text) and text[i] == "]":
        return out
    while True:
        line = text.count("\n", 0, i) + 1
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            return ImportProblem(exc.lineno, "file", f"not JSON: {exc.msg}")
        out.append((line, obj if isinstance(obj, dict) else "not a JSON object"))
        i = _skip_ws(text, i)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
            continue
        if i < len(text) and text[i] == "]":
            break
        return ImportProblem(text.count("\n", 0, i) + 1, "file",
                             "not JSON: expected ',' or ']' after an object")
    return out


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def write_list(records: Sequence[Mapping[str, str]], fmt: str, columns: Sequence[str]) -> bytes:
    """``records`` as an export file: JSON, or CSV with every cell made inert for
    spreadsheets (``csv_cell``)."""
    if check_format(fmt) == "json":
        return (json.dumps(list(records), ensure_ascii=False, indent=2) + "\n").encode()
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows({k: csv_cell(v) for k, v in rec.items()} for rec in records)
    return buf.getvalue().encode()
