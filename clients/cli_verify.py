"""`kyso verify FILE [--content F | --sig F]`: check signatures with the kyso server.

FILE is a .p7s (CAdES), a PDF, an XML/edXML package or an RFC 3161 token (.tsr).
For a detached signature or a token, ``--content F`` names the signed file: it is
hashed here, in chunks, and only its digest is sent (the document stays local).
``--sig F`` is the other way round: FILE is the content and F the signature.

Exit status: 0 every signature PASSED; 1 any FAILED (or no signature, or an
error); 2 none FAILED but at least one INDETERMINATE.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from clients.verify_report import indication, render, to_dict

EXIT = {"PASSED": 0, "FAILED": 1, "INDETERMINATE": 2}
_OIDS = {"sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}


def _detached_hash(signature: bytes) -> str | None:
    """The hash algorithm the content must be digested with, read locally from the
    signature (CMS: the SignerInfo's digestAlgorithm; token: the message imprint's).
    None when the server cannot take a digest of it (e.g. SHA-1): send the content."""
    from asn1crypto import cms

    from clients.tsp import token_from_response

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


def register(main: click.Group) -> None:
    from clients.cli import _client, _run, err, out
    from clients.client import hash_file

    @main.command("verify")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--content", "content_file",
                  type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="The signed file of a detached signature or token (only its hash "
                  "is sent).")
    @click.option("--sig", "sig_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="The detached signature (.p7s) or token (.tsr) of FILE.")
    @click.option("--kind", type=click.Choice(["auto", "cms", "pdf", "xml", "tsr"]),
                  default="auto", show_default=True)
    @click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True,
                  help="Language of the report.")
    @click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
    @click.pass_context
    def verify(ctx: click.Context, file: Path, content_file: Path | None,
               sig_file: Path | None, kind: str, lang: str, as_json: bool) -> None:
        """Verify the signatures of FILE and report in Vietnamese (or English, JSON).

        Exit status: 0 all PASSED, 1 any FAILED, 2 otherwise INDETERMINATE.
        """
        if content_file and sig_file:
            raise click.UsageError("give --content or --sig, not both")
        document, content = (sig_file, file) if sig_file else (file, content_file)
        signature = document.read_bytes()
        kwargs: dict[str, object] = {}
        if content is not None:
            alg = _detached_hash(signature)
            if alg is not None:
                kwargs = {"content_digest": hash_file(content, alg), "content_hash": alg}
            else:
                err.print("[yellow]note[/yellow]: the signature's hash algorithm cannot be "
                          "sent as a digest; sending the content itself", highlight=False)
                kwargs = {"content": content.read_bytes()}
        with _client(ctx) as c:
            resp = _run(lambda: c.verify(signature, kind=kind, **kwargs))  # type: ignore[arg-type]
        if as_json:
            out.print_json(json.dumps(to_dict(resp), ensure_ascii=False))
        else:
            out.print(render(resp, lang), highlight=False, markup=False, end="")
        sys.exit(EXIT.get(indication(resp.overall_indication), 1))
