#!/usr/bin/env python3
"""The thin-client PDF path against document size: client time and peak memory,
and the server's CPU per signature (which should not grow: only a digest travels).

    scripts/bench_pdf.py --agency 000.00.00.H13 --sizes 1,10,50,100,200 [--runs 3]

Needs a running kyso (``make run``) and its credentials (KYSO_TOKEN); the server
process is found with ``pgrep -f "kyso serve"`` (or give ``--server-pid``, several
with commas for ``--workers``). For each size it writes a PDF of that size (one
page, plus an incompressible embedded stream), signs it ``--runs`` times with
``kyso sign pdf --profile attachment`` and reports the median wall time, the
largest peak RSS of the client process (``wait4``), and the server's CPU time
(user + system, from /proc) per signature. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1024 * 1024


def write_pdf(path: Path, size: int) -> None:
    """A valid one-page PDF of about ``size`` bytes (an unreferenced binary stream
    carries the bulk, so hashing, not parsing, dominates as for scanned documents)."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
    ]
    content = b"BT /F1 12 Tf 72 770 Td (kyso bench) Tj ET"
    with path.open("wb") as f:
        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(objs, 1):
            offsets.append(f.tell())
            f.write(b"%d 0 obj\n%s\nendobj\n" % (i, body))
        offsets.append(f.tell())
        f.write(b"4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n"
                % (len(content), content))
        bulk = max(0, size - 1024)
        offsets.append(f.tell())
        f.write(b"5 0 obj\n<< /Length %d >>\nstream\n" % bulk)
        chunk = os.urandom(MB)
        left = bulk
        while left:
            n = min(left, MB)
            f.write(chunk[:n])
            left -= n
        f.write(b"\nendstream\nendobj\n")
        xref = f.tell()
        f.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for off in offsets:
            f.write(b"%010d 00000 n \n" % off)
        f.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                % (len(offsets) + 1, xref))


def server_cpu(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def find_server() -> list[int]:
    out = subprocess.run(["pgrep", "-f", "kyso serve"], capture_output=True, text=True).stdout
    pids = [int(p) for p in out.split()]
    if not pids:
        sys.exit("bench_pdf: no `kyso serve` process found; start one (make run) or give "
                 "--server-pid")
    # with --workers, the workers are the supervisor's children: count them all
    kids = subprocess.run(["pgrep", "-P", ",".join(map(str, pids))], capture_output=True,
                          text=True).stdout
    return pids + [int(p) for p in kids.split()]


def sign_once(kyso: str, agency: str, src: Path, dst: Path) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen([kyso, "sign", "pdf", str(src), "-o", str(dst), "--agency", agency,
                             "--profile", "attachment", "--number", "1/BENCH"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_pdf: kyso sign pdf failed: {stderr.strip()}")
    return elapsed, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agency", default="000.00.00.H13")
    p.add_argument("--sizes", default="1,10,50,100,200", help="MB, comma-separated")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--server-pid", help="server process id(s), comma-separated")
    p.add_argument("--kyso", default=str(Path(sys.executable).with_name("kyso")))
    p.add_argument("--workdir", type=Path, help="where the PDFs go [default: a temp dir]")
    args = p.parse_args()
    pids = ([int(x) for x in args.server_pid.split(",")] if args.server_pid
            else find_server())
    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for mb in (float(x) for x in args.sizes.split(",")):
            src, dst = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf"
            write_pdf(src, int(mb * MB))
            sign_once(args.kyso, args.agency, src, dst)  # warm the page cache and the server
            times, peaks = [], []
            cpu0 = server_cpu(pids)
            for _ in range(args.runs):
                t, peak = sign_once(args.kyso, args.agency, src, dst)
                times.append(t)
                peaks.append(peak)
            cpu = (server_cpu(pids) - cpu0) / args.runs
            rows.append((mb, statistics.median(times), max(peaks) / MB, cpu * 1000))
            print(f"{mb:g} MB: {rows[-1][1]:.2f} s, peak {rows[-1][2]:.0f} MiB, "
                  f"server CPU {rows[-1][3]:.1f} ms/signature", file=sys.stderr, flush=True)
            src.unlink()
            dst.unlink()
    print("| PDF size | client time (median) | client peak RSS | server CPU per signature |")
    print("|---|---|---|---|")
    for mb, t, peak, cpu in rows:
        print(f"| {mb:g} MB | {t:.2f} s | {peak:.0f} MiB | {cpu:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
