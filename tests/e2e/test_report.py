"""Monthly statistics through the CLI: per agency, per document type, per month."""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from clients import KysoClientError
from tests.servers import Server

pytestmark = pytest.mark.e2e
H13 = "000.00.00.H13"


def test_monthly_report_table_csv_png(server: Server, tmp_path: Path) -> None:
    with server.client() as c:
        c.create_agency("000.00.50.H13", "Sở Nội vụ")
        c.generate_key("000.00.50.H13", "ec-p256")
        c.issue_dev_certificate("000.00.50.H13")
        c.sign_digests(H13, [os.urandom(32)] * 3, document_type="QĐ",
                       document_number="11/QĐ-UBND")
        c.sign_digests(H13, [os.urandom(32)] * 2, document_type="CT", cms=True, timestamp=True)
        c.sign_digests("000.00.50.H13", [os.urandom(32)], document_type="tb")
        with pytest.raises(KysoClientError) as exc:
            c.sign_digests(H13, [os.urandom(32)], document_type="XYZ")
        assert exc.value.code == "INVALID_ARGUMENT" and "Appendix III" in exc.value.message
    month = datetime.now(timezone(timedelta(hours=7))).strftime("%Y-%m")
    out_csv, out_png = tmp_path / "r.csv", tmp_path / "r.png"
    r = server.cli("admin", "report", "--month", month, "--csv", str(out_csv), "--png",
                   str(out_png), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    rows = {(x["agency_code"], x["document_type"]): x for x in report["rows"]}
    assert rows[(H13, "QĐ")]["signatures"] == 3
    assert rows[(H13, "CT")]["signatures"] == 2 and rows[(H13, "CT")]["timestamped"] == 2
    assert rows[("000.00.50.H13", "TB")]["signatures"] == 1
    assert report["timestamps"] >= 2  # the B-T signature timestamps come from the TSA
    with out_csv.open(encoding="utf-8") as f:
        assert any(row["agency_name"] == "Sở Nội vụ" for row in csv.DictReader(f))
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 5000
    table = server.cli("admin", "report", "--month", month, "--agency", "000.00.50.H13")
    assert "000.00.50.H13" in table.stdout and "QĐ" not in table.stdout
    bad = server.cli("admin", "report", "--month", "2025-13")
    assert bad.returncode == 4 and "YYYY-MM" in bad.stderr
