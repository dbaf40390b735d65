"""The ``kyso`` command line: sign, admin, and ``serve`` (the server itself).

Client commands talk to a kyso server over gRPC (``--server`` or
``KYSO_ENDPOINT``, default 127.0.0.1:50051). ``kyso serve`` imports the server
code lazily, so the client commands work where only the client is installed.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clients.client import (
    DEFAULT_ENDPOINT,
    HASHES,
    KEY_ALGORITHMS,
    SCHEMES,
    KysoClient,
    KysoClientError,
    PlaintextTokenError,
    hash_file,
    plaintext_check,
    write_atomically,
)

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])

STATE_NAMES = {0: "?", 1: "pending", 2: "active", 3: "retired", 4: "compromised"}
ALG_NAMES = {v: k for k, v in KEY_ALGORITHMS.items()} | {6: "ed25519"}  # ed25519: audit key


class _WarningsToStderr(logging.Handler):
    """The client library's warnings (e.g. a token sent in clear with --insecure),
    shown the CLI's way."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[yellow]warning[/yellow]: {record.getMessage()}", highlight=False)


def _show_library_warnings() -> None:
    lib = logging.getLogger("clients.client")
    if not any(isinstance(h, _WarningsToStderr) for h in lib.handlers):
        lib.addHandler(_WarningsToStderr(logging.WARNING))


def _refuse_plaintext_token(endpoint: str, offenders: Sequence[str]) -> NoReturn:
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
            _refuse_plaintext_token(endpoint, offenders)
        if offenders:
            err.print(f"[yellow]warning[/yellow]: sending the bearer token in clear text to "
                      f"{endpoint} ({'; '.join(offenders)}) because of --insecure",
                      highlight=False)


def _client(ctx: click.Context) -> KysoClient:
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
        _refuse_plaintext_token(exc.endpoint, exc.offenders)
    except ValueError as exc:  # a malformed or unresolvable --server
        err.print(f"[red]kyso[/red]: {escape(str(exc))}", highlight=False)
        sys.exit(2)


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def _run(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except KysoClientError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {escape(exc.message)}", highlight=False)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--server",
    envvar="KYSO_ENDPOINT",
    default=DEFAULT_ENDPOINT,
    show_default=True,
    help="kyso gRPC endpoint host:port, or several separated by commas: calls are "
    "balanced over them and retried on another when one is unavailable (env KYSO_ENDPOINT).",
)
@click.option("--timeout", default=60.0, show_default=True, help="Deadline per call, seconds.")
@click.option("--token", envvar="KYSO_TOKEN", help="Bearer token (env KYSO_TOKEN).")
@click.option("--token-file", envvar="KYSO_TOKEN_FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="File holding the bearer token (env KYSO_TOKEN_FILE).")
@click.option("--tls-ca", type=click.Path(exists=True, dir_okay=False), envvar="KYSO_TLS_CA",
              help="Use TLS, trusting this CA (PEM) for the server's certificate.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False),
              envvar="KYSO_TLS_CERT", help="Client certificate (PEM) for mTLS.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), envvar="KYSO_TLS_KEY",
              help="Client private key (PEM) for mTLS.")
@click.option("--insecure", is_flag=True,
              help="Send the bearer token without TLS even to a server that is not on "
              "loopback (anyone on the network path can read it). Without it, a token goes "
              "in clear text to 127.0.0.0/8, ::1 and localhost only.")
@click.version_option(package_name="kyso")
@click.pass_context
def main(ctx: click.Context, server: str, timeout: float, token: str | None,
         token_file: str | None, tls_ca: str | None, tls_cert: str | None,
         tls_key: str | None, insecure: bool) -> None:
    """kyso: organization signatures (electronic seals) and timestamps for
    Vietnamese government e-documents, with keys held in an HSM.

    Calls authenticate with a bearer token (--token, KYSO_TOKEN, --token-file)
    or an mTLS client certificate (--tls-cert/--tls-key). `make run` writes the
    demo administrator's token to var/demo-admin.token.
    """
    if token is None and token_file:
        token = Path(token_file).read_text().strip()
    _show_library_warnings()
    ctx.obj = {"server": server, "timeout": timeout, "token": token, "insecure": insecure,
               "tls_ca": _read(tls_ca), "tls_cert": _read(tls_cert), "tls_key": _read(tls_key)}


# -- serve ------------------------------------------------------------------


@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), envvar="KYSO_CONFIG",
              help="TOML configuration file (env KYSO_CONFIG).")
