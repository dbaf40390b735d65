"""``kyso sign xml``: enveloped XML-DSig for edXML packages, XAdES-B-B/B-T for any XML::

    kyso sign xml IN.xml --agency CODE [-o OUT.xml] [--hash sha256|sha384|sha512]
                  [--form xml-dsig|xades-b-b|xades-b-t] [--xpath EXPR] [--no-chain]
                  [--type CV --number "12/UBND-VP"]

The form defaults to the agency's (``kyso admin seal xml-form``; xml-dsig unless set).

The document is canonicalised and hashed here; only the digest of SignedInfo goes
to kyso (see ``signer.formats.xmldsig``).
"""

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
    print_json,
    save_output,
)
from clients.client import HASHES


@click.command("xml")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agency", required=True, help="Agency code, e.g. 000.00.00.H13.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file [default: FILE with .signed.xml].")
@click.option("--hash", "hash_alg", type=click.Choice(sorted(HASHES)), default="sha256",
              show_default=True, help="Digest and signature hash.")
@click.option("--form", type=click.Choice(["xml-dsig", "xades-b-b", "xades-b-t"]),
              default=None, help="xml-dsig: QCVN 102:2016's exact enveloped XML-DSig (no "
              "signing time); xades-b-b: XAdES (ETSI EN 319 132-1) with a signed signing "
              "time; xades-b-t: and a signature timestamp [default: the agency's, set with "
              "`kyso admin seal xml-form`].")
@click.option("--xades", is_flag=True, help="Same as --form xades-b-b.")
@click.option("--level", type=click.Choice(["B-B", "B-T"]), default=None,
              help="XAdES level (implies --xades): B-T adds a signature timestamp.")
@click.option("--xpath", help="Append the signature to the one element this XPath selects "
              "[default: the root; edXML: edXMLHeader]. Prefixes of the root, ds and edxml "
              "are known.")
@click.option("--no-chain", is_flag=True,
              help="Put only the signer certificate in X509Data, not its issuers.")
@click.option("--type", "document_type", default="",
              help="Document type for statistics, e.g. CV, QĐ.")
@click.option("--number", "document_number", default="",
              help="Document number and symbol, e.g. \"12/UBND-VP\".")
@json_option
@click.pass_context
def sign_xml_command(ctx: click.Context, file: Path, agency: str, output: Path | None,
                     hash_alg: str, form: str | None, xades: bool, level: str | None,
                     xpath: str | None, no_chain: bool, document_type: str,
                     document_number: str, as_json: bool) -> None:
    """Sign an XML file with an enveloped signature (edXML: in edXMLHeader).

    Check it with: xmlsec1 --verify --trusted-pem CA.pem
    --id-attr:Id http://uri.etsi.org/01903/v1.3.2#:SignedProperties OUT.xml
    """
    try:  # lxml is the optional "xml" extra: the rest of the CLI works without it
        from signer.formats.xmldsig import XmlSignError, sign_with_kyso
    except ImportError as exc:
        complain("error", f"XML signing needs lxml (pip install 'kyso[xml]'): {exc}")
        fail(Exit.ERROR)
    output = output or file.with_name(file.stem + ".signed.xml")
    if form is not None and (xades or level is not None):
        complain("error", "give --form, or the older --xades/--level, not both")
        fail(Exit.USAGE)
    if form is None and (xades or level is not None):
        form = "xades-b-t" if level == "B-T" else "xades-b-b"
    data = file.read_bytes()
    with open_client(ctx) as c:
        if form is None:  # the agency's own choice
            form = call(lambda: c.get_seal_image(agency)).xml_form or "xml-dsig"
        xades = form != "xml-dsig"
        level = "B-T" if form == "xades-b-t" else "B-B"
        try:
            signed = call(lambda: sign_with_kyso(
                c, agency, data, hash_alg=hash_alg, xades=xades, level=level, xpath=xpath,
                include_chain=not no_chain, document_type=document_type,
                document_number=document_number))
        except XmlSignError as exc:
            complain("error", f"{file}: {exc}")
            fail(Exit.ERROR)
    save_output(output, signed)
    kind = f"XAdES-{level}" if xades else "XML-DSig"
    if as_json:
        print_json({"file": str(file), "output": str(output), "agency": agency,
                    "form": form, "level": kind, "hash": hash_alg})
        return
    err.print(f"signed {file} for {agency} ({kind}, {hash_alg}) → {output}")
