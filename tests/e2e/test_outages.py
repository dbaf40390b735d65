"""Outages under load. PostgreSQL stopped for ~10 s, or the HSM token gone for a
few seconds: calls fail fast with UNAVAILABLE, health turns NOT_SERVING, and the
node serves again by itself when the part is back; every signature a client
received has its record.

The test runs its own throwaway cluster (scripts/pg-throwaway.sh) because it stops
it; it runs in the SQLite pass of `make test` only (the PostgreSQL pass would start
the same cluster again for nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, text

from clients.client import KysoClient, KysoClientError
from tests.servers import Server, server_env, start_server, stop_server

pytestmark = pytest.mark.e2e
in_sqlite_pass = pytest.mark.skipif(
    bool(os.environ.get("KYSO_TEST_POSTGRES_URL")),
    reason="runs in the SQLite pass (it starts its own cluster)")
needs_pg_binaries = pytest.mark.skipif(
    not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")),
    reason="PostgreSQL server binaries not installed (apt-get install postgresql)")
PG = Path(__file__).resolve().parents[2] / "scripts" / "pg-throwaway.sh"
SIGNER = "kyso.signer.v1.SignerService"


def _pg(cmd: str, d: Path) -> str:
    return subprocess.run([str(PG), cmd, str(d)], check=True, capture_output=True,
                          text=True, timeout=120).stdout.strip()


def _health(endpoint: str) -> str:
    with grpc.insecure_channel(endpoint) as ch:
        try:
            r = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service=SIGNER), timeout=2)
        except grpc.RpcError as exc:
            return exc.code().name
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(r.status))


@in_sqlite_pass
@needs_pg_binaries
def test_database_outage_fails_fast_and_heals(tmp_path: Path) -> None:
    pgdir = Path(f"/tmp/kyso-outage-{os.getpid()}")  # short: the socket path has a limit
    url = _pg("start", pgdir)
    work = tmp_path / "node"
    work.mkdir()
    env = server_env(work, "kyso-e2e-outage", fresh=True)  # a database of its own
    env["KYSO_STORE_URL"] = url
    srv = start_server(work, env, "--demo")
    try:
        run = _outage_under_load(srv, take_away=lambda: _pg("stop", pgdir),
                                 bring_back=lambda: _pg("start", pgdir), seconds=10)
        recorded = _records(url)  # the database is back
    finally:
        stop_server(srv)
        _pg("stop", pgdir)
        shutil.rmtree(pgdir, ignore_errors=True)
    run.check(recorded)


def test_hsm_outage_fails_fast_and_heals(tmp_path: Path) -> None:
    work = tmp_path / "node"
    work.mkdir()
    env = server_env(work, "kyso-e2e-hsm-outage")
    env["KYSO_HSM_RECOVERY_TIMEOUT_S"] = "1.5"
    srv = start_server(work, env, "--demo")
    tokens, away = work / "hsm" / "tokens", work / "hsm" / "tokens.away"
    try:
        # The first calls after the token goes wait out the recovery budget (1.5 s); once
        # the health monitor (every 2 s) has seen it, calls fail at once.
        run = _outage_under_load(srv, take_away=lambda: tokens.rename(away),
                                 bring_back=lambda: away.rename(tokens), seconds=9,
                                 settle=4.0, probe=lambda: _post_tsa(srv.tsa_url))
        recorded = _records(env["KYSO_STORE_URL"])
    finally:
        if away.exists():
            away.rename(tokens)
        stop_server(srv)
    run.check(recorded)
    # RFC 3161 over HTTP during the outage: 503 with a rejection body, promptly, once the
    # node has noticed (the first probes may still wait out the recovery budget)
    assert run.probes[-3:] == ["503"] * 3, run.probes


def _post_tsa(url: str) -> str:
    import urllib.error
    import urllib.request

    from signer.formats.tsp import make_request

    req = urllib.request.Request(url, data=make_request(os.urandom(32))[0],
                                 headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return str(r.status)
    except urllib.error.HTTPError as exc:
        return str(exc.code)
    except OSError as exc:  # a timeout: not failing fast
        return type(exc).__name__


@dataclass
class _Run:
    outcomes: list[tuple[float, str, float]]  # (when, status, seconds taken)
    received: list[bytes]
    health_during: set[str]
    probes: list[str]
    down_at: float
    up_at: float
    settle: float

    def check(self, recorded: set[bytes]) -> None:
        # calls made entirely while the part was away, once the node had noticed (a call
        # started late in the outage may succeed on a retry after the part is back)
        during = [(s, took) for w, s, took in self.outcomes
                  if self.down_at + self.settle < w and w + took < self.up_at]
        assert during and {s for s, _ in during} == {"UNAVAILABLE"}, [
            (round(w, 2), s, round(t, 2)) for w, s, t in self.outcomes
            if w > self.down_at][:20]
        # fail fast: well inside the 5 s deadline, retries included
        assert max(took for _, took in during) < 4.5, max(during, key=lambda x: x[1])
        assert "NOT_SERVING" in self.health_during, self.health_during
        assert any(w < self.down_at and s == "OK" for w, s, _ in self.outcomes)
        assert any(w > self.up_at and s == "OK" for w, s, _ in self.outcomes), "did not heal"
        # every signature a client received is on record
        assert set(self.received) <= recorded, len(set(self.received) - recorded)


def _outage_under_load(srv: Server, *, take_away: Callable[[], object],
                       bring_back: Callable[[], object], seconds: int,
                       settle: float = 1.0, probe: Callable[[], str] | None = None) -> _Run:
    received: list[bytes] = []
    outcomes: list[tuple[float, str, float]] = []
    stop = threading.Event()
    lock = threading.Lock()
    t0 = time.monotonic()

    def load() -> None:
        with KysoClient(srv.endpoint, token=srv.token, timeout=5) as c:
            while not stop.is_set():
                d, start = os.urandom(32), time.monotonic()
                try:
                    c.sign_digests("000.00.00.H13", [d])
                    status = "OK"
                except KysoClientError as exc:
                    status = exc.code
                    time.sleep(0.05)
                except Exception as exc:
                    status = f"{type(exc).__name__}: {exc}"
                with lock:
                    outcomes.append((start - t0, status, time.monotonic() - start))
                    if status == "OK":
                        received.append(d)

    threads = [threading.Thread(target=load) for _ in range(3)]
    health_during: set[str] = set()
    probes: list[str] = []
    try:
        for t in threads:
            t.start()
        time.sleep(2)
        take_away()
        down_at = time.monotonic() - t0
        for _ in range(seconds):
            time.sleep(1)
            health_during.add(_health(srv.endpoint))
            if probe is not None:
                probes.append(probe())
        # The part may be back before bring_back() returns (pg_ctl start waits until the
        # server accepts connections, and more): "during the outage" ends when it starts.
        up_at = time.monotonic() - t0
        bring_back()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # back by itself, no restart
            with lock:
                healed = any(w > up_at and s == "OK" for w, s, _ in outcomes)
            if healed and _health(srv.endpoint) == "SERVING":
                break
            time.sleep(0.5)
        time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert srv.proc.poll() is None, "the server must keep running"
    return _Run(outcomes, received, health_during, probes, down_at, up_at, settle)


def _records(url: str) -> set[bytes]:
    engine = create_engine(url)
    with engine.connect() as conn:
        got = {bytes(r[0]) for r in conn.execute(text("SELECT digest FROM signature_records"))}
    engine.dispose()
    return got
