"""`kyso bench sign|tsa`: throughput and latency of the signing core and the TSA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from clients.bench import BenchConfig, plot, raw_rate, run
from clients.cli.common import call, check_plaintext_endpoints, err, open_client, out, warn
from clients.client import KEY_ALGORITHMS

_ALG_NAMES = {v: k for k, v in KEY_ALGORITHMS.items()}


@click.group()
def bench() -> None:
    """Load tests: `bench sign` (SignDigests) and `bench tsa` (gRPC or HTTP).

    With --raw the same run measures the raw PKCS#11 signing rate of the same
    key type (one thread per core, straight to the token) before and after the
    load, and reports ratio = throughput / their mean. --raw needs kyso[server] and the server's
    KYSO_HSM_* settings (token label, PIN file, SOFTHSM2_CONF).
    """


def _common(f: Any) -> Any:
    for opt in reversed([
        click.option("--concurrency", default=8, show_default=True,
                     help="Requests in flight."),
        click.option("--duration", default=10.0, show_default=True, help="Seconds."),
        click.option("--count", default=0, help="Requests in all (instead of --duration)."),
        click.option("--processes", default=1, show_default=True,
                     help="Client processes sharing the load."),
        click.option("--rate", default=0.0,
                     help="Pace the load at this many requests/s in all (latency counted "
                     "from when each request was due) [default: as fast as replies come]."),
        click.option("--endpoint", "endpoints", multiple=True, metavar="HOST:PORT",
                     help="gRPC endpoint(s) to drive; client processes take them in turn "
                     "[default: --server]."),
        click.option("--raw", is_flag=True, help="Also measure the raw PKCS#11 rate."),
        click.option("--raw-duration", default=5.0, show_default=True),
        click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write the results as JSON."),
        click.option("--plot", "plot_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Draw throughput over time and the latency distribution (PNG)."),
    ]):
        f = opt(f)
    return f


def _finish(ctx: click.Context, cfg: BenchConfig, algorithm: str | None, raw: bool,
            raw_duration: float, json_file: Path | None, plot_file: Path | None) -> None:
    def measure_raw(when: str) -> dict[str, Any]:
        assert algorithm is not None
        err.print(f"measuring the raw PKCS#11 rate {when} ({algorithm}, "
                  f"{raw_duration:.0f} s)…")
        try:
            return raw_rate(algorithm, raw_duration)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None

    if cfg.target != "tsa-http":  # the load processes speak plaintext gRPC only
        check_plaintext_endpoints(ctx, cfg.endpoints or (cfg.endpoint,))
    # The raw rate is measured before and after the run and averaged: on a shared
    # machine it drifts, and a single reading can flatter or wrong the ratio.
    raw_before = measure_raw("before the run") if raw else None
    with err.status("starting…") as status:
        def progress(done: int, elapsed: float) -> None:
            rate = done / elapsed if elapsed > 0 else 0
            status.update(f"{done} requests, {elapsed:.1f} s, {rate:.0f} requests/s")

        result = run(cfg, on_progress=progress)
    raw_result = None
    if raw_before is not None:
        raw_after = measure_raw("after the run")
        raw_result = dict(raw_before, rate=round((raw_before["rate"] + raw_after["rate"]) / 2,
                                                 1),
                          before=raw_before["rate"], after=raw_after["rate"])
    result["raw_throughput"] = raw_result["rate"] if raw_result else None
    result["ratio"] = (round(result["throughput"] / raw_result["rate"], 3)
                       if raw_result and raw_result["rate"] else None)
    result["raw"] = raw_result
    table = Table("throughput/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "raw/s", "ratio",
                  "errors", title=f"kyso bench {cfg.target}: {result['signatures']} in "
                  f"{result['seconds']} s (batch {cfg.batch}, {cfg.concurrency} in flight, "
                  f"{result['processes']} process(es)"
                  + (f", paced at {cfg.rate:g} requests/s" if cfg.rate else "") + ")")
    table.add_row(str(result["throughput"]), str(result["p50_ms"]), str(result["p95_ms"]),
                  str(result["p99_ms"]), str(result["max_ms"]),
                  str(result["raw_throughput"] or "—"), str(result["ratio"] or "—"),
                  ", ".join(f"{k}: {v}" for k, v in result["errors"].items()) or "none")
    out.print(table)
    if raw_result:
        out.print(f"raw PKCS#11 rate: {raw_result['before']}/s before the run, "
                  f"{raw_result['after']}/s after it; ratio against their mean")
    if plot_file:
        plot(result, plot_file)
        err.print(f"wrote {plot_file}")
    if json_file:
        slim = {k: v for k, v in result.items() if k != "latencies_ms"}
        json_file.write_text(json.dumps(slim, indent=2))
        err.print(f"wrote {json_file}")


def _token(ctx: click.Context) -> str | None:
    tok: str | None = ctx.find_root().obj["token"]
    return tok


@bench.command("sign")
@click.option("--agency", required=True)
@click.option("--batch", default=1, show_default=True, help="Digests per call.")
@click.option("--form", type=click.Choice(["raw", "cms"]), default=None,
              help="What each call asks for: raw signatures or CMS (CAdES-B-B) "
              "[default: raw].")
# `--output` named the form before (unlike every other command's --output, a file): still
# understood, with a warning, so that the commands in docs/benchmarks.md still run.
@click.option("--output", "old_output", type=click.Choice(["raw", "cms"]), hidden=True)
@click.option("--algorithm", type=click.Choice(sorted(KEY_ALGORITHMS)),
              help="The key type to measure: refuse to run unless the agency's active key "
              "is of this type [default: whatever the agency's key is].")
@_common
@click.pass_context
def bench_sign(ctx: click.Context, agency: str, batch: int, form: str | None,
               old_output: str | None, algorithm: str | None, concurrency: int,
               duration: float, count: int, processes: int, rate: float,
               endpoints: tuple[str, ...], raw: bool, raw_duration: float,
               json_file: Path | None, plot_file: Path | None) -> None:
    """Drive SignDigests (raw or CMS, unary or batched)."""
    if old_output is not None:
        if form is not None and form != old_output:
            raise click.UsageError("give --form only (--output is its old name)")
        warn("warning", "`kyso bench sign --output` is now --form (--output names a file "
             "in every other command)")
    output = form or old_output or "raw"
    actual = None
    if raw or algorithm:  # the key type the run measures
        with open_client(ctx) as c:
            actual = _ALG_NAMES[call(lambda: c.signing_certificate(agency)).algorithm]
    if algorithm is not None and algorithm != actual:
        raise click.UsageError(
            f"agency {agency} signs with an {actual} key, not {algorithm}: pick an agency "
            f"with an {algorithm} key (`kyso admin key generate CODE --algorithm "
            f"{algorithm}`, then `kyso admin cert issue CODE` and `kyso admin key activate`)")
    cfg = BenchConfig("sign", endpoint=ctx.find_root().obj["server"], token=_token(ctx),
                      agency=agency, output=output, batch=batch, concurrency=concurrency,
                      processes=processes, duration=duration, count=count, rate=rate,
                      endpoints=endpoints)
    algorithm = actual
    _finish(ctx, cfg, algorithm, raw, raw_duration, json_file, plot_file)


@bench.command("tsa")
@click.option("--url", help="RFC 3161 HTTP URL [default: gRPC tsa.v1 on --server].")
@click.option("--algorithm", default="rsa-2048", show_default=True,
              help="The TSA key's type, for --raw.")
@_common
@click.pass_context
def bench_tsa(ctx: click.Context, url: str | None, algorithm: str, concurrency: int,
              duration: float, count: int, processes: int, rate: float,
              endpoints: tuple[str, ...], raw: bool, raw_duration: float,
              json_file: Path | None, plot_file: Path | None) -> None:
    """Drive the TSA over HTTP (--url) or gRPC."""
    cfg = BenchConfig("tsa-http" if url else "tsa-grpc",
                      endpoint=ctx.find_root().obj["server"], token=_token(ctx),
                      url=url or "", concurrency=concurrency, processes=processes,
                      duration=duration, count=count, rate=rate, endpoints=endpoints)
    _finish(ctx, cfg, algorithm, raw, raw_duration, json_file, plot_file)
