"""``kyso admin agency …``: agencies and their identifier codes (the registry's
AgencyService): add, list, show; rename, move, merge, split, close, history, children,
subtree, import, export.

Dates are YYYY-MM-DD. ``--json`` prints machine-readable output everywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from clients.cli.common import (
    Exit,
    call,
    err,
    fail,
    key_dict,
    open_client,
    out,
    print_json,
    save_output,
    vn_time,
)


@click.group()
def agency() -> None:
    """Agencies and their identifier codes."""


def _state(a: Any) -> dict[str, Any]:
    return {
        "code": a.code,
        "name": a.name,
        "level": a.level,
        "parent": a.parent_code or None,
        "status": a.status,
        "valid_from": a.valid_from or None,
        "valid_to": a.valid_to or None,
        "successor": a.successor_code or None,
    }


def _event(e: Any) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "effective": e.effective,
        "old_name": e.old_name or None,
        "new_name": e.new_name or None,
        "old_parent": e.old_parent or None,
        "new_parent": e.new_parent or None,
        "related": list(e.related_codes),
        "note": e.note or None,
        "recorded": vn_time(e.recorded_unix),
    }


def _pairs(items: tuple[str, ...], sep: str, what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        left, found, right = item.partition(sep)
        if not found or not left.strip() or not right.strip():
            raise click.BadParameter(f"{item!r}: write {what}")
        pairs.append((left.strip(), right.strip()))
    return pairs


def _agency_dict(a: Any) -> dict[str, Any]:
    return {
        "code": a.code,
        "name": a.name,
        "level": a.level,
        "parent": a.parent_code or None,
        "keys": [key_dict(k) for k in a.keys],
    }


def _emit(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        print_json(data)
    else:
        out.print(text)


def _table(rows: list[Any], as_json: bool, title: str) -> None:
    if as_json:
        print_json([_state(a) for a in rows])
        return
    t = Table(title=title)
    for col in ("code", "name", "level", "status", "valid from", "successor"):
        t.add_column(col)
    for a in rows:
        t.add_row(a.code, a.name, str(a.level), a.status, a.valid_from,
                  a.successor_code or "")
    out.print(t)


_effective_opt = click.option("--effective", required=True, metavar="YYYY-MM-DD",
                              help="Date the change takes effect.")
_json_opt = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_reissue_opt = click.option(
    "--reissue", "reissue", multiple=True, metavar="OLD=NEW",
    help="Re-issue an active sub-unit of a closed code under a new code (repeatable).")


@agency.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Official name of the body.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agency_add(ctx: click.Context, code: str, name: str, as_json: bool) -> None:
    """Register an agency by its code (QCVN 102:2016 or Decision 20/2020); the parent
    the code implies must be registered first (as in `kyso admin agency import`)."""
    with open_client(ctx) as c:
        a = call(lambda: c.create_agency(code, name))
    if as_json:
        print_json(_agency_dict(a))
    else:
        parent = f", parent {a.parent_code}" if a.parent_code else ""
        out.print(f"added agency {a.code} — {a.name} (level {a.level}{parent})")


@agency.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agency_list(ctx: click.Context, as_json: bool) -> None:
    """List agencies with their active keys."""
    with open_client(ctx) as c:
        agencies = call(c.list_agencies)
    if as_json:
        print_json([_agency_dict(a) for a in agencies])
        return
    table = Table("code", "name", "level", "keys (active)")
    for a in agencies:
        active = [k for k in a.keys if k.state == 2]
        table.add_row(a.code, a.name, str(a.level), f"{len(a.keys)} ({len(active)})")
    out.print(table)


@agency.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agency_show(ctx: click.Context, code: str, as_json: bool) -> None:
    """Show an agency and its keys."""
    with open_client(ctx) as c:
        a = call(lambda: c.get_agency(code))
    d = _agency_dict(a)
    if as_json:
        print_json(d)
        return
    out.print(f"{a.code} — {a.name} (level {a.level})")
    table = Table("key id", "algorithm", "state", "certificate subject", "valid until")
    for k in d["keys"]:
        cert = k.get("certificate") or {}
        table.add_row(k["key_id"], k["algorithm"], k["state"], cert.get("subject", "—"),
                      cert.get("not_after", "—")[:10])
    out.print(table)


@agency.command("rename")
@click.argument("code")
@click.option("--name", required=True, help="The new official name.")
@_effective_opt
@_json_opt
@click.pass_context
def rename(ctx: click.Context, code: str, name: str, effective: str, as_json: bool) -> None:
    """Rename an agency from a date (the old name stays in its history)."""
    with open_client(ctx) as c:
        a = call(lambda: c.rename_agency(code, name, effective))
    _emit(_state(a), as_json, f"renamed {a.code} to {a.name} from {effective}")


@agency.command("move")
@click.argument("code")
@click.option("--to", "new_code", required=True, help="The new code under the new parent.")
@click.option("--name", default="", help="A new name [default: keep it].")
@_effective_opt
@_json_opt
@click.pass_context
def move(ctx: click.Context, code: str, new_code: str, name: str, effective: str,
         as_json: bool) -> None:
    """Re-issue CODE under another parent as a new code (the old one closes)."""
    with open_client(ctx) as c:
        a = call(lambda: c.move_agency(code, new_code, effective, name))
    _emit(_state(a), as_json, f"re-issued {code} as {a.code} from {effective}")


@agency.command("merge")
@click.argument("codes", nargs=-1, required=True)
@click.option("--into", required=True, help="The successor code (existing or new).")
@click.option("--name", default="", help="The successor's name (required if new).")
@_effective_opt
@_reissue_opt
@_json_opt
@click.pass_context
def merge(ctx: click.Context, codes: tuple[str, ...], into: str, name: str,
          effective: str, reissue: tuple[str, ...], as_json: bool) -> None:
    """Close CODES into the successor --into from a date."""
    mapping = dict(_pairs(reissue, "=", "OLD=NEW"))
    with open_client(ctx) as c:
        a = call(lambda: c.merge_agencies(codes, into, effective, name, mapping))
    _emit(_state(a), as_json,
          f"merged {', '.join(codes)} into {a.code} ({a.name}) from {effective}")


@agency.command("split")
@click.argument("code")
@click.option("--into", "parts", multiple=True, required=True, metavar="CODE:NAME",
              help="A new code and its name (repeat for each part).")
@_effective_opt
@_reissue_opt
@_json_opt
@click.pass_context
def split(ctx: click.Context, code: str, parts: tuple[str, ...], effective: str,
          reissue: tuple[str, ...], as_json: bool) -> None:
    """Close CODE and create its parts from a date."""
    pairs = _pairs(parts, ":", "CODE:NAME")
    mapping = dict(_pairs(reissue, "=", "OLD=NEW"))
    with open_client(ctx) as c:
        rows = call(lambda: c.split_agency(code, pairs, effective, mapping))
    _table(rows, as_json, f"{code} split from {effective} into")


@agency.command("close")
@click.argument("code")
@click.option("--successor", default="", help="The body that takes over, if any.")
@_effective_opt
@_reissue_opt
@_json_opt
@click.pass_context
def close(ctx: click.Context, code: str, successor: str, effective: str,
          reissue: tuple[str, ...], as_json: bool) -> None:
    """Close CODE from a date (it is never reused)."""
    mapping = dict(_pairs(reissue, "=", "OLD=NEW"))
    with open_client(ctx) as c:
        a = call(lambda: c.close_agency(code, effective, successor, mapping))
    succ = f", successor {a.successor_code}" if a.successor_code else ""
    _emit(_state(a), as_json, f"closed {a.code} from {effective}{succ}")


@agency.command("history")
@click.argument("code")
@click.option("--on", default="", metavar="YYYY-MM-DD", help="Date asked about [today].")
@_json_opt
@click.pass_context
def history(ctx: click.Context, code: str, on: str, as_json: bool) -> None:
    """What CODE denoted on a date, who answers for it today, and its events."""
    with open_client(ctx) as c:
        h = call(lambda: c.agency_history(code, on))
    data = {
        "code": h.agency.code,
        "on": h.on,
        "name_on_date": h.name_on_date or None,
        "in_force_on_date": h.in_force_on_date,
        "successors": list(h.successors),
        "agency": _state(h.agency),
        "events": [_event(e) for e in h.events],
    }
    if as_json:
        print_json(data)
        return
    denoted = h.name_on_date or "(not issued yet)"
    force = "in force" if h.in_force_on_date else "not in force"
    out.print(f"{h.agency.code} on {h.on}: {denoted} ({force})")
    out.print(f"today: {h.agency.status}; answered for by "
              f"{', '.join(h.successors) or 'nobody (dissolved)'}")
    t = Table(title="events")
    for col in ("effective", "kind", "old name", "new name", "related", "note"):
        t.add_column(col)
    for e in h.events:
        t.add_row(e.effective, e.kind, e.old_name, e.new_name,
                  ", ".join(e.related_codes), e.note)
    out.print(t)


@agency.command("children")
@click.argument("code")
@click.option("--include-closed", is_flag=True)
@_json_opt
@click.pass_context
def children(ctx: click.Context, code: str, include_closed: bool, as_json: bool) -> None:
    """Direct sub-units of CODE."""
    with open_client(ctx) as c:
        rows = call(lambda: c.agency_children(code, include_closed))
    _table(rows, as_json, f"children of {code}")


@agency.command("subtree")
@click.argument("code")
@click.option("--include-closed", is_flag=True)
@_json_opt
@click.pass_context
def subtree(ctx: click.Context, code: str, include_closed: bool, as_json: bool) -> None:
    """Every unit below CODE."""
    with open_client(ctx) as c:
        rows = call(lambda: c.agency_subtree(code, include_closed))
    _table(rows, as_json, f"subtree of {code}")


@agency.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None,
              help="[default: from the file name, else csv]")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@_json_opt
@click.pass_context
def import_(ctx: click.Context, file: Path, fmt: str | None, dry_run: bool,
            as_json: bool) -> None:
    """Import the official list (CSV: code,name[,parent_code][,valid_from]).

    Everything is checked first; with any error nothing is imported and
    the errors are listed by line (exit status 1)."""
    fmt = fmt or ("json" if file.suffix.lower() == ".json" else "csv")
    content = file.read_bytes()
    with open_client(ctx) as c:
        p = call(lambda: c.import_agencies(content, fmt, dry_run))
    problems = [{"line": x.line, "field": x.field, "reason": x.reason} for x in p.problems]
    data = {
        "applied": p.applied,
        "create": [_state(a) for a in p.create],
        "rename": [{"code": r.code, "old_name": r.old_name, "new_name": r.new_name}
                   for r in p.rename],
        "unchanged": len(p.unchanged),
        "errors": problems,
    }
    if as_json:
        print_json(data)
    elif problems:
        t = Table(title=f"{file}: {len(problems)} error(s), nothing imported")
        for col in ("line", "field", "reason"):
            t.add_column(col)
        for x in problems:
            t.add_row(str(x["line"]), x["field"], x["reason"])
        out.print(t)
    else:
        verb = "would" if dry_run else "did"
        out.print(f"{file}: {verb} create {len(p.create)}, rename {len(p.rename)}, "
                  f"leave {len(p.unchanged)} unchanged")
        for a in p.create:
            out.print(f"  + {a.code}  {a.name}")
        for r in p.rename:
            out.print(f"  ~ {r.code}  {r.old_name} → {r.new_name}")
    if problems:
        fail(Exit.ERROR)


@agency.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write [default: standard output].")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--include-closed", is_flag=True,
              help="Include closed codes (adds status, valid_to, successor_code).")
@click.pass_context
def export(ctx: click.Context, output: Path | None, fmt: str, include_closed: bool) -> None:
    """Export the registry's list of agency codes."""
    with open_client(ctx) as c:
        data = call(lambda: c.export_agencies(fmt, include_closed))
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        save_output(output, data)
        err.print(f"wrote {output}")
