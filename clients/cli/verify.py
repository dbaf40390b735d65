"""`kyso verify FILE [--content F | --sig F]`: check signatures with the kyso server.

FILE is a .p7s (CAdES), a PDF, an XML/edXML package or an RFC 3161 token (.tsr).
For a detached signature or a token, ``--content F`` names the signed file: it is
hashed here, in chunks, and only its digest is sent (the document stays local).
``--sig F`` is the other way round: FILE is the content and F the signature.

The report, and every refusal of this command (a missing file, a file that is not a
signature, a server that is away or refuses), is in Vietnamese (Circular 15/2025)
unless ``--lang en`` (or ``KYSO_LANG=en``): all of it from ``signer.catalogue``. What
the server or a library said in English goes on a "Chi tiết kỹ thuật" (technical
details) line.

Exit status (``common.Exit``, the same for every command): 0 every signature PASSED;
1 any FAILED (or no signature at all); 3 none FAILED but at least one INDETERMINATE;
2 a wrong command line; 4 nothing could be checked (server unreachable or refusing,
a file that is not a signature).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from clients.cli.common import Exit, err, out, print_json
from clients.client import KysoClient, KysoClientError, PlaintextTokenError, hash_file
from clients.verify_report import indication, render, to_dict
from signer.catalogue import CATALOGUE, Message, text
from signer.catalogue import render as render_message

EXIT = {"PASSED": Exit.OK, "FAILED": Exit.FAILED, "INDETERMINATE": Exit.INDETERMINATE}
_OIDS = {"sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}
LANG_ENV = "KYSO_LANG"
# gRPC status -> what to tell the reader when the server named no catalogue code.
_STATUS_MESSAGES = {
    "UNAVAILABLE": "cli.unavailable",
    "UNAUTHENTICATED": "cli.unauthenticated",
    "PERMISSION_DENIED": "cli.permission_denied",
    "RESOURCE_EXHAUSTED": "cli.too_large",
    "DEADLINE_EXCEEDED": "cli.deadline",
    "INVALID_ARGUMENT": "cli.refused",
    "INTERNAL": "cli.internal",
}
_FILE = click.Path(dir_okay=False, path_type=Path)  # existence: checked in the report's language


def _detached_hash(signature: bytes) -> str | None:
    """The hash algorithm the content must be digested with, read locally from the
    signature (CMS: the SignerInfo's digestAlgorithm; token: the message imprint's).
    None when the server cannot take a digest of it (e.g. SHA-1): send the content."""
    from asn1crypto import cms

    from signer.formats.tsp import token_from_response

    der = signature
    try:
        ci = cms.ContentInfo.load(der)
        if ci["content_type"].native != "signed_data":
            raise ValueError
    except Exception:
        try:
            der = token_from_response(signature)
            ci = cms.ContentInfo.load(der)
        except Exception:
            return None
    try:
        sd = ci["content"]
        encap = sd["encap_content_info"]
        if encap["content_type"].dotted == "1.2.840.113549.1.9.16.1.4":
            algo = encap["content"].parsed["message_imprint"]["hash_algorithm"]["algorithm"]
            return _OIDS.get(algo.native)
        algs = {si["digest_algorithm"]["algorithm"].native for si in sd["signer_infos"]}
    except Exception:
        return None
    if len(algs) != 1:
        return None
    return _OIDS.get(algs.pop())


def lang_of(args: Sequence[str]) -> str:
    """The language asked for on a command line click could not parse: ``--lang X`` or
    ``--lang=X``, else ``KYSO_LANG``, else Vietnamese."""
    args = list(args)
    for i, a in enumerate(args):
        if a == "--lang" and i + 1 < len(args):
            return "en" if args[i + 1] == "en" else "vi"
        if a.startswith("--lang="):
            return "en" if a.split("=", 1)[1] == "en" else "vi"
    return "en" if os.environ.get(LANG_ENV) == "en" else "vi"


def refuse(msg: Message, lang: str, *, status: str = "",
           exit_code: Exit = Exit.ERROR) -> NoReturn:
    """Print one refusal in ``lang`` (its detail on a technical-details line) and exit."""
    head = text("label.error", lang, {"status": status}) if status else (
        text("label.problem", lang) if lang == "vi" else "error")
    lines = [f"{head}: {render_message(msg, lang)}"]
    if msg.detail:
        lines.append(f"  {text('label.details', lang)}: {msg.detail}")
    err.print("\n".join(lines))
    sys.exit(int(exit_code))


def server_refusal(exc: Any) -> Message:
    """A ``KysoClientError`` as a catalogue message: the server's own code if it sent one,
    else one for the gRPC status; the server's English words as the detail."""
    if exc.message_code in CATALOGUE:
        return Message(exc.message_code, tuple(sorted(exc.message_params.items())),
                       exc.message_detail)
    if exc.unreachable:
        return Message.of("cli.unreachable", endpoint=exc.endpoint, detail=exc.message)
    return Message.of(_STATUS_MESSAGES.get(exc.code, "cli.server_error"), detail=exc.message)


