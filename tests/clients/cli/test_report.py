"""``kyso admin report``: the CSV and PNG files go where ``--csv``/``--png`` say, and a
place that cannot be written is a sentence and exit 4 (issue 15 item 9: a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyso.registry.v1 import reports_pb2
from tests.clients.cli.fake import FakeKyso, Kyso

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


@pytest.fixture
def month(fake: FakeKyso) -> FakeKyso:
    fake.on("monthly_report", reports_pb2.MonthlyReportResponse(
        month="2026-11", signatures=3, timestamps=1, rows=[reports_pb2.ReportRow(
            agency_code="000.00.00.H13", agency_name="Thành phố Cần Thơ",
            document_type="QĐ", signatures=3, timestamped=1)]))
    return fake


@pytest.mark.parametrize("option", ["--png", "--csv"])
def test_a_missing_directory_is_said_not_a_traceback(kyso: Kyso, month: FakeKyso,
                                                     option: str) -> None:
    r = kyso("admin", "report", "--month", "2026-11", option, "no/such/dir/report")
    assert r.exit_code == 4, r.stderr
    assert "cannot write no/such/dir/report: No such file or directory" in r.stderr


def test_png_and_csv_are_written(kyso: Kyso, month: FakeKyso, tmp_path: Path) -> None:
    r = kyso("admin", "report", "--month", "2026-11", "--png", "r.png", "--csv", "r.csv")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "Thành phố Cần Thơ" in (tmp_path / "r.csv").read_text(encoding="utf-8")
