"""Monthly statistics: signatures per agency and document type, and timestamps.

Months are Vietnam calendar months (UTC+07:00), as provinces report them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from registry.agencies.codes import parse_code
from registry.auth import Grant, Role
from registry.db.models import AgencyRow
from registry.db.records import SignatureRecordRow
from registry.db.tsa import TsaTokenRow
from signer.doctypes import LOAD_TEST
from signer.errors import InvalidRequest, StoreUnavailable

VN = timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True, slots=True)
class ReportRow:
    agency_code: str
    agency_name: str
    document_type: str
    signatures: int
    timestamped: int


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    month: str
    rows: list[ReportRow]
    signatures: int
    timestamps: int
    load_test_signatures: int = 0  # kyso bench: in no row, not in ``signatures``


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first instant of the Vietnam month and of the next, in UTC: the zone times are
    stored in. (SQLite compares stored times as text, so a bound at +07:00 would put the
    first seven hours of a Vietnam month into the month before.)"""
    m = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InvalidRequest(f"month {month!r} must be YYYY-MM, e.g. 2025-07")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=VN)
    end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=VN)
    return start.astimezone(UTC), end.astimezone(UTC)


REPORT_ROLES = (Role.AUDITOR, Role.REGISTRY_ADMIN, Role.KEY_ADMIN)


def monthly_report(engine: Engine, month: str, agency_code: str = "",
                   grants: Sequence[Grant] | None = None) -> MonthlyReport:
    """Signatures per agency and document type in ``month`` (Vietnam time).

    ``agency_code``: that agency and its subtree; empty: every agency. ``grants``: the
    caller's; a row is shown only when one of them (with a reporting role) covers its
    agency, so a grant on one agency shows that agency alone and a subtree grant its
    subtree (``None``: no restriction, for in-process callers). ``timestamps`` counts
    every token the TSA issued in the month only in a report of every agency for a
    caller whose grant covers every agency; otherwise (the TSA's tokens name no agency)
    it counts the reported signatures that carry a signature timestamp (CAdES-B-T).
    """
    start, end = month_bounds(month)
    r = SignatureRecordRow
    wanted = Grant(Role.AUDITOR, parse_code(agency_code).code, True) if agency_code else None
    mine = [g for g in (grants or ()) if g.role in REPORT_ROLES]
    whole = not agency_code and (grants is None or any(not g.scope for g in mine))

    def visible(code: str) -> bool:
        try:
            in_scope = wanted is None or wanted.covers(code)
            return in_scope and (grants is None or any(g.covers(code) for g in mine))
        except InvalidRequest:  # a malformed code recorded long ago: nobody's scope
            return grants is None and wanted is None

    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    r.agency_code,
                    r.document_type,
                    func.count(),
                    func.sum(case((r.level == "B-T", 1), else_=0)),
                )
                .where(r.time >= start, r.time < end)
                .group_by(r.agency_code, r.document_type)
                .order_by(r.agency_code, r.document_type)
            ).all()
            names = dict(conn.execute(select(AgencyRow.code, AgencyRow.name)).all())
            tokens = conn.execute(
                select(func.count()).select_from(TsaTokenRow).where(
                    TsaTokenRow.gen_time >= start, TsaTokenRow.gen_time < end)
            ).scalar_one() if whole else 0
    except DBAPIError as exc:
        raise StoreUnavailable("the database is unavailable; retry the report later") from exc
    seen = [(code, doc, int(n), int(bt or 0)) for code, doc, n, bt in rows if visible(code)]
    out = [ReportRow(code, names.get(code, ""), doc, n, bt)
           for code, doc, n, bt in seen if doc != LOAD_TEST]
    load_tests = sum(n for _, doc, n, _ in seen if doc == LOAD_TEST)
    timestamps = int(tokens) if whole else sum(x.timestamped for x in out)
    return MonthlyReport(month, out, sum(x.signatures for x in out), timestamps, load_tests)