@click.option("--listen", help="gRPC address host:port (overrides server.listen).")
@click.option("--demo", is_flag=True,
              help="Create the demo agency 000.00.00.H13 with a key and a certificate if missing.")
@click.option("--workers", type=int,
              help="Server processes sharing the ports (overrides server.workers).")
@click.option("--demo-token-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/demo-admin.token"), show_default=True,
              help="With --demo: where the demo administrator's token is written.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--log-format", type=click.Choice(["text", "json"]),
              help="Server log lines: text, or one JSON object per line with request ids "
              "(overrides server.log_format).")
def serve(config_file: str | None, listen: str | None, workers: int | None, demo: bool,
          demo_token_file: Path, log_level: str, log_format: str | None) -> None:
    """Run the kyso server (signer and registry) in the foreground.

    Settings come from the TOML file and KYSO_* environment variables, e.g.
    KYSO_HSM_PIN_FILE, KYSO_HSM_TOKEN_LABEL, KYSO_STORE_URL, KYSO_SERVER_LISTEN.
    SIGTERM or Ctrl-C drains in-flight calls, then exits.
    """
    import logging

    from signer.config import load_settings
    from signer.errors import ConfigError, KysoError

    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    import os

    if log_format:
        os.environ["KYSO_SERVER_LOG_FORMAT"] = log_format

    if listen:
        os.environ["KYSO_SERVER_LISTEN"] = listen  # validated with the other settings
    if workers is not None:
        os.environ["KYSO_SERVER_WORKERS"] = str(workers)
    try:
        settings = load_settings(config_file)
        from signer.runtime.observe import configure_logging
        from signer.runtime.server import serve as run

        configure_logging(log_level, settings.server.log_format, settings.node_id)

        run(settings, demo=demo, demo_token_file=demo_token_file)
    except ConfigError as exc:
        err.print(f"[red]kyso: cannot start[/red]: {escape(exc.message)}", highlight=False)
        sys.exit(2)
    except KysoError as exc:
        err.print(f"[red]kyso: cannot start[/red]: {escape(exc.message)}", highlight=False)
        sys.exit(1)
    except OSError as exc:
        err.print(f"[red]kyso: cannot start[/red]: {escape(str(exc))}", highlight=False)
        sys.exit(1)


# -- sign -------------------------------------------------------------------


@main.group()
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
@click.pass_context
def sign_cms(ctx: click.Context, file: Path, agency: str, output: Path | None,
             hash_alg: str, level: str) -> None:
    """Write a detached CMS (CAdES-B-B) signature of FILE, in DER.

    Check it with: openssl cms -verify -binary -inform DER -in FILE.p7s
    -content FILE -CAfile CA.pem
    """
    output = output or file.with_name(file.name + ".p7s")
    digest = hash_file(file, hash_alg)
    with _client(ctx) as c:
        resp = _run(lambda: c.sign_digests(agency, [digest], hash_alg=hash_alg, cms=True,
                                           timestamp=level == "B-T"))
    signed = resp.signatures[0]
    write_atomically(output, bytes(signed.signature))
    reached = {1: "B-B", 2: "B-T"}.get(signed.level, "B-B")
    err.print(
        f"signed {file} ({hash_alg} {digest.hex()[:16]}…) for {agency} with key "
        f"{resp.key_id[:16]}… as CAdES-{reached} → {output}",
        highlight=False,
    )
    if reached != level:
        err.print("[yellow]warning[/yellow]: the timestamp authority failed; the signature "
                  "has no timestamp (the server is configured to degrade)", highlight=False)


# -- timestamp --------------------------------------------------------------


