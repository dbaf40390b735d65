"""The agency-code registry: lifecycle, history, subtrees, bulk import and export.

Data model
----------
``agencies`` holds the **current state**, one row per code ever issued: name,
format, level, parent, ``status`` (``active`` | ``closed``), ``valid_from``,
``valid_to`` (exclusive: the day the code stopped denoting its body) and
``successor_code``. A closed code keeps its row forever, so the unique ``code``
column is also the guarantee that a closed code is never reused (docs/domain.md:
"a closed code is never reused for a different body").

``agency_events`` is the append-only history from which "what did code X
denote on date D" is answered: ``create``, ``rename``, ``move``, ``merge``,
``split``, ``close``, each with an ``effective`` date, old/new name, old/new
parent and the related codes.

Lifecycle semantics
-------------------
* **create** — a new code, in force from ``valid_from`` (default today). Its
  parent must be registered and active, as in a list import (so every export
  imports again); ``require_parent=False`` is for tests and tools that build a
  partial tree on purpose.
* **rename** — same code, same body, new name from ``effective``.
* **move** — in both formats the parent is *implied by the code itself*
  (QCVN ``000.00.11.H53`` lies under ``000.00.00.H53``; Decision 20
  ``H55.242`` under ``H55``), so a unit cannot change parent and keep its
  code. A move is therefore a **re-issue**: the old code is closed with the
  new code as its successor (event ``move`` on the old code), and the new code
  is created under the new parent (event ``create``, related to the old code).
* **merge** — codes ``A, B`` merge into ``C`` (existing, as Cần Thơ H13 kept
  its code in July 2025, or new and created now). ``A`` and ``B`` are closed
  with successor ``C`` (event ``merge`` on each, and one on ``C`` listing what
  it absorbed). Active sub-units of a closed code must be re-issued in the
  same call (``reissue``: old → new code under the successor) — a merge never
  leaves orphans behind.
* **split** — one code closes and several new codes are created from it; the
  closed code has no single successor: ``successor_code`` stays empty and the
  parts are listed in the event's ``related_codes``.
* **close** — the code stops, optionally with a successor (dissolved into).
* Effective dates must not lie in the future (the current-state table would
  otherwise say something that is not yet true) nor before the code's last
  event (history is appended, never rewritten).

History
-------
``history(code, on=D)`` gives the name the code carried on ``D`` (``None``
when it was not yet issued), whether it was in force that day, and its
**successors today**: following ``successor_code`` (and split parts) until
active codes are reached. A signature made under a closed code therefore
stays attributed to the body the code denoted when it was made, and the body
that answers for it today is findable.

Children and subtrees
---------------------
Children are rows whose ``parent_code`` is the code. Subtrees use the format's
own rule: QCVN codes are fixed-width and read right to left, so the subtree of
``000.00.11.H53`` is every QCVN code ending in ``.11.H53`` (other than itself);
Decision 20 codes grow left to right, so the subtree of ``H55`` is every code
starting with ``H55.``. Active codes only, unless closed ones are asked for.

Import and export (the official list)
-------------------------------------
CSV: UTF-8 (a byte-order mark is tolerated), a header line, columns
``code,name`` required and ``parent_code,valid_from`` optional (``valid_from``
as ``YYYY-MM-DD``); export with closed codes adds ``status,valid_to,
successor_code``, which import accepts only as a description of codes already
closed here (import never closes a code: closing is an explicit decision).
``parent_code``, when given, must be the parent the code implies.
JSON: an array of objects with the same keys. Names are stored NFC-normalised.

Names never hold control characters: C0 and C1 controls (tab and line breaks
included), DEL, the Unicode line and paragraph separators and the bidi
embedding/override/isolate controls are refused on every path that stores a
name (create, rename, move, merge, split, import), after surrounding whitespace
is stripped. They would rewrite an operator's terminal, forge lines in logs and
reports, or make one name display as another.

CSV export is safe to open in a spreadsheet (OWASP "CSV Injection"): a cell that
starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return, or with ``'``, is
written with one more ``'`` in front, which spreadsheets show as text; CSV
import drops exactly one leading ``'`` from every cell, so an export imports
back to the same names, including names that start with ``'``. (A hand-written
file that means a leading apostrophe must therefore write two.) JSON is
exported and imported as it is.

Everything is validated before anything is written, and every problem is
reported as ``ImportProblem(line, field, reason)``: for CSV ``line`` is the
physical line of the record (the header is line 1), for JSON the line on which
the object starts. One problem means nothing is written. A file's rows become:
``create`` (unknown code), ``rename`` (active code, other name; effective
``valid_from`` or today) or ``unchanged``. Codes registered here but absent
from the file are left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from registry.agencies.codes import AgencyCode, CodeFormat, parse_code
from registry.agencies.listfile import (
    CLOSED_COLUMNS,
    CSV_COLUMNS,
    ImportProblem,
    ParsedList,
    parse_list,
    write_list,
)
from registry.agencies.names import checked_name
from registry.db.models import ACTIVE, CLOSED, AgencyEventRow, AgencyRow
from registry.db.store import successors_of, translate_sql_errors, unregistered
from signer.errors import AlreadyExists, InvalidRequest, NotFound, NotUsable

log = logging.getLogger(__name__)

EVENT_KINDS = ("create", "rename", "move", "merge", "split", "close")


# -- records ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgencyState:
    """An agency code's current state."""

    code: str
    name: str
    format: str
    level: int
    parent_code: str | None
    status: str
    valid_from: date | None
    valid_to: date | None
    successor_code: str | None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass(frozen=True, slots=True)
