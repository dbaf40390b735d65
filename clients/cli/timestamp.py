"""``kyso timestamp FILE`` and ``kyso timestamp verify FILE FILE.tsr``: RFC 3161
timestamps, asked of kyso over gRPC or of any TSA over HTTP, checked here."""

from __future__ import annotations

from pathlib import Path

import click

from clients.cli.common import (
    Exit,
    call,
    complain,
    err,
    fail,
    json_option,
    open_client,
    out,
    print_json,
    save_output,
    vn_time,
)
from clients.client import HASHES
from signer.formats.tsp import TimestampError


class _DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to ``default``:
    ``kyso timestamp FILE`` and ``kyso timestamp verify FILE FILE.tsr`` both work."""

    default = "create"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path,
                              "[OPTIONS] FILE  |  verify [OPTIONS] FILE FILE.tsr")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The options of the main use (`kyso timestamp FILE`) first, not hidden behind
        its subcommand's name; then the group's own, and the other commands."""
        default = self.commands[self.default]
        records = [r for p in default.get_params(ctx)
                   if isinstance(p, click.Option) and not p.hidden and "--help" not in p.opts
                   and (r := p.get_help_record(ctx))]
        with formatter.section(f"Options of `{ctx.command_path} FILE`"):
            formatter.write_dl(records)
        super().format_options(ctx, formatter)


# What a refused token means for `kyso timestamp verify`'s exit status (``Exit``).
_VERIFY_EXIT = {
    TimestampError.IMPRINT: Exit.FAILED,  # a token of other data
    TimestampError.ALTERED: Exit.FAILED,
    TimestampError.SIGNATURE: Exit.FAILED,
    TimestampError.INVALID: Exit.FAILED,  # malformed, or not what RFC 3161 requires
    TimestampError.WEAK: Exit.INDETERMINATE,
    TimestampError.NO_CERTIFICATE: Exit.INDETERMINATE,
    TimestampError.UNTRUSTED: Exit.INDETERMINATE,
    TimestampError.UNREADABLE: Exit.ERROR,
    TimestampError.NOT_A_TOKEN: Exit.ERROR,  # nothing to check
}


@click.group(cls=_DefaultGroup)
def timestamp() -> None:
    """RFC 3161 timestamps. `kyso timestamp FILE` hashes FILE here, asks kyso (or the TSA
    at --url) for a token with a fresh nonce, checks the reply and writes FILE.tsr;
    `kyso timestamp verify FILE FILE.tsr` checks one."""


@timestamp.command("create", hidden=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file [default: FILE.tsr].")
@click.option("--hash", "hash_alg", type=click.Choice(sorted(HASHES)), default="sha256",
              show_default=True)
@click.option("--url", help="An RFC 3161 HTTP URL, e.g. http://127.0.0.1:8080/tsa "
              "[default: kyso's gRPC endpoint].")
@click.option("--policy", help="Ask for this TSA policy OID.")
@json_option
@click.pass_context
def timestamp_create(ctx: click.Context, file: Path, output: Path | None, hash_alg: str,
                     url: str | None, policy: str | None, as_json: bool) -> None:
    """Timestamp FILE: hash it locally, send a nonce, check the reply, write FILE.tsr."""
    from clients.client import post_timestamp_query, timestamp_checked

    output = output or file.with_name(file.name + ".tsr")
    try:
        if url:
            timeout = ctx.find_root().obj["timeout"]
            reply, info = call(lambda: timestamp_checked(
                file, lambda req: post_timestamp_query(url, req, timeout),
                hash_alg=hash_alg, policy=policy))
        else:
            with open_client(ctx) as c:
                reply, info = call(lambda: timestamp_checked(
                    file, c.timestamp, hash_alg=hash_alg, policy=policy))
    except TimestampError as exc:
        complain("timestamp refused or invalid", str(exc))
        fail(Exit.ERROR)
    save_output(output, reply)
    if as_json:
        print_json({"file": str(file), "output": str(output), "hash": hash_alg,
                    "gen_time": vn_time(info.gen_time), "serial": format(info.serial, "x"),
                    "policy": info.policy, "tsa": info.tsa_subject})
        return
    err.print(f"timestamped {file} at {vn_time(info.gen_time)} (serial {info.serial:x}, "
              f"policy {info.policy}) → {output}")


@timestamp.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("tsr", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ca", "ca_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trusted root certificate(s), PEM, to check the TSA's chain.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def timestamp_verify(file: Path, tsr: Path, ca_file: Path | None, as_json: bool) -> None:
    """Check that TSR is a valid timestamp of FILE (and, with --ca, who issued it).

    Exit status: 0 valid; 1 invalid (altered, malformed, or of other data); 3 undetermined
    (the TSA does not chain to --ca, a weak hash, no TSA certificate); 4 nothing to check
    (TSR is not a timestamp at all, or a file cannot be read).
    """
    from signer.formats.tsp import verify_token

    try:
        info = verify_token(
            tsr.read_bytes(), data_path=str(file),
            trusted_roots_pem=ca_file.read_bytes() if ca_file else None,
        )
    except TimestampError as exc:
        code = _VERIFY_EXIT.get(exc.reason, Exit.FAILED)
        word = {Exit.FAILED: "INVALID", Exit.INDETERMINATE: "UNDETERMINED"}.get(code, "error")
        complain(word, str(exc))
        fail(code)
    result = {
        "valid": True,
        "chain_checked": ca_file is not None,
        "serial": format(info.serial, "x"),
        "gen_time": vn_time(info.gen_time),
        "policy": info.policy,
        "hash": info.hash_alg,
        "tsa": info.tsa_subject,
        "accuracy": info.accuracy,
    }
    if as_json:
        print_json(result)
        return
    out.print(f"OK: {file} existed at {vn_time(info.gen_time)} (±{info.accuracy or '?'})")
    out.print(f"  TSA {info.tsa_subject}, serial {info.serial:x}, policy {info.policy}")
    if ca_file is None:
        out.print("  the TSA's certificate chain was not checked: give --ca CA.pem")
