"""`kyso bench` works and counts correctly on short runs (no timing thresholds here:
speed is measured by the benchmark itself, see docs/benchmarks.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e
H13 = "000.00.00.H13"


def _bench(server: Server, tmp_path: Path, *args: str) -> dict[str, object]:
    out = tmp_path / "bench.json"
    r = server.cli("bench", *args, "--json", str(out), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    result: dict[str, object] = json.loads(out.read_text())
    return result


def test_bench_sign_counts_batches_and_compares_with_raw(server: Server, tmp_path: Path) -> None:
    plot = tmp_path / "bench.png"
    r = _bench(server, tmp_path, "sign", "--agency", H13, "--count", "40", "--batch", "4",
               "--concurrency", "4", "--processes", "2", "--output", "cms", "--raw",
               "--raw-duration", "1", "--plot", str(plot))
    assert r["requests"] == 40 and r["signatures"] == 160 and r["errors"] == {}
    assert r["raw"]["algorithm"] == "rsa-2048" and r["raw_throughput"] > 0  # type: ignore[index]
    assert r["ratio"] == pytest.approx(r["throughput"] / r["raw_throughput"], rel=0.01)  # type: ignore[operator]
    assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] <= r["max_ms"]  # type: ignore[operator]
    assert sum(r["per_second"]) == 160  # type: ignore[arg-type]
    assert plot.read_bytes()[:4] == b"\x89PNG"


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