class AgencyEvent:
    code: str
    kind: str
    effective: date
    old_name: str | None
    new_name: str | None
    old_parent: str | None
    new_parent: str | None
    related_codes: tuple[str, ...]
    note: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class AgencyHistory:
    """What a code denoted on ``on`` and who answers for it today."""

    agency: AgencyState
    on: date
    name_on_date: str | None  # None: the code was not yet issued on that date
    in_force_on_date: bool
    successors: tuple[str, ...]  # today's active bodies; (code,) while it is active
    events: tuple[AgencyEvent, ...]


@dataclass(frozen=True, slots=True)
class Rename:
    code: str
    old_name: str
    new_name: str


@dataclass(frozen=True, slots=True)
class ImportPlan:
    create: tuple[AgencyState, ...] = ()
    rename: tuple[Rename, ...] = ()
    unchanged: tuple[str, ...] = ()
    problems: tuple[ImportProblem, ...] = ()
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def _state(row: AgencyRow) -> AgencyState:
    return AgencyState(
        code=row.code,
        name=row.name,
        format=row.format,
        level=row.level,
        parent_code=row.parent_code,
        status=row.status,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        successor_code=row.successor_code,
    )


def _event(row: AgencyEventRow) -> AgencyEvent:
    at = row.recorded_at
    return AgencyEvent(
        code=row.code,
        kind=row.kind,
        effective=row.effective,
        old_name=row.old_name,
        new_name=row.new_name,
        old_parent=row.old_parent,
        new_parent=row.new_parent,
        related_codes=tuple(row.related_codes or ()),
        note=row.note,
        recorded_at=at if at.tzinfo else at.replace(tzinfo=UTC),
    )


def closed_message(row: AgencyRow) -> str:
    succ = f", its successor is {row.successor_code}" if row.successor_code else ""
    return (
        f"agency code {row.code} was closed on {row.valid_to}{succ}; a closed code is "
        "never reused for another body: issue a new code"
    )


# -- the registry -------------------------------------------------------------


