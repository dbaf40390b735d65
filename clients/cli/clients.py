"""`kyso admin client …` and `kyso admin whoami`: clients of kyso, their tokens and
roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from clients.cli.common import call, err, json_option, open_client, out, print_json, vn_time


def _dict(c: Any) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "token": f"{c.token_hint}…" if c.token_hint else None,
        "certificate_sha256": c.cert_sha256 or None,
        "created": vn_time(c.created_unix),
        "revoked": vn_time(c.revoked_unix),
        "grants": [{"role": g.role, "scope": g.scope or "*", "subtree": g.subtree}
                   for g in c.grants],
    }


def _grant_text(g: dict[str, Any]) -> str:
    return f"{g['role']}@{g['scope']}{'/**' if g['subtree'] else ''}"


def _parse_grant(text: str) -> tuple[str, str, bool]:
    """ROLE[@CODE[/**]]: `signer@000.00.00.H13/**` is signer on H13 and its subtree."""
    role, _, scope = text.partition("@")
    subtree = scope.endswith("/**")
    return role, scope.removesuffix("/**").replace("*", ""), subtree


@click.group()
def client() -> None:
    """Clients (document systems, people), tokens and roles.

    Roles: signer, registry-admin, key-admin, auditor; a grant is
    ROLE@CODE (one agency), ROLE@CODE/** (its subtree) or ROLE (every agency).
    """


@client.command("add")
@click.argument("name")
@click.option("--person", is_flag=True, help="A person (default: a document system).")
@click.option("--cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Client certificate (PEM/DER) for mTLS.")
@click.option("--no-token", is_flag=True, help="Certificate only, no bearer token.")
@click.option("--grant", "grants", multiple=True, metavar="ROLE[@CODE[/**]]",
              help="Grant a role (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def add(ctx: click.Context, name: str, person: bool, cert: Path | None, no_token: bool,
        grants: tuple[str, ...], as_json: bool) -> None:
    """Create a client; its token is printed once and never again."""
    with open_client(ctx) as c:
        r = call(lambda: c.create_client(
            name, kind="person" if person else "system",
            certificate=cert.read_bytes() if cert else b"", no_token=no_token,
            grants=[_parse_grant(g) for g in grants]))
    if as_json:
        print_json({**_dict(r.client), "token": r.token or None})
        return
    out.print(f"created client {r.client.name} "
              f"({', '.join(_grant_text(g) for g in _dict(r.client)['grants']) or 'no roles'})")
    if r.token:
        out.print(f"token (shown once, store it now): {r.token}")


@client.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List clients and their roles."""
    with open_client(ctx) as c:
        clients = [_dict(x) for x in call(c.list_clients)]
    if as_json:
        print_json(clients)
        return
    table = Table("name", "kind", "token", "mTLS", "roles", "revoked")
    for d in clients:
        table.add_row(d["name"], d["kind"], d["token"] or "—",
                      (d["certificate_sha256"] or "—")[:16],
                      ", ".join(_grant_text(g) for g in d["grants"]) or "—",
                      (d["revoked"] or "—")[:19])
    out.print(table)


@client.command("revoke")
@click.argument("name")
@json_option
@click.pass_context
def revoke(ctx: click.Context, name: str, as_json: bool) -> None:
    """Revoke a client: its token and certificate stop working (within 2 s on every node)."""
    with open_client(ctx) as c:
        r = call(lambda: c.revoke_client(name))
    if as_json:
        print_json(_dict(r))
        return
    err.print(f"revoked client {name}")


@client.command("token")
@click.argument("name")
@json_option
@click.pass_context
def token(ctx: click.Context, name: str, as_json: bool) -> None:
    """Issue a new token for NAME (the old one stops working)."""
    with open_client(ctx) as c:
        r = call(lambda: c.replace_token(name))
    if as_json:
        print_json(_dict(r.client) | {"token": r.token})
        return
    out.print(f"new token for {name} (shown once): {r.token}")


@client.command("grant")
@click.argument("name")
@click.argument("grant", metavar="ROLE[@CODE[/**]]")
@json_option
@click.pass_context
def grant(ctx: click.Context, name: str, grant: str, as_json: bool) -> None:
    """Grant a role, e.g. `signer@000.00.00.H13/**`."""
    role, scope, subtree = _parse_grant(grant)
    with open_client(ctx) as c:
        r = call(lambda: c.grant_role(name, role, scope, subtree))
    if as_json:
        print_json(_dict(r))
        return
    err.print(f"granted {grant} to {name}")


@client.command("ungrant")
@click.argument("name")
@click.argument("grant", metavar="ROLE[@CODE]")
@json_option
@click.pass_context
def ungrant(ctx: click.Context, name: str, grant: str, as_json: bool) -> None:
    """Remove a role."""
    role, scope, _ = _parse_grant(grant)
    with open_client(ctx) as c:
        r = call(lambda: c.grant_role(name, role, scope, revoke=True))
    if as_json:
        print_json(_dict(r))
        return
    err.print(f"removed {grant} from {name}")


@click.command("whoami")
@json_option
@click.pass_context
def whoami(ctx: click.Context, as_json: bool) -> None:
    """Who the current credentials belong to, and their roles."""
    with open_client(ctx) as c:
        d = _dict(call(c.whoami))
    if as_json:
        print_json(d)
        return
    out.print(f"{d['name']} ({d['kind']}): "
              f"{', '.join(_grant_text(g) for g in d['grants']) or 'no roles'}")
