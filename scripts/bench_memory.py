#!/usr/bin/env python3
"""Is the server's memory flat under sustained load? Runs ``kyso bench`` for a
while and samples the resident memory of every server process.

    scripts/bench_memory.py --minutes 10 -- sign --agency 000.00.00.H13 --concurrency 16

Needs a running kyso (``make run``) and KYSO_TOKEN; the server processes are
``kyso serve`` and its workers (``pgrep``). Everything after ``--`` is passed to
``kyso bench`` (``--duration`` is added). Every ``--every`` seconds it prints each
process's RSS; at the end a Markdown table of the samples, the growth between the
end of the first minute (caches filled) and the end, and the bench summary.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def server_pids() -> list[int]:
    top = subprocess.run(["pgrep", "-f", "kyso serve"], capture_output=True, text=True).stdout
    pids = [int(p) for p in top.split()]
    if not pids:
        sys.exit("bench_memory: no `kyso serve` process found; start one (make run)")
    kids = subprocess.run(["pgrep", "-P", ",".join(map(str, pids))], capture_output=True,
                          text=True).stdout
    return pids + [int(p) for p in kids.split()]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--every", type=float, default=30, help="seconds between samples")
    p.add_argument("--kyso", default=str(Path(sys.executable).with_name("kyso")))
    p.add_argument("bench", nargs=argparse.REMAINDER, help="-- then kyso bench arguments")
    args = p.parse_args()
    bench = [a for a in args.bench if a != "--"] or ["sign", "--agency", "000.00.00.H13"]
    pids = server_pids()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        load = subprocess.Popen([args.kyso, "bench", *bench, "--duration", str(seconds),
                                 "--json", str(out)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        start = time.monotonic()
        samples: list[tuple[float, list[float]]] = []
        while load.poll() is None:
            samples.append((time.monotonic() - start, [rss_mib(pid) for pid in pids]))
            t, mem = samples[-1]
            print(f"{t:6.0f} s  " + "  ".join(f"{pid}: {m:.1f} MiB" for pid, m in
                                             zip(pids, mem, strict=True)),
                  file=sys.stderr, flush=True)
            time.sleep(args.every)
        if load.returncode != 0 or not out.exists():
            sys.exit(f"bench_memory: kyso bench failed (exit {load.returncode})")
        result = json.loads(out.read_text())
    print("| time | " + " | ".join(f"pid {pid} RSS (MiB)" for pid in pids) + " |")
    print("|---|" + "---|" * len(pids))
    for t, mem in samples:
        print(f"| {t:.0f} s | " + " | ".join(f"{m:.1f}" for m in mem) + " |")
    warm = next((mem for t, mem in samples if t >= 60), samples[0][1])
    growth = [end - w for end, w in zip(samples[-1][1], warm, strict=True)]
    print("\ngrowth from 60 s to the end: " + ", ".join(
        f"pid {pid}: {g:+.1f} MiB" for pid, g in zip(pids, growth, strict=True)))
    print(f"bench: {result['requests']} requests, {result['throughput']}/s, "
          f"p99 {result['p99_ms']} ms, errors {result['errors'] or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