class AgencyRegistry:
    """Agency lifecycle over the registry database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, *, today: date | None = None) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._today = today  # fixed "today" for tests; None: the real date

    def today(self) -> date:
        return self._today or datetime.now(UTC).date()

    # -- lifecycle ------------------------------------------------------------

    def create(
        self,
        code: AgencyCode | str,
        name: str,
        *,
        valid_from: date | None = None,
        require_parent: bool = True,
        note: str = "",
    ) -> AgencyState:
        parsed = code if isinstance(code, AgencyCode) else parse_code(code)
        with self._session("creating an agency") as s:
            row = self._create(s, parsed, name, valid_from or self.today(), require_parent, note)
            return _state(row)

    def rename(self, code: str, name: str, *, effective: date, note: str = "") -> AgencyState:
        new = self._name(name)
        with self._session("renaming an agency") as s:
            row = self._active_row(s, code)
            self._check_date(s, row, effective)
            if row.name == new:
                raise InvalidRequest(f"agency {row.code} is already named {new!r}")
            self._record(s, row.code, "rename", effective, old_name=row.name, new_name=new,
                         note=note)
            row.name = new
            return _state(row)

    def move(
        self, code: str, new_code: str, *, effective: date, name: str | None = None,
        note: str = "",
    ) -> AgencyState:
        """Re-issue ``code`` as ``new_code`` (under another parent); returns the new code."""
        with self._session("moving an agency") as s:
            row = self._move(s, code, new_code, effective, name, note)
            return _state(row)

    def merge(
        self,
        codes: Sequence[str],
        into: str,
        *,
        effective: date,
        name: str | None = None,
        reissue: Mapping[str, str] | None = None,
        note: str = "",
    ) -> AgencyState:
        """Close ``codes`` into ``into`` (created when new: then ``name`` is required;
        renamed when it exists and ``name`` differs). Active sub-units of the closed
        codes must be re-issued through ``reissue`` (old code → new code)."""
        target = parse_code(into)
        sources = [parse_code(c) for c in codes]
        if not sources:
            raise InvalidRequest("merge needs at least one code to close into the successor")
        if len({c.code for c in sources}) != len(sources):
            raise InvalidRequest("merge lists a code twice")
        if target.code in {c.code for c in sources}:
            raise InvalidRequest(f"{target.code} cannot be merged into itself")
        with self._session("merging agencies") as s:
            rows = [self._active_row(s, c.code) for c in sources]
            for r in rows:
                if r.format != target.format.value or r.level != target.level:
                    raise InvalidRequest(
                        f"{r.code} (level {r.level}) cannot merge into {target.code} "
                        f"(level {target.level}): merged codes must have the same format and "
                        "level; re-issue it with move instead"
                    )
                self._check_date(s, r, effective)
            existing = s.scalar(select(AgencyRow).where(AgencyRow.code == target.code))
            if existing is None:
                if not name:
                    raise InvalidRequest(
                        f"{target.code} is not registered: give the merged body's name to "
                        "create it"
                    )
                successor = self._create(s, target, name, effective, True, note)
            else:
                if existing.status != ACTIVE:
                    raise NotUsable(closed_message(existing))
                successor = existing
                # The successor only gains an "absorbed" event, which may predate its
                # registration here (a registry set up after the fact); renaming it is
                # a change of its own and must follow its history.
                if name and self._name(name) != existing.name:
                    self._check_date(s, existing, effective)
                    self._record(s, existing.code, "rename", effective,
                                 old_name=existing.name, new_name=self._name(name), note=note)
                    existing.name = self._name(name)
            self._reissue(s, [r.code for r in rows], dict(reissue or {}), effective, note)
            for r in rows:
                self._close(s, r, "merge", effective, successor.code, (successor.code,), note)
            self._record(s, successor.code, "merge", effective, new_name=successor.name,
                         related=[r.code for r in rows], note=note or "absorbed")
            return _state(successor)

    def split(
        self,
        code: str,
        parts: Sequence[tuple[str, str]],
        *,
        effective: date,
        reissue: Mapping[str, str] | None = None,
        note: str = "",
    ) -> list[AgencyState]:
        """Close ``code`` and create ``parts`` (code, name) from it."""
        if len(parts) < 2:
            raise InvalidRequest("a split needs at least two new codes (CODE:NAME)")
        parsed = [parse_code(c) for c, _ in parts]
        if len({p.code for p in parsed}) != len(parsed):
            raise InvalidRequest("split lists a new code twice")
        with self._session("splitting an agency") as s:
            row = self._active_row(s, code)
            self._check_date(s, row, effective)
            created = [
                self._create(s, p, n, effective, True, note or f"split from {row.code}",
                             related=(row.code,))
                for p, (_, n) in zip(parsed, parts, strict=True)
            ]
            self._reissue(s, [row.code], dict(reissue or {}), effective, note)
            self._close(s, row, "split", effective, None, tuple(c.code for c in created), note)
            return [_state(c) for c in created]

    def close(
        self, code: str, *, effective: date, successor: str | None = None,
        reissue: Mapping[str, str] | None = None, note: str = "",
    ) -> AgencyState:
        with self._session("closing an agency") as s:
            row = self._active_row(s, code)
            self._check_date(s, row, effective)
            succ: str | None = None
            if successor:
                succ = self._active_row(s, successor).code
                if succ == row.code:
                    raise InvalidRequest(f"{row.code} cannot be its own successor")
            self._reissue(s, [row.code], dict(reissue or {}), effective, note)
            self._close(s, row, "close", effective, succ, (succ,) if succ else (), note)
            return _state(row)

    # -- queries --------------------------------------------------------------

    def get(self, code: str) -> AgencyState:
        with self._session("reading an agency") as s:
            return _state(self._row(s, code))

    def children(self, code: str, *, include_closed: bool = False) -> list[AgencyState]:
        parsed = parse_code(code)
        with self._session("listing child agencies") as s:
            self._row(s, parsed.code)
            q = select(AgencyRow).where(AgencyRow.parent_code == parsed.code)
            if not include_closed:
                q = q.where(AgencyRow.status == ACTIVE)
            return [_state(r) for r in s.scalars(q.order_by(AgencyRow.code))]

    def subtree(self, code: str, *, include_closed: bool = False) -> list[AgencyState]:
        """Every code below ``code`` (not ``code`` itself), by the format's own rule."""
        parsed = parse_code(code)
        with self._session("listing a subtree") as s:
            self._row(s, parsed.code)
            q = select(AgencyRow).where(
                AgencyRow.format == parsed.format.value,
                AgencyRow.level > parsed.level,
                AgencyRow.code.like(_subtree_pattern(parsed)),
            )
            if not include_closed:
                q = q.where(AgencyRow.status == ACTIVE)
            return [_state(r) for r in s.scalars(q.order_by(AgencyRow.level, AgencyRow.code))]

    def list_all(self, *, include_closed: bool = False) -> list[AgencyState]:
        with self._session("listing agencies") as s:
            q = select(AgencyRow)
            if not include_closed:
                q = q.where(AgencyRow.status == ACTIVE)
            return [_state(r) for r in s.scalars(q.order_by(AgencyRow.code))]

    def events(self, code: str) -> list[AgencyEvent]:
        with self._session("reading agency history") as s:
            return [_event(e) for e in self._events(s, parse_code(code).code)]

    def name_on(self, code: str, on: date) -> str | None:
        """The name ``code`` carried on ``on``; ``None`` if it was not issued yet.
        After its closing date a code keeps the last name it had."""
        return self.history(code, on=on).name_on_date

    def successors(self, code: str) -> tuple[str, ...]:
        """The active codes answering for ``code`` today (``(code,)`` while it is active)."""
        with self._session("resolving successors") as s:
            return successors_of(s, self._row(s, code))

    def history(self, code: str, *, on: date | None = None) -> AgencyHistory:
        day = on or self.today()
        with self._session("reading agency history") as s:
            row = self._row(s, code)
            events = [_event(e) for e in self._events(s, row.code)]
            name: str | None = None
            for e in events:
                if e.effective > day:
                    break
                if e.kind in ("create", "rename") and e.new_name:
                    name = e.new_name
            if name is None and not events and row.valid_from and row.valid_from <= day:
                name = row.name  # no history recorded (should not happen after 0003)
            started = row.valid_from is None or row.valid_from <= day
            in_force = started and (row.valid_to is None or day < row.valid_to)
            return AgencyHistory(
                agency=_state(row),
                on=day,
                name_on_date=name if started else None,
                in_force_on_date=in_force,
                successors=successors_of(s, row),
                events=tuple(events),
            )

    # -- import and export ------------------------------------------------------

    def import_list(
        self, content: bytes, fmt: str = "csv", *, dry_run: bool = False
    ) -> ImportPlan:
        """Validate the whole file, then (unless ``dry_run``) apply it in one
        transaction. With any problem nothing is written and the plan lists them."""
        parsed = parse_list(content, fmt)
        with self._session("importing agencies") as s:
            plan = self._plan(s, parsed)
            if not plan.ok or dry_run:
                return plan
            today = self.today()
            by_code = {e.code.code: e for e in parsed.entries}
            for a in sorted(plan.create, key=lambda a: (a.level, a.code)):
                e = by_code[a.code]
                self._create(s, e.code, e.name, e.valid_from or today, True, "imported")
            for r in plan.rename:
                row = self._active_row(s, r.code)
                eff = by_code[r.code].valid_from or today
                self._check_date(s, row, eff)
                self._record(s, r.code, "rename", eff, old_name=r.old_name,
                             new_name=r.new_name, note="imported")
                row.name = r.new_name
            log.info("imported agencies: %d created, %d renamed, %d unchanged",
                     len(plan.create), len(plan.rename), len(plan.unchanged))
            return ImportPlan(plan.create, plan.rename, plan.unchanged, (), applied=True)

    def export_list(self, fmt: str = "csv", *, include_closed: bool = False) -> bytes:
        rows = self.list_all(include_closed=include_closed)
        cols = CSV_COLUMNS + (CLOSED_COLUMNS if include_closed else ())
        records = []
        for a in rows:
            rec: dict[str, str] = {
                "code": a.code,
                "name": a.name,
                "parent_code": a.parent_code or "",
                "valid_from": a.valid_from.isoformat() if a.valid_from else "",
            }
            if include_closed:
                rec["status"] = a.status
                rec["valid_to"] = a.valid_to.isoformat() if a.valid_to else ""
                rec["successor_code"] = a.successor_code or ""
            records.append(rec)
        return write_list(records, fmt, cols)

    # -- internals --------------------------------------------------------------

    def _plan(self, s: Session, parsed: ParsedList) -> ImportPlan:
        problems = list(parsed.problems)
        codes = [e.code.code for e in parsed.entries]
        db = {
            r.code: r
            for chunk in _chunks(sorted(set(codes)), 500)
            for r in s.scalars(select(AgencyRow).where(AgencyRow.code.in_(chunk)))
        }
        in_file = parsed.codes
        parents = {e.code.parent for e in parsed.entries if e.code.parent} - set(db)
        for chunk in _chunks(sorted(parents), 500):
            for r in s.scalars(select(AgencyRow).where(AgencyRow.code.in_(chunk))):
                db[r.code] = r
        create: list[AgencyState] = []
        rename: list[Rename] = []
        unchanged: list[str] = []
        today = self.today()
        for e in parsed.entries:
            c = e.code
            row = db.get(c.code)
            if e.valid_from is not None and e.valid_from > today:
                problems.append(ImportProblem(e.line, "valid_from",
                                              f"{e.valid_from} is in the future"))
            if e.closed:
                if row is None or row.status != CLOSED:
                    problems.append(ImportProblem(
                        e.line, "status", f"{c.code} is not closed here: import never closes "
                        "a code; use `kyso admin agency close` or `merge`"))
                else:
                    unchanged.append(c.code)
                continue
            if row is not None and row.status == CLOSED:
                problems.append(ImportProblem(e.line, "code", closed_message(row)))
                continue
            if c.parent is not None:
                prow = db.get(c.parent)
                if prow is None and c.parent not in in_file:
                    problems.append(ImportProblem(
                        e.line, "parent_code",
                        f"parent {c.parent} is neither registered nor in this file"))
                elif prow is not None and prow.status != ACTIVE:
                    problems.append(ImportProblem(e.line, "parent_code", closed_message(prow)))
            if row is None:
                create.append(AgencyState(c.code, e.name, c.format.value, c.level, c.parent,
                                          ACTIVE, e.valid_from or today, None, None))
            elif row.name != e.name:
                if e.valid_from is not None and row.valid_from and e.valid_from < row.valid_from:
                    problems.append(ImportProblem(
                        e.line, "valid_from",
                        f"a rename of {c.code} cannot take effect before the code was issued "
                        f"({row.valid_from})"))
                rename.append(Rename(c.code, row.name, e.name))
            else:
                unchanged.append(c.code)
        problems.sort(key=lambda p: p.line)
        return ImportPlan(tuple(create), tuple(rename), tuple(unchanged), tuple(problems))

    def _create(
        self, s: Session, parsed: AgencyCode, name: str, valid_from: date,
        require_parent: bool, note: str, related: tuple[str, ...] = (),
    ) -> AgencyRow:
        clean = self._name(name)
        if valid_from > self.today():
            raise InvalidRequest(
                f"valid_from {valid_from} is in the future: register the code on or after "
                "the day it takes effect"
            )
        existing = s.scalar(select(AgencyRow).where(AgencyRow.code == parsed.code))
        if existing is not None:
            if existing.status == CLOSED:
                raise AlreadyExists(closed_message(existing))
            raise AlreadyExists(f"agency {parsed.code} already exists")
        if parsed.parent is not None:
            parent = s.scalar(select(AgencyRow).where(AgencyRow.code == parsed.parent))
            if parent is not None and parent.status != ACTIVE:
                raise NotUsable(f"cannot issue {parsed.code} under {parent.code}: "
                                + closed_message(parent))
            if parent is None and require_parent:
                raise NotFound(
                    f"the parent of {parsed.code}, {parsed.parent}, is not registered: "
                    f"register it first (`kyso admin agency add {parsed.parent} --name ...`), "
                    "or import a list holding both"
                )
        row = AgencyRow(
            code=parsed.code,
            name=clean,
            format=parsed.format.value,
            level=parsed.level,
            parent_code=parsed.parent,
            created_at=datetime.now(UTC),
            status=ACTIVE,
            valid_from=valid_from,
            valid_to=None,
            successor_code=None,
        )
        s.add(row)
        self._record(s, parsed.code, "create", valid_from, new_name=clean,
                     new_parent=parsed.parent, related=list(related), note=note)
        s.flush()
        return row

    def _move(
        self, s: Session, code: str, new_code: str, effective: date, name: str | None,
        note: str,
    ) -> AgencyRow:
        row = self._active_row(s, code)
        target = parse_code(new_code)
        if target.format.value != row.format:
            raise InvalidRequest(
                f"{row.code} and {target.code} are in different code formats: a move "
                "re-issues a code in its own format"
            )
        if target.code == row.code:
            raise InvalidRequest(f"{row.code} is already that code")
        self._check_date(s, row, effective)
        created = self._create(s, target, name or row.name, effective, True,
                               note or f"re-issued from {row.code}", related=(row.code,))
        self._close(s, row, "move", effective, created.code, (created.code,), note,
                    new_parent=target.parent)
        return created

    def _reissue(
        self, s: Session, closing: list[str], reissue: dict[str, str], effective: date,
        note: str,
    ) -> None:
        """Move every active descendant of the ``closing`` codes as ``reissue`` says;
        a descendant left out is an error (a closed code leaves no orphans)."""
        wanted: list[AgencyRow] = []
        for code in closing:
            parsed = parse_code(code)
            wanted += s.scalars(
                select(AgencyRow).where(
                    AgencyRow.format == parsed.format.value,
                    AgencyRow.level > parsed.level,
                    AgencyRow.code.like(_subtree_pattern(parsed)),
                    AgencyRow.status == ACTIVE,
                ).order_by(AgencyRow.level, AgencyRow.code)
            ).all()
        norm = {parse_code(k).code: parse_code(v).code for k, v in reissue.items()}
        missing = [r.code for r in wanted if r.code not in norm]
        if missing:
            raise NotUsable(
                f"{', '.join(closing)} still has active sub-units {', '.join(missing)}: "
                "re-issue each under the successor (reissue OLD=NEW) or close it first"
            )
        extra = set(norm) - {r.code for r in wanted}
        if extra:
            raise InvalidRequest(
                f"reissue names {', '.join(sorted(extra))}, which is not an active sub-unit "
                f"of {', '.join(closing)}"
            )
        for r in wanted:  # parents before children: a re-issued parent exists in time
            self._move(s, r.code, norm[r.code], effective, None, note)

    def _close(
        self, s: Session, row: AgencyRow, kind: str, effective: date, successor: str | None,
        related: tuple[str, ...], note: str, new_parent: str | None = None,
    ) -> None:
        row.status = CLOSED
        row.valid_to = effective
        row.successor_code = successor
        self._record(s, row.code, kind, effective, old_name=row.name, old_parent=row.parent_code,
                     new_parent=new_parent, related=list(related), note=note)
        s.flush()

    def _record(
        self, s: Session, code: str, kind: str, effective: date, *,
        old_name: str | None = None, new_name: str | None = None,
        old_parent: str | None = None, new_parent: str | None = None,
        related: Iterable[str] = (), note: str = "",
    ) -> None:
        assert kind in EVENT_KINDS
        s.add(AgencyEventRow(
            code=code, kind=kind, effective=effective, old_name=old_name, new_name=new_name,
            old_parent=old_parent, new_parent=new_parent, related_codes=list(related),
            note=note, recorded_at=datetime.now(UTC),
        ))

    def _check_date(self, s: Session, row: AgencyRow, effective: date) -> None:
        if effective > self.today():
            raise InvalidRequest(
                f"effective date {effective} is in the future: record the change on or "
                "after the day it takes effect"
            )
        last = s.scalar(
            select(AgencyEventRow.effective)
            .where(AgencyEventRow.code == row.code)
            .order_by(AgencyEventRow.effective.desc())
            .limit(1)
        )
        floor = max(d for d in (last, row.valid_from, date.min) if d is not None)
        if effective < floor:
            raise InvalidRequest(
                f"effective date {effective} is before {row.code}'s last recorded change "
                f"({floor}): history is appended in order, never rewritten"
            )

    def _events(self, s: Session, code: str) -> list[AgencyEventRow]:
        return list(s.scalars(
            select(AgencyEventRow)
            .where(AgencyEventRow.code == code)
            .order_by(AgencyEventRow.effective, AgencyEventRow.id)
        ))

    def _row(self, s: Session, code: str) -> AgencyRow:
        parsed = parse_code(code)
        row = s.scalar(select(AgencyRow).where(AgencyRow.code == parsed.code))
        if row is None:
            raise unregistered(parsed.code)
        return row

    def _active_row(self, s: Session, code: str) -> AgencyRow:
        row = self._row(s, code)
        if row.status != ACTIVE:
            succ = f" (successor: {row.successor_code})" if row.successor_code else ""
            raise NotUsable(
                f"agency code {row.code} was closed on {row.valid_to}{succ}: a closed code "
                "cannot change any more"
            )
        return row

    @staticmethod
    def _name(name: str) -> str:
        return checked_name(name)

    @contextmanager
    def _session(self, doing: str) -> Iterator[Session]:
        with translate_sql_errors(doing), self._sessions.begin() as s:
            yield s


# -- helpers ------------------------------------------------------------------


def _subtree_pattern(parsed: AgencyCode) -> str:
    """A LIKE pattern for the codes below ``parsed`` (codes hold no ``%`` or ``_``)."""
    if parsed.format is CodeFormat.DECISION_20_2020:
        return parsed.code + ".%"
    # QCVN is fixed-width and read right to left: keep the used levels as a suffix.
    groups = parsed.code.split(".")  # [l4, l3, l2, l1]
    return "%." + ".".join(groups[4 - parsed.level:])


def _chunks(items: list[str], n: int) -> Iterator[list[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