class _VerifyCommand(click.Command):
    """``kyso verify``, whose usage errors (a missing FILE, an unknown option) are said in
    the report's language too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        lang = lang_of(args)
        try:
            return super().parse_args(ctx, list(args))
        except click.MissingParameter as exc:
            if lang != "vi":
                raise
            refuse(Message.of("cli.missing_file_argument", detail=exc.format_message()),
                   lang, exit_code=Exit.USAGE)
        except click.UsageError as exc:
            if lang != "vi":
                raise
            refuse(Message.of("cli.usage", detail=exc.format_message()), lang,
                   exit_code=Exit.USAGE)


def _need_file(path: Path | None, lang: str) -> None:
    if path is None:
        return
    if not path.exists():
        refuse(Message.of("cli.file_missing", path=str(path)), lang, exit_code=Exit.USAGE)
    if not path.is_file():
        refuse(Message.of("cli.not_a_file", path=str(path)), lang, exit_code=Exit.USAGE)


def _open_client_in(ctx: click.Context, lang: str) -> Any:
    """``common.open_client``, its refusals said in ``lang``."""
    obj = ctx.find_root().obj
    try:
        return KysoClient(
            obj["server"], timeout=obj["timeout"], token=obj["token"],
            root_certificates=obj["tls_ca"], client_certificate=obj["tls_cert"],
            client_key=obj["tls_key"], insecure=obj["insecure"],
        )
    except PlaintextTokenError as exc:
        refuse(Message.of("cli.plaintext_token", endpoint=exc.endpoint,
                          detail="; ".join(exc.offenders)), lang, exit_code=Exit.USAGE)
    except ValueError as exc:  # a malformed or unresolvable --server
        refuse(Message.of("cli.bad_endpoint", detail=str(exc)), lang, exit_code=Exit.USAGE)


@click.command("verify", cls=_VerifyCommand)
@click.argument("file", type=_FILE)
@click.option("--content", "content_file", type=_FILE,
              help="The signed file of a detached signature or token (only its hash "
              "is sent).")
@click.option("--sig", "sig_file", type=_FILE,
              help="The detached signature (.p7s) or token (.tsr) of FILE.")
@click.option("--kind", type=click.Choice(["auto", "cms", "pdf", "xml", "tsr"]),
              default="auto", show_default=True)
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
              envvar=LANG_ENV,
              help="Language of the report and of refusals (env KYSO_LANG).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@click.pass_context
def verify(ctx: click.Context, file: Path, content_file: Path | None,
           sig_file: Path | None, kind: str, lang: str, as_json: bool) -> None:
    """Verify the signatures of FILE and report in Vietnamese (or English, JSON).

    Exit status: 0 all PASSED, 1 any FAILED, 3 otherwise INDETERMINATE; 2 a wrong
    command line, 4 nothing could be checked (server unreachable or refusing, a file
    that is not a signature).
    """
    if content_file and sig_file:
        refuse(Message.of("cli.content_and_sig"), lang, exit_code=Exit.USAGE)
    for path in (file, content_file, sig_file):
        _need_file(path, lang)
    document, content = (sig_file, file) if sig_file else (file, content_file)
    signature = document.read_bytes()
    kwargs: dict[str, object] = {}
    if content is not None:
        alg = _detached_hash(signature)
        if alg is not None:
            kwargs = {"content_digest": hash_file(content, alg), "content_hash": alg}
        else:
            err.print(f"{text('label.caution', lang)}: {text('cli.sending_content', lang)}")
            kwargs = {"content": content.read_bytes()}
    with _open_client_in(ctx, lang) as c:
        try:
            resp = c.verify(signature, kind=kind, **kwargs)
        except KysoClientError as exc:
            refuse(server_refusal(exc), lang, status=exc.code)
    if as_json:
        print_json(to_dict(resp))
    else:
        out.print(render(resp, lang), end="")
    sys.exit(int(EXIT.get(indication(resp.overall_indication), Exit.ERROR)))
