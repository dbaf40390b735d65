"""``kyso sign``: the group of signing commands, and ``kyso sign cms`` (a detached
CAdES signature). The PDF and XML forms are in ``pdf`` and ``xml``."""

from __future__ import annotations

from pathlib import Path

import click

from clients.cli.common import call, err, json_option, open_client, print_json, save_output, warn
from clients.client import HASHES, hash_file


@click.group()
def sign() -> None:
    """Sign files (hashed locally; only the digest is sent)."""


@sign.command("cms")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agency", required=True, help="Agency code, e.g. 000.00.00.H13.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file [default: FILE.p7s].")
@click.option("--hash", "hash_alg", type=click.Choice(sorted(HASHES)), default="sha256",
              show_default=True)
@click.option("--level", type=click.Choice(["B-B", "B-T"]), default="B-B", show_default=True,
              help="CAdES level: B-T adds a signature timestamp.")
@json_option
@click.pass_context
def sign_cms(ctx: click.Context, file: Path, agency: str, output: Path | None,
             hash_alg: str, level: str, as_json: bool) -> None:
    """Write a detached CMS (CAdES-B-B) signature of FILE, in DER.

    Check it with: openssl cms -verify -binary -inform DER -in FILE.p7s
    -content FILE -CAfile CA.pem
    """
    output = output or file.with_name(file.name + ".p7s")
    digest = hash_file(file, hash_alg)
    with open_client(ctx) as c:
        resp = call(lambda: c.sign_digests(agency, [digest], hash_alg=hash_alg, cms=True,
                                           timestamp=level == "B-T"))
    signed = resp.signatures[0]
    save_output(output, bytes(signed.signature))
    reached = {1: "B-B", 2: "B-T"}.get(signed.level, "B-B")
    if as_json:
        print_json({"file": str(file), "output": str(output), "agency": agency,
                    "key_id": resp.key_id, "hash": hash_alg, "digest": digest.hex(),
                    "level": f"CAdES-{reached}", "level_asked": f"CAdES-{level}"})
        return
    err.print(
        f"signed {file} ({hash_alg} {digest.hex()[:16]}…) for {agency} with key "
        f"{resp.key_id} as CAdES-{reached} → {output}",
    )
    if reached != level:
        warn("warning", "the timestamp authority failed; the signature "
                  "has no timestamp (the server is configured to degrade)")
