"""What every ``kyso`` command shares: the consoles, opening a client from the global
options, turning a refused call into an exit status, and the names of enum values.

The command modules import this; it imports none of them (nor the root).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape

from clients.client import (
    KEY_ALGORITHMS,
    KysoClient,
    KysoClientError,
    PlaintextTokenError,
    plaintext_check,
)

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

STATE_NAMES = {0: "?", 1: "pending", 2: "active", 3: "retired", 4: "compromised"}
ALG_NAMES = {v: k for k, v in KEY_ALGORITHMS.items()} | {6: "ed25519"}  # ed25519: audit key
PROFILE_NAMES = {0: "seal", 1: "seal", 2: "attachment", 3: "copy"}


class WarningsToStderr(logging.Handler):
    """The client library's warnings (e.g. a token sent in clear with --insecure),
    shown the CLI's way."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[yellow]warning[/yellow]: {record.getMessage()}", highlight=False)


def show_library_warnings() -> None:
    lib = logging.getLogger("clients.client")
    if not any(isinstance(h, WarningsToStderr) for h in lib.handlers):
        lib.addHandler(WarningsToStderr(logging.WARNING))


def refuse_plaintext_token(endpoint: str, offenders: Sequence[str]) -> NoReturn:
    err.print(
        f"[red]kyso: refusing to send the bearer token in clear text[/red] to {endpoint}: "
        f"{'; '.join(offenders)}. Anyone on the network path could read the token and act "
        "as you. Use TLS: --tls-ca CA.pem (env KYSO_TLS_CA), the CA that issued the server's "
        "certificate; or, only on a network you trust, add --insecure.",
        highlight=False,
    )
    sys.exit(2)


def check_plaintext_endpoints(ctx: click.Context, endpoints: Sequence[str]) -> None:
    """For commands that open plaintext channels themselves (`kyso bench`): the same
    refusal as the client library's, unless --insecure (then a warning)."""
    obj = ctx.find_root().obj
    if not obj["token"]:
        return
    for endpoint in endpoints:
        _, offenders = plaintext_check(endpoint)
        if offenders and not obj["insecure"]:
            refuse_plaintext_token(endpoint, offenders)
        if offenders:
            err.print(f"[yellow]warning[/yellow]: sending the bearer token in clear text to "
                      f"{endpoint} ({'; '.join(offenders)}) because of --insecure",
                      highlight=False)


def open_client(ctx: click.Context) -> KysoClient:
    """A client for the server, credentials and TLS the global options name; exit 2 on a
    bad ``--server`` or a token that would go in clear text."""
    obj = ctx.find_root().obj
    try:
        return KysoClient(
            obj["server"],
            timeout=obj["timeout"],
            token=obj["token"],
            root_certificates=obj["tls_ca"],
            client_certificate=obj["tls_cert"],
            client_key=obj["tls_key"],
            insecure=obj["insecure"],
        )
    except PlaintextTokenError as exc:
        refuse_plaintext_token(exc.endpoint, exc.offenders)
    except ValueError as exc:  # a malformed or unresolvable --server
        err.print(f"[red]kyso[/red]: {escape(str(exc))}", highlight=False)
        sys.exit(2)


def call(fn: Callable[[], Any]) -> Any:
    """``fn()``; a call the server refused is printed and exits 1."""
    try:
        return fn()
    except KysoClientError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {escape(exc.message)}", highlight=False)
        sys.exit(1)


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, ensure_ascii=False))


def key_dict(k: Any) -> dict[str, Any]:
    """A registry ``Key`` message as the JSON the commands print."""
    d: dict[str, Any] = {
        "key_id": k.key_id,
        "label": k.label,
        "algorithm": ALG_NAMES.get(k.algorithm, "?"),
        "state": STATE_NAMES.get(k.state, "?"),
        "agency": k.agency_code or None,
    }
    if k.HasField("certificate"):
        d["certificate"] = {
            "subject": k.certificate.subject,
            "issuer": k.certificate.issuer,
            "serial": k.certificate.serial_hex,
            "not_after": datetime.fromtimestamp(k.certificate.not_after_unix, UTC).isoformat(),
        }
    return d
