"""`kyso admin report`: monthly statistics per agency and document type."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from clients.cli.common import call, err, open_client, out, print_json, save_output

# OWASP CSV Injection: spreadsheets evaluate a cell that starts with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_safe(value: Any) -> Any:
    """A text cell no spreadsheet evaluates (agency names come from the registry):
    ``'`` in front, which spreadsheets show as text. Numbers are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _rows(resp: Any) -> list[dict[str, Any]]:
    return [{"agency_code": r.agency_code, "agency_name": r.agency_name,
             "document_type": r.document_type or "—", "signatures": r.signatures,
             "timestamped": r.timestamped} for r in resp.rows]


def write_png(path: Path, month: str, rows: list[dict[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise click.ClickException(
            "--png needs matplotlib: pip install 'kyso[charts]'") from None
    per_agency: dict[str, int] = {}
    for r in rows:
        per_agency[r["agency_code"]] = per_agency.get(r["agency_code"], 0) + r["signatures"]
    types = sorted({r["document_type"] for r in rows})
    agencies = sorted(per_agency)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(agencies) + 2), 4.5), dpi=100)
    bottom = [0] * len(agencies)
    for t in types:
        heights = [sum(r["signatures"] for r in rows
                       if r["agency_code"] == a and r["document_type"] == t) for a in agencies]
        ax.bar(agencies, heights, bottom=bottom, label=t)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_title(f"Chữ ký số theo cơ quan và loại văn bản — {month}")
    ax.set_ylabel("signatures")
    ax.legend(title="type", fontsize="small")
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    save_output(path, png.getvalue())


@click.command("report")
@click.option("--month", required=True, help="YYYY-MM (Vietnam time).")
@click.option("--agency", default="", help="Only this agency and its subtree.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the table as CSV.")
@click.option("--png", "png_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw a bar chart (needs kyso[charts]).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def report(ctx: click.Context, month: str, agency: str, csv_file: Path | None,
           png_file: Path | None, as_json: bool) -> None:
    """Signatures per agency and document type in a month, and timestamps issued."""
    with open_client(ctx) as c:
        resp = call(lambda: c.monthly_report(month, agency))
    rows = _rows(resp)
    if csv_file:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else
                           ["agency_code", "agency_name", "document_type", "signatures",
                            "timestamped"])
        w.writeheader()
        w.writerows({k: csv_safe(v) for k, v in r.items()} for r in rows)
        save_output(csv_file, buf.getvalue().encode("utf-8"))
        err.print(f"wrote {csv_file}")
    if png_file:
        write_png(png_file, resp.month, rows)
        err.print(f"wrote {png_file}")
    if as_json:
        print_json({"month": resp.month, "signatures": resp.signatures,
                    "timestamps": resp.timestamps, "rows": rows,
                    "load_test_signatures": resp.load_test_signatures})
        return
    table = Table("agency", "name", "type", "signatures", "of which B-T",
                  title=f"kyso — {resp.month}")
    for r in rows:
        table.add_row(r["agency_code"], r["agency_name"], r["document_type"],
                      str(r["signatures"]), str(r["timestamped"]))
    out.print(table)
    out.print(f"total: {resp.signatures} signatures; {resp.timestamps} timestamps issued")
    if resp.load_test_signatures:
        out.print(f"not counted: {resp.load_test_signatures} signatures of load tests "
                  "(kyso bench sign)")
