"""What every ``kyso`` command shares: the consoles, opening a client from the global
options, turning a refused call into an exit status, and the names of enum values.

The command modules import this; it imports none of them (nor the root).
"""

from __future__ import annotations

import enum
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.text import Text

from clients.client import (
    KEY_ALGORITHMS,
    KysoClient,
    KysoClientError,
    PlaintextTokenError,
    plaintext_check,
    write_output,
)
from clients.verify_report import VIETNAM


class Exit(enum.IntEnum):
    """The exit status of every ``kyso`` command: a script can tell a forged document from
    a server that was down."""

    OK = 0  # done; every signature, token or log checked is valid
    FAILED = 1  # a signature, token or the audit log was checked and found invalid
    USAGE = 2  # the command line or configuration is wrong (click's code); nothing was done
    INDETERMINATE = 3  # checked, but neither valid nor invalid could be established
    ERROR = 4  # could not be done or checked: server unreachable or refusing, unusable input


EXIT_HELP = ("Exit status: 0 done (and everything checked is valid); 1 a signature, token "
             "or the audit log found invalid; 2 a wrong command line or configuration; 3 "
             "validity could not be established (indeterminate); 4 could not be done or "
             "checked (server unreachable or refusing, a bad token, unusable input).")


def vn_time(when: int | datetime | None) -> str | None:
    """A moment as a person in Vietnam reads it, in every output (tables, messages,
    JSON): ISO 8601 at +07:00. ``when``: Unix seconds (0: none) or an aware datetime."""
    if when is None or when == 0:
        return None
    t = datetime.fromtimestamp(when, UTC) if isinstance(when, int) else when
    return t.astimezone(VIETNAM).isoformat()


def fail(code: Exit) -> NoReturn:
    sys.exit(int(code))


# Neither console reads markup, emoji codes or "highlights": everything printed is data
# (an agency named "[dự án] :x:" prints as that, not as a red-less ❌). Colour comes only
# from ``complain``/``warn`` and from styles given as such.
err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)
out = Console(soft_wrap=True, markup=False, emoji=False, highlight=False)


def complain(word: str, message: str, *, sep: str = ": ") -> None:
    """``word`` in red, then ``message`` literally, on standard error."""
    err.print(Text.assemble((word, "red"), sep, message))


def warn(word: str, message: str, *, sep: str = ": ") -> None:
    """``word`` in yellow, then ``message`` literally, on standard error."""
    err.print(Text.assemble((word, "yellow"), sep, message))

STATE_NAMES = {0: "?", 1: "pending", 2: "active", 3: "retired", 4: "compromised"}
ALG_NAMES = {v: k for k, v in KEY_ALGORITHMS.items()} | {6: "ed25519"}  # ed25519: audit key
PROFILE_NAMES = {0: "seal", 1: "seal", 2: "attachment", 3: "copy"}


class WarningsToStderr(logging.Handler):
    """The client library's warnings (e.g. a token sent in clear with --insecure),
    shown the CLI's way."""

    def emit(self, record: logging.LogRecord) -> None:
        warn("warning", record.getMessage())


def show_library_warnings() -> None:
    lib = logging.getLogger("clients.client")
    if not any(isinstance(h, WarningsToStderr) for h in lib.handlers):
        lib.addHandler(WarningsToStderr(logging.WARNING))


def refuse_plaintext_token(endpoint: str, offenders: Sequence[str]) -> NoReturn:
    complain(
        "kyso: refusing to send the bearer token in clear text",
        f"to {endpoint}: {'; '.join(offenders)}. Anyone on the network path could read the "
        "token and act as you. Use TLS: --tls-ca CA.pem (env KYSO_TLS_CA), the CA that issued "
        "the server's certificate; or, only on a network you trust, add --insecure.",
        sep=" ",
    )
    fail(Exit.USAGE)


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
            warn("warning", f"sending the bearer token in clear text to {endpoint} "
                 f"({'; '.join(offenders)}) because of --insecure")


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
        complain("kyso", str(exc))
        fail(Exit.USAGE)


def call(fn: Callable[[], Any]) -> Any:
    """``fn()``; a call the server refused (or could not be reached for) is printed and
    exits ``Exit.ERROR``."""
    try:
        return fn()
    except KysoClientError as exc:
        complain(f"error ({exc.code})", exc.message)
        fail(Exit.ERROR)


def save_output(path: Path, data: bytes) -> None:
    """``clients.client.write_output`` (``-``, devices and FIFOs written through, symbolic
    links followed, regular files replaced atomically); a path that cannot be written is
    said plainly (``Exit.ERROR``), not shown as a traceback."""
    try:
        write_output(path, data)
    except OSError as exc:
        complain("error", f"cannot write {path}: "
                  f"{exc.strerror or str(exc)}")
        fail(Exit.ERROR)


def seal_dict(a: Any) -> dict[str, Any]:
    """An agency's seal assets (``SealAssets``) as the commands print them in JSON."""
    return {
        "agency": a.agency_code,
        "has_seal": a.has_seal,
        "seal_px": [a.seal_width_px, a.seal_height_px] if a.has_seal else None,
        "seal_mm": [a.seal_width_mm, a.seal_height_mm] if a.has_seal else None,
        "default_profile": PROFILE_NAMES.get(a.default_profile, "seal"),
        "xml_form": a.xml_form or "xml-dsig",
        "skip_personal_check": a.skip_personal_signature_check,
        "updated_at": vn_time(a.updated_unix),
    }


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the result as JSON (on standard output).")


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
            "not_after": vn_time(k.certificate.not_after_unix),
        }
    return d
