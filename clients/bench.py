"""`kyso bench`: load against the signing core and the TSA, compared in the same
run with the raw PKCS#11 signing rate of the same key type (``--raw``).

Load comes from ``--processes`` processes, each with its share of
``--concurrency`` threads; every thread keeps one request in flight on its
process's channel, so ``concurrency`` is the number of requests in flight.
Requests are built once per thread: the generator spends its CPU on the
transport, not on encoding.

With ``--rate R`` the load is paced instead of closed-loop: each thread sends
on a fixed schedule (R requests/s in all) and a request's latency is counted
from the moment it was *due*, so a stalled server shows up as latency rather
than hiding behind a slower send rate (no coordinated omission). This is how
"p99 at half of the maximum throughput" is measured.
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc

from signer.formats.tsp import make_request


@dataclass(frozen=True)
class BenchConfig:
    target: str  # "sign" | "tsa-grpc" | "tsa-http"
    endpoint: str = "127.0.0.1:50051"
    token: str | None = None
    url: str = ""  # tsa-http
    agency: str = ""
    output: str = "raw"  # raw | cms
    batch: int = 1
    concurrency: int = 8
    processes: int = 1
    duration: float = 10.0
    count: int = 0  # requests in all; 0: run for `duration`
    rate: float = 0.0  # requests/s in all, paced; 0: as fast as responses come back
    endpoints: tuple[str, ...] = ()  # several: client processes take them in turn


@dataclass
class WorkerResult:
    requests: int = 0
    signatures: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    per_second: dict[int, int] = field(default_factory=dict)  # signatures completed per second
    errors: dict[str, int] = field(default_factory=dict)


def _make_call(cfg: BenchConfig, channel: grpc.Channel | None) -> Any:
    """A zero-argument callable doing one request; returns signatures done."""
    meta = (("authorization", f"Bearer {cfg.token}"),) if cfg.token else ()
    if cfg.target == "sign":
        from kyso.common.v1 import common_pb2
        from kyso.signer.v1 import signer_pb2, signer_pb2_grpc

        stub = signer_pb2_grpc.SignerServiceStub(channel)
        req = signer_pb2.SignDigestsRequest(
            agency_code=cfg.agency,
            digests=[signer_pb2.DigestToSign(digest=os.urandom(32),
                                             hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256)
                     for _ in range(cfg.batch)],
            format=signer_pb2.OUTPUT_FORMAT_CMS if cfg.output == "cms"
            else signer_pb2.OUTPUT_FORMAT_RAW,
            load_test=True,  # counted apart from the monthly statistics
        )

        def sign() -> int:
            stub.SignDigests(req, timeout=60, metadata=meta)
            return cfg.batch

        return sign
    if cfg.target == "tsa-grpc":
        from kyso.tsa.v1 import tsa_pb2, tsa_pb2_grpc

        tstub = tsa_pb2_grpc.TimestampServiceStub(channel)
        treq = tsa_pb2.TimestampRequest(time_stamp_req=make_request(os.urandom(32))[0])

        def stamp() -> int:
            tstub.Timestamp(treq, timeout=60, metadata=meta)
            return 1

        return stamp
    u = urllib.parse.urlsplit(cfg.url)
    conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=60)
    body = make_request(os.urandom(32))[0]
    headers = {"Content-Type": "application/timestamp-query"}

    def post() -> int:
        conn.request("POST", u.path or "/", body=body, headers=headers)  # keep-alive
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}")
        return 1

    return post


def _thread(cfg: BenchConfig, channel: grpc.Channel | None, quota: int, deadline: float,
            t0: float, out: WorkerResult, lock: threading.Lock, progress: Any,
            slot: float = 0.0) -> None:
    call = _make_call(cfg, channel)
    lat: list[float] = []
    per_sec: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    done = sigs = 0
    # Paced: this thread's requests are due every `interval` s, offset by its slot.
    interval = cfg.concurrency / cfg.rate if cfg.rate else 0.0
    due = t0 + slot * interval
    while (quota and done < quota) or (not quota and time.monotonic() < deadline):
        if interval:
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            # latency counts from when the request was due, not from when it left
            start = time.perf_counter() - max(0.0, time.monotonic() - due)
            due += interval
        else:
            start = time.perf_counter()
        try:
            n = call()
        except grpc.RpcError as exc:
            errors[exc.code().name] += 1
            n = 0
        except Exception as exc:  # HTTP and transport failures, by kind
            errors[str(exc) if str(exc).startswith("HTTP ") else type(exc).__name__] += 1
            n = 0
        end = time.perf_counter()
        done += 1
        if n:
            sigs += n
            lat.append((end - start) * 1000)
            per_sec[int(time.monotonic() - t0)] += n
        if done % 16 == 0:
            with progress.get_lock():
                progress.value += 16
    with progress.get_lock():
        progress.value += done % 16
    with lock:
        out.requests += done
        out.signatures += sigs
        out.latencies_ms.extend(lat)
        for k, v in per_sec.items():
            out.per_second[k] = out.per_second.get(k, 0) + v
        for k2, v2 in errors.items():
            out.errors[k2] = out.errors.get(k2, 0) + v2


def _process(cfg: BenchConfig, index: int, threads: int, first: int, quota: int,
             start_at: float, queue: Any, progress: Any) -> None:
    channel = None
    if cfg.target != "tsa-http":
        endpoints = cfg.endpoints or (cfg.endpoint,)
        channel = grpc.insecure_channel(
            endpoints[index % len(endpoints)],
            options=[("grpc.use_local_subchannel_pool", 1)],
        )
    out = WorkerResult()
    lock = threading.Lock()
    while time.time() < start_at:  # all processes start together
        time.sleep(0.001)
    t0 = time.monotonic() - (time.time() - start_at)
    deadline = t0 + cfg.duration
    per_thread = [quota // threads + (1 if i < quota % threads else 0) for i in range(threads)]
    ts = [threading.Thread(target=_thread, args=(cfg, channel, per_thread[i] if quota else 0,
                                                 deadline, t0, out, lock, progress,
                                                 (first + i) / cfg.concurrency))
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if channel is not None:
        channel.close()
    queue.put(asdict(out))


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return math.nan
    k = (len(sorted_values) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def run(cfg: BenchConfig, on_progress: Any = None) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    progress = ctx.Value("q", 0)
    queue = ctx.Queue()
    procs = max(1, min(cfg.processes, cfg.concurrency))
    threads = [cfg.concurrency // procs + (1 if i < cfg.concurrency % procs else 0)
               for i in range(procs)]
    quotas = [0] * procs
    if cfg.count:
        quotas = [cfg.count * t // cfg.concurrency for t in threads]
        quotas[0] += cfg.count - sum(quotas)
    start_at = time.time() + 1.0 + 0.2 * procs  # time to spawn and connect
    firsts = [sum(threads[:i]) for i in range(procs)]  # each thread's slot in the schedule
    workers = [ctx.Process(target=_process, args=(cfg, i, threads[i], firsts[i], quotas[i],
                                                  start_at, queue, progress))
               for i in range(procs)]
    for w in workers:
        w.start()
    results: list[dict[str, Any]] = []
    while len(results) < procs:
        try:
            results.append(queue.get(timeout=0.25))
        except Exception:
            if on_progress is not None and time.time() >= start_at:
                on_progress(progress.value, time.time() - start_at)
            if not any(w.is_alive() for w in workers) and queue.empty():
                break
    for w in workers:
        w.join(10)
    elapsed = max(time.time() - start_at, 1e-9)
    lat = sorted(x for r in results for x in r["latencies_ms"])
    per_second: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    for r in results:
        per_second.update({int(k): v for k, v in r["per_second"].items()})
        errors.update(r["errors"])
    signatures = sum(r["signatures"] for r in results)
    requests = sum(r["requests"] for r in results)
    seconds = cfg.duration if not cfg.count else elapsed
    return {
        "target": cfg.target, "output": cfg.output, "batch": cfg.batch,
        "concurrency": cfg.concurrency, "processes": procs, "rate": cfg.rate or None,
        "endpoints": list(cfg.endpoints or (cfg.endpoint,)),
        "requests": requests, "signatures": signatures, "seconds": round(seconds, 3),
        "throughput": round(signatures / seconds, 1),
        "p50_ms": round(percentile(lat, 50), 3), "p95_ms": round(percentile(lat, 95), 3),
        "p99_ms": round(percentile(lat, 99), 3), "max_ms": round(lat[-1], 3) if lat else None,
        "errors": dict(errors),
        "per_second": [per_second.get(i, 0) for i in range(max(per_second, default=-1) + 1)],
        "latencies_ms": lat,
    }


def raw_rate(algorithm: str, duration: float, threads: int | None = None) -> dict[str, Any]:
    """The raw PKCS#11 rate, measured by the server package in a separate process (the
    client never imports PKCS#11); needs the same KYSO_HSM_* settings as the server."""
    cmd = [sys.executable, "-m", "signer.keys.rawbench", "--algorithm", algorithm,
           "--duration", str(duration), "--threads", str(threads or os.cpu_count() or 1)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    if r.returncode != 0:
        raise RuntimeError("the raw PKCS#11 measurement failed (it needs kyso[server] and the "
                           "server's KYSO_HSM_* settings): " + r.stderr.strip()[-500:])
    result: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    a.plot(range(len(result["per_second"])), result["per_second"], marker=".")
    if result.get("raw_throughput"):
        a.axhline(result["raw_throughput"], color="red", linestyle="--", label="raw PKCS#11")
        a.legend()
    a.set_xlabel("second")
    a.set_ylabel("signatures/s")
    a.set_title(f"{result['target']} throughput (batch {result['batch']}, "
                f"{result['concurrency']} in flight)")
    lat = result["latencies_ms"]
    if lat:
        b.hist(lat, bins=60)
        for p in ("p50_ms", "p95_ms", "p99_ms"):
            b.axvline(result[p], linestyle=":", label=f"{p[:-3]} {result[p]:.1f} ms")
        b.legend()
    b.set_xlabel("latency (ms)")
    b.set_title("latency distribution")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
