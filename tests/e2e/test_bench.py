"""`kyso bench` works and counts correctly on short runs (no timing thresholds here:
speed is measured by the benchmark itself, see docs/benchmarks.md)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.servers import Server

# Formats and handlers: what they do does not depend on the database (records reach
# PostgreSQL in the modules that test records), so the PostgreSQL pass skips them.
pytestmark = [pytest.mark.e2e, pytest.mark.database_free]
H13 = "000.00.00.H13"


def _bench(server: Server, tmp_path: Path, *args: str) -> dict[str, object]:
    out = tmp_path / "bench.json"
    r = server.cli("bench", *args, "--json", str(out), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    result: dict[str, object] = json.loads(out.read_text())
    return result


def _report(server: Server) -> dict[str, object]:
    month = datetime.now(timezone(timedelta(hours=7))).strftime("%Y-%m")
    rep = json.loads(server.cli("admin", "report", "--month", month, "--json",
                                check=True).stdout)
    return {k: rep[k] for k in ("month", "signatures", "load_test_signatures")}


def test_bench_sign_counts_batches_and_compares_with_raw(server: Server, tmp_path: Path) -> None:
    before = _report(server)
    plot = tmp_path / "bench.png"
    r = _bench(server, tmp_path, "sign", "--agency", H13, "--count", "40", "--batch", "4",
               "--concurrency", "4", "--processes", "2", "--form", "cms", "--raw",
               "--raw-duration", "1", "--plot", str(plot))
    assert r["requests"] == 40 and r["signatures"] == 160 and r["errors"] == {}
    raw = r["raw"]
    assert isinstance(raw, dict) and raw["algorithm"] == "rsa-2048"
    assert raw["rate"] == pytest.approx((raw["before"] + raw["after"]) / 2, abs=0.1)
    assert r["raw_throughput"] == raw["rate"] > 0
    assert r["ratio"] == pytest.approx(r["throughput"] / r["raw_throughput"], rel=0.01)  # type: ignore[operator]
    assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] <= r["max_ms"]  # type: ignore[operator]
    assert sum(r["per_second"]) == 160  # type: ignore[arg-type]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    # Load tests are no documents: the month's statistics count them apart. (Across a
    # turn of the month the two reports are of different months: nothing to compare.)
    after = _report(server)
    if after["month"] == before["month"]:
        assert after["signatures"] == before["signatures"], (before, after)
        assert after["load_test_signatures"] == before["load_test_signatures"] + 160  # type: ignore[operator]


def test_bench_paced_over_several_endpoints(server: Server, tmp_path: Path) -> None:
    r = _bench(server, tmp_path, "sign", "--agency", H13, "--count", "24", "--rate", "24",
               "--concurrency", "4", "--processes", "2", "--algorithm", "rsa-2048",
               "--endpoint", server.endpoint, "--endpoint", server.endpoint)
    assert r["requests"] == 24 and r["signatures"] == 24 and r["errors"] == {}
    assert r["rate"] == 24 and r["endpoints"] == [server.endpoint] * 2
    # paced: 24 requests due over one second cannot all be done much sooner
    assert r["seconds"] >= 0.9  # type: ignore[operator]


def test_bench_refuses_an_agency_with_another_key_type(server: Server) -> None:
    r = server.cli("bench", "sign", "--agency", H13, "--algorithm", "ec-p256", "--count", "1")
    assert r.returncode == 2
    assert "signs with an rsa-2048 key, not ec-p256" in r.stderr


def test_bench_reports_errors_by_status(server: Server, tmp_path: Path) -> None:
    r = _bench(server, tmp_path, "sign", "--agency", "000.00.00.H98", "--count", "12",
               "--concurrency", "3")
    assert r["requests"] == 12 and r["signatures"] == 0 and r["errors"] == {"NOT_FOUND": 12}


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_bench_tsa(server: Server, tmp_path: Path, transport: str) -> None:
    args = ["--url", server.tsa_url] if transport == "http" else []
    r = _bench(server, tmp_path, "tsa", *args, "--count", "30", "--concurrency", "3")
    assert r["requests"] == 30 and r["signatures"] == 30 and r["errors"] == {}
    assert r["target"] == f"tsa-{transport}"


def test_durability_can_be_switched_off_only_loudly_for_measurement(tmp_path: Path) -> None:
    """server.unsafe_skip_records (benchmark only) replies without records and says so;
    normally every reply has its record (counted in the database after the run)."""
    from sqlalchemy import create_engine, text

    from tests.servers import server_env, start_server, stop_server

    counts = {}
    for skip in ("true", "false"):
        work = tmp_path / skip
        work.mkdir()
        env = server_env(work, f"kyso-e2e-skip-{skip}")
        env["KYSO_SERVER_UNSAFE_SKIP_RECORDS"] = skip
        srv = start_server(work, env, "--demo")
        try:
            r = _bench(srv, work, "sign", "--agency", H13, "--count", "20", "--batch", "3",
                       "--concurrency", "2")
            t = _bench(srv, work, "tsa", "--url", srv.tsa_url, "--count", "7",
                       "--concurrency", "2")
            assert r["signatures"] == 60 and t["signatures"] == 7
        finally:
            assert stop_server(srv) == 0, srv.log()
        assert ("unsafe_skip_records is ON" in srv.log()) is (skip == "true")
        engine = create_engine(env["KYSO_STORE_URL"])
        with engine.connect() as conn:
            counts[skip] = tuple(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                                 for table in ("signature_records", "tsa_tokens"))
        engine.dispose()
    assert counts == {"true": (0, 0), "false": (60, 7)}


def test_pdf_size_script_signs_and_reports(server: Server, tmp_path: Path) -> None:
    """scripts/bench_pdf.py: the PDFs it writes are signed by `kyso sign pdf` (which
    checks them with pyHanko) and it reports one row per size."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = dict(server.env, KYSO_TOKEN=server.token or "", KYSO_ENDPOINT=server.endpoint)
    r = subprocess.run(
        [sys.executable, str(root / "scripts" / "bench_pdf.py"), "--sizes", "0.1,1",
         "--runs", "1", "--server-pid", str(server.proc.pid), "--workdir", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("| 0.1 MB")
            or line.startswith("| 1 MB")]
    assert len(rows) == 2, r.stdout
