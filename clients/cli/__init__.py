"""The ``kyso`` command line: the root group, its global options, and the command tree.

Client commands talk to a kyso server over gRPC (``--server`` or ``KYSO_ENDPOINT``,
default 127.0.0.1:50051). Each area's commands live in a module of this package
(``agency``, ``keys``, ``sign``, ``pdf`` …), sharing ``common``; this root imports
them (each when its command is used) and assembles the tree below. No module here
imports the root.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from clients.cli.common import EXIT_HELP, show_library_warnings
from clients.client import DEFAULT_ENDPOINT


class _LazyGroup(click.Group):
    """A group whose subcommands are imported when one is used: ``kyso admin agency list``
    loads ``clients.cli.agency`` and not the benchmark's, PDF's or report's modules, so a
    command starts in a fraction of the time importing every area takes. ``--help``
    lists them all (and imports them)."""

    def __init__(self, *args: object, lazy: dict[str, Callable[[], click.Command]],
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy and cmd_name not in self.commands:
            self.add_command(self._lazy[cmd_name](), cmd_name)
        return super().get_command(ctx, cmd_name)


def _serve() -> click.Command:
    from clients.cli import serve

    return serve.serve


def _sign() -> click.Command:
    from clients.cli import pdf, sign, xml

    sign.sign.add_command(pdf.sign_pdf_cmd)
    sign.sign.add_command(xml.sign_xml_command)
    return sign.sign


def _timestamp() -> click.Command:
    from clients.cli import timestamp

    return timestamp.timestamp


def _verify() -> click.Command:
    from clients.cli import verify

    return verify.verify


def _bench() -> click.Command:
    from clients.cli import bench

    return bench.bench


def _admin() -> click.Command:
    return admin


def _agency() -> click.Command:
    from clients.cli import agency

    return agency.agency


def _keys(name: str) -> Callable[[], click.Command]:
    def load() -> click.Command:
        from clients.cli import keys

        group: click.Group = getattr(keys, name)
        if name == "seal":
            from clients.cli import pdf

            group.add_command(pdf.seal_policy)
        return group

    return load


def _client() -> click.Command:
    from clients.cli import clients

    return clients.client


def _whoami() -> click.Command:
    from clients.cli import clients

    return clients.whoami


def _report() -> click.Command:
    from clients.cli import report

    return report.report


def _audit() -> click.Command:
    from clients.cli import audit

    return audit.audit


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def _bearer_token(ctx: click.Context, token: str | None, token_file: str | None) -> str | None:
    """The one bearer token the options and the environment name.

    What is on the command line beats the environment (``--token-file`` beats
    ``KYSO_TOKEN``, ``--token`` beats ``KYSO_TOKEN_FILE``); two different tokens named
    at the same level (both options, or both variables) are refused rather than one
    silently chosen, so a test of a restricted client never runs as someone else."""
    def explicit(name: str) -> bool:
        return ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE

    from_file = Path(token_file).read_text().strip() if token_file else None
    if token is None or from_file is None or token == from_file:
        return token if token is not None else from_file
    if explicit("token") != explicit("token_file"):
        return token if explicit("token") else from_file
    where = ("--token and --token-file" if explicit("token")
             else "KYSO_TOKEN and KYSO_TOKEN_FILE")
    raise click.UsageError(f"{where} name two different bearer tokens; give only one.")


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_HELP,
             lazy={"serve": _serve, "sign": _sign, "timestamp": _timestamp,
                   "verify": _verify, "bench": _bench, "admin": _admin})
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

    Calls authenticate with a bearer token (--token or --token-file; the
    environment's KYSO_TOKEN or KYSO_TOKEN_FILE when neither option is given) or an
    mTLS client certificate (--tls-cert/--tls-key). `make run` writes the
    demo administrator's token to var/demo-admin.token.
    """
    token = _bearer_token(ctx, token, token_file)
    show_library_warnings()
    ctx.obj = {"server": server, "timeout": timeout, "token": token, "insecure": insecure,
               "tls_ca": _read(tls_ca), "tls_cert": _read(tls_cert), "tls_key": _read(tls_key)}


@click.group(cls=_LazyGroup, lazy={
    "agency": _agency, "key": _keys("key"), "cert": _keys("cert"), "ca": _keys("ca"),
    "tsa": _keys("tsa"), "seal": _keys("seal"), "client": _client, "whoami": _whoami,
    "report": _report, "audit": _audit})
def admin() -> None:
    """Administer agencies, keys and certificates."""
