"""Monthly statistics: signatures per agency and document type, and timestamps.

Months are Vietnam calendar months (UTC+07:00), as provinces report them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from registry.auth import Grant, Role
from registry.models import AgencyRow
from signer.errors import InvalidRequest, StoreUnavailable
from signer.records import SignatureRecordRow
from tsa.models import TsaTokenRow

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


def month_bounds(month: str) -> tuple[datetime, datetime]:
    m = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InvalidRequest(f"month {month!r} must be YYYY-MM, e.g. 2025-07")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=VN)
    end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=VN)
    return start, end


def monthly_report(engine: Engine, month: str, agency_code: str = "") -> MonthlyReport:
    start, end = month_bounds(month)
    r = SignatureRecordRow
    scope = Grant(Role.AUDITOR, agency_code, True) if agency_code else None
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
            timestamps = conn.execute(
                select(func.count()).select_from(TsaTokenRow).where(
                    TsaTokenRow.gen_time >= start, TsaTokenRow.gen_time < end)
            ).scalar_one()
    except DBAPIError as exc:
        raise StoreUnavailable("the database is unavailable; retry the report later") from exc
    out = [
        ReportRow(code, names.get(code, ""), doc, int(n), int(bt or 0))
        for code, doc, n, bt in rows
        if scope is None or scope.covers(code)
    ]
    return MonthlyReport(month, out, sum(x.signatures for x in out), int(timestamps))