class _DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to ``default``:
    ``kyso timestamp FILE`` and ``kyso timestamp verify FILE FILE.tsr`` both work."""

    default = "create"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


@main.group(cls=_DefaultGroup)
def timestamp() -> None:
    """RFC 3161 timestamps: `kyso timestamp FILE` or `kyso timestamp verify FILE FILE.tsr`."""


@timestamp.command("create", hidden=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file [default: FILE.tsr].")
@click.option("--hash", "hash_alg", type=click.Choice(sorted(HASHES)), default="sha256",
              show_default=True)
@click.option("--url", help="An RFC 3161 HTTP URL, e.g. http://127.0.0.1:8080/tsa "
              "[default: kyso's gRPC endpoint].")
@click.option("--policy", help="Ask for this TSA policy OID.")
@click.pass_context
def timestamp_create(ctx: click.Context, file: Path, output: Path | None, hash_alg: str,
                     url: str | None, policy: str | None) -> None:
    """Timestamp FILE: hash it locally, send a nonce, check the reply, write FILE.tsr."""
    from clients.client import post_timestamp_query
    from signer.formats.tsp import TimestampError, check_response, make_request, verify_token

    output = output or file.with_name(file.name + ".tsr")
    digest = hash_file(file, hash_alg)
    request, _nonce = make_request(digest, hash_alg, policy=policy)
    if url:
        reply = _run(lambda: post_timestamp_query(url, request, ctx.find_root().obj["timeout"]))
    else:
        with _client(ctx) as c:
            reply = _run(lambda: c.timestamp(request))
    try:
        check_response(reply, request_der=request)
        info = verify_token(reply, digest=digest)
    except TimestampError as exc:
        err.print(f"[red]timestamp refused or invalid[/red]: {escape(str(exc))}", highlight=False)
        sys.exit(1)
    write_atomically(output, reply)
    err.print(f"timestamped {file} at {info.gen_time.isoformat()} (serial {info.serial:x}, "
              f"policy {info.policy}) → {output}", highlight=False)


@timestamp.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("tsr", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ca", "ca_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trusted root certificate(s), PEM, to check the TSA's chain.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def timestamp_verify(file: Path, tsr: Path, ca_file: Path | None, as_json: bool) -> None:
    """Check that TSR is a valid timestamp of FILE (and, with --ca, who issued it)."""
    from signer.formats.tsp import TimestampError, verify_token

    try:
        info = verify_token(
            tsr.read_bytes(), data_path=str(file),
            trusted_roots_pem=ca_file.read_bytes() if ca_file else None,
        )
    except TimestampError as exc:
        err.print(f"[red]INVALID[/red]: {escape(str(exc))}", highlight=False)
        sys.exit(1)
    result = {
        "valid": True,
        "chain_checked": ca_file is not None,
        "serial": format(info.serial, "x"),
        "gen_time": info.gen_time.isoformat(),
        "policy": info.policy,
        "hash": info.hash_alg,
        "tsa": info.tsa_subject,
        "accuracy": info.accuracy,
    }
    if as_json:
        out.print_json(json.dumps(result, ensure_ascii=False))
        return
    out.print(f"OK: {file} existed at {info.gen_time.isoformat()} (±{info.accuracy or '?'})",
              highlight=False)
    out.print(f"  TSA {info.tsa_subject}, serial {info.serial:x}, policy {info.policy}",
              highlight=False)
    if ca_file is None:
        out.print("  the TSA's certificate chain was not checked: give --ca CA.pem",
                  highlight=False)


# -- admin ------------------------------------------------------------------


@main.group()
def admin() -> None:
    """Administer agencies, keys and certificates."""


@admin.group("agency")
def agency_group() -> None:
    """Agencies and their identifier codes."""


def _agency_dict(a: Any) -> dict[str, Any]:
    return {
        "code": a.code,
        "name": a.name,
        "level": a.level,
        "parent": a.parent_code or None,
        "keys": [_key_dict(k) for k in a.keys],
    }


def _key_dict(k: Any) -> dict[str, Any]:
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


@agency_group.command("add")
@click.argument("code")
@click.option("--name", required=True, help="Official name of the body.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agency_add(ctx: click.Context, code: str, name: str, as_json: bool) -> None:
    """Register an agency by its code (QCVN 102:2016 or Decision 20/2020)."""
    with _client(ctx) as c:
        a = _run(lambda: c.create_agency(code, name))
    if as_json:
        out.print_json(json.dumps(_agency_dict(a), ensure_ascii=False))
    else:
        parent = f", parent {a.parent_code}" if a.parent_code else ""
        out.print(f"added agency {a.code} — {a.name} (level {a.level}{parent})", highlight=False)


@agency_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agency_list(ctx: click.Context, as_json: bool) -> None:
    """List agencies with their active keys."""
    with _client(ctx) as c:
        agencies = _run(c.list_agencies)
    if as_json:
        out.print_json(json.dumps([_agency_dict(a) for a in agencies], ensure_ascii=False))
        return
    table = Table("code", "name", "level", "keys (active)")
    for a in agencies:
        active = [k for k in a.keys if k.state == 2]
        table.add_row(a.code, a.name, str(a.level), f"{len(a.keys)} ({len(active)})")
    out.print(table)


@agency_group.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def agency_show(ctx: click.Context, code: str, as_json: bool) -> None:
    """Show an agency and its keys."""
    with _client(ctx) as c:
        a = _run(lambda: c.get_agency(code))
    d = _agency_dict(a)
    if as_json:
        out.print_json(json.dumps(d, ensure_ascii=False))
        return
    out.print(f"{a.code} — {a.name} (level {a.level})", highlight=False)
    table = Table("key id", "algorithm", "state", "certificate subject", "valid until")
    for k in d["keys"]:
        cert = k.get("certificate") or {}
        table.add_row(k["key_id"], k["algorithm"], k["state"], cert.get("subject", "—"),
                      cert.get("not_after", "—")[:10])
    out.print(table)


@admin.group()
def key() -> None:
    """Organization keys in the HSM."""


@key.command("generate")
@click.argument("code")
@click.option("--algorithm", type=click.Choice(sorted(KEY_ALGORITHMS)), default="rsa-2048",
              show_default=True)
@click.option("--scheme", type=click.Choice(sorted(SCHEMES)),
              help="Signature scheme [default: pkcs1v15 for RSA, ecdsa for EC].")
@click.pass_context
def key_generate(ctx: click.Context, code: str, algorithm: str, scheme: str | None) -> None:
    """Generate a key pair inside the HSM for agency CODE (pending until certified)."""
    with _client(ctx) as c:
        k = _run(lambda: c.generate_key(code, algorithm, scheme))
    out.print(f"generated {algorithm} key {k.key_id} for {code} (pending: issue a certificate "
              f"with `kyso admin cert issue {code}`)", highlight=False)


@admin.group()
def cert() -> None:
    """Certificates of organization keys."""


@cert.command("issue")
@click.argument("code")
@click.option("--key-id", default="", help="Hex key id [default: the agency's newest key].")
@click.option("--days", default=365, show_default=True, help="Validity in days.")
@click.pass_context
def cert_issue(ctx: click.Context, code: str, key_id: str, days: int) -> None:
    """Issue a development-CA certificate for an agency's key and activate the key."""
    with _client(ctx) as c:
        k = _run(lambda: c.issue_dev_certificate(code, key_id, days))
    out.print(f"issued certificate {k.certificate.serial_hex} for {code}: {k.certificate.subject}"
              f"; key {k.key_id} is active", highlight=False)


