"""`kyso admin audit …`: verify and read the server's tamper-evident audit log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.table import Table

from clients.cli.common import Exit, call, complain, err, open_client, out, vn_time


def _problem(p: Any) -> dict[str, Any]:
    return {"node_id": p.node_id, "seq": p.seq, "record_id": p.record_id or None,
            "kind": p.kind, "message": p.message}


def _report(r: Any) -> dict[str, Any]:
    return {
        "ok": r.ok,
        "records": r.records,
        "checkpoints_verified": r.checkpoints_verified,
        "nodes": [{"node_id": n.node_id, "records": n.records, "last_seq": n.last_seq,
                   "checkpoints_verified": n.checkpoints_verified,
                   "last_checkpoint_seq": n.last_checkpoint_seq, "problems": n.problems}
                  for n in r.nodes],
        "first_problem": _problem(r.first_problem) if r.HasField("first_problem") else None,
        "problems": [_problem(p) for p in r.problems],
        "problem_count": r.problem_count,
    }


def _record(r: Any) -> dict[str, Any]:
    return {"id": r.id, "node_id": r.node_id, "seq": r.seq, "time": r.time, "actor": r.actor,
            "action": r.action, "target": r.target, "details": json.loads(r.details_json or "{}"),
            "prev_hash": r.prev_hash.hex(), "hash": r.hash.hex()}


@click.group()
def audit() -> None:
    """The audit log: every admin action, signature, timestamp and refused call."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def verify(ctx: click.Context, as_json: bool) -> None:
    """Check the whole log; exit 1 naming the first edited, deleted or reordered record."""
    with open_client(ctx) as c:
        report = _report(call(c.verify_audit_log))
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for n in report["nodes"]:
            out.print(f"node {n['node_id']}: {n['records']} records (last seq {n['last_seq']}), "
                      f"{n['checkpoints_verified']} checkpoints verified (last at seq "
                      f"{n['last_checkpoint_seq']}), {n['problems']} problems")
        if report["ok"]:
            out.print(f"audit log intact: {report['records']} records, "
                      f"{report['checkpoints_verified']} signed checkpoints verified")
        else:
            p = report["first_problem"]
            complain("audit log DAMAGED", f"{report['problem_count']} problem(s); "
                      f"first: {p['kind']} record at node {p['node_id']} seq {p['seq']}"
                      f"{' (record id ' + str(p['record_id']) + ')' if p['record_id'] else ''}"
                      f": {p['message']}")
    ctx.exit(Exit.OK if report["ok"] else Exit.FAILED)


@audit.command("list")
@click.option("--node", "node_id", default="", help="Only this node's records.")
@click.option("--action", default="", help="Only this action, e.g. sign, timestamp, "
              "key.rotate, agency.merge (an unknown one is refused, naming them all).")
@click.option("--after-id", default=0, show_default=True, help="Records after this id.")
@click.option("--limit", default=50, show_default=True, help="At most this many (<= 1000).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_records(ctx: click.Context, node_id: str, action: str, after_id: int, limit: int,
                 as_json: bool) -> None:
    """Audit records in order; continue with --after-id NEXT."""
    with open_client(ctx) as c:
        resp = call(lambda: c.list_audit_records(node_id=node_id, after_id=after_id,
                                                 limit=limit, action=action))
    records = [_record(r) for r in resp.records]
    if as_json:
        click.echo(json.dumps({"records": records, "next_after_id": resp.next_after_id or None},
                              indent=2, ensure_ascii=False))
        return
    table = Table("id", "node", "seq", "time", "actor", "action", "target", "details")
    for r in records:
        table.add_row(str(r["id"]), r["node_id"], str(r["seq"]),
                      vn_time(datetime.fromisoformat(r["time"])), r["actor"],
                      r["action"], r["target"],
                      json.dumps(r["details"], ensure_ascii=False, separators=(",", ":")))
    out.print(table)
    if resp.next_after_id:
        err.print(f"more: --after-id {resp.next_after_id}")