@admin.group()
def ca() -> None:
    """The development CA."""


@ca.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def ca_export(ctx: click.Context, output: Path) -> None:
    """Write the development CA certificate as PEM (a trust anchor for verifiers)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    with _client(ctx) as c:
        der = _run(c.ca_certificate)
    pem = x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)
    write_atomically(output, pem)
    err.print(f"wrote the development CA certificate to {output}", highlight=False)


from clients.cli import bench as cli_bench  # noqa: E402
from clients.cli import clients as cli_clients  # noqa: E402
from clients.cli import report as cli_report  # noqa: E402

cli_clients.register(admin)
cli_report.register(admin)
cli_bench.register(main)
from clients.cli import keys as cli_keys  # noqa: E402  (keys: admin key/cert lifecycle, admin seal)

cli_keys.register(admin)

from clients.cli import audit as cli_audit  # noqa: E402

admin.add_command(cli_audit.audit)

from clients.cli import agency as cli_agency  # noqa: E402

cli_agency.register(agency_group)

from clients.cli import pdf as cli_pdf  # noqa: E402  (pdf: kyso sign pdf, kyso admin seal policy)

cli_pdf.register(sign, admin)

from clients.cli import xml as cli_xml  # noqa: E402  (sign xml: XML-DSig / XAdES)

cli_xml.register(sign)
from clients.cli import verify as cli_verify  # noqa: E402  (verify)

cli_verify.register(main)  # verify

if __name__ == "__main__":
    main()
