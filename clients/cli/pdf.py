"""``kyso sign pdf`` and ``kyso admin seal policy``: PAdES organization signatures.

::

    kyso sign pdf IN.pdf -o OUT.pdf --agency CODE [--profile seal|attachment|copy]
        [--number "11/CT-UBND"] [--type CT] [--level B-B|B-T|B-LT]
        [--copy-form "SAO Y"|"SAO LỤC"|"TRÍCH SAO"] [--at PAGE,X,Y] [--tsa-url URL]
    kyso admin seal policy CODE --skip-personal-check|--require-personal-check

The PDF never leaves this machine: the revision, field and appearance are made
here, only the digest goes to kyso (``signer.formats.pdf.pades``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from clients.cli.common import (
    PROFILE_NAMES,
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
    seal_dict,
    warn,
)
from clients.cli.verify import server_refusal
from clients.client import SCHEMES, KysoClient, KysoClientError

SCHEME_NAMES = {v: k for k, v in SCHEMES.items()}


def _parse_at(text: str | None) -> tuple[int, float, float] | None:
    if not text:
        return None
    parts = text.split(",")
    try:
        page, x, y = int(parts[0]), float(parts[1]), float(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError):
        raise click.BadParameter("use PAGE,X,Y, e.g. 1,320.5,180 (points)",
                                 param_hint="--at") from None
    return page, x, y


def server_trust(c: KysoClient) -> Any:
    """The seal profile's leader check, asked of the server's verifier over ``Verify``:
    each personal signature's CMS (with the PDF's DSS material) and the digest of its
    byte ranges go, never the PDF. Returns a ``signer.formats.pdf.personal.TrustCheck``."""
    from clients.verify_report import indication, messages_of
    from signer.catalogue import Message, legacy
    from signer.formats.pdf.personal import SignatureEvidence, TrustVerdict

    def check(evidence: SignatureEvidence) -> TrustVerdict:
        try:
            r = c.verify(evidence.cms, content_digest=evidence.digest,
                         content_hash=evidence.hash_alg, kind="cms")
        except KysoClientError as exc:
            if exc.code != "INVALID_ARGUMENT":
                raise  # the server is away or refuses us: say so, do not seal
            return TrustVerdict("FAILED", "FORMAT_FAILURE", (exc.message,),
                                messages=(server_refusal(exc),))
        if len(r.signatures) != 1:
            why = Message.of("seal.not_one_signer", count=len(r.signatures))
            return TrustVerdict("FAILED", "FORMAT_FAILURE", (legacy(why),), messages=(why,))
        s = r.signatures[0]
        return TrustVerdict(indication(s.indication), s.sub_indication, tuple(s.errors),
                            s.agency.code if s.HasField("agency") else "",
                            messages=messages_of(s.problems))

    return check


def sign_file(c: KysoClient, data: bytes, *, agency: str, profile: str | None, number: str,
              doc_type: str, level: str, copy_form: str,
              at: tuple[int, float, float] | None, tsa_url: str | None = None) -> Any:
    """Sign ``data`` through ``c``: only digests and timestamp requests are sent (and, for
    the seal profile, the existing personal signatures, to ``Verify``)."""
    from clients.client import post_timestamp_query
    from signer.formats.pdf.pades import PdfOptions, SealImage, SigningIdentity, sign_pdf

    cert = c.signing_certificate(agency)
    cert_der = bytes(cert.certificate.der)
    name = c.get_agency(agency).name
    assets = c.get_seal_image(agency)
    chosen = profile or PROFILE_NAMES.get(assets.default_profile, "seal")
    seal = (SealImage(bytes(assets.seal_png), assets.seal_width_mm, assets.seal_height_mm)
            if assets.has_seal else None)
    identity = SigningIdentity(cert_der, [bytes(x.der) for x in cert.chain],
                               SCHEME_NAMES.get(cert.scheme, "pkcs1v15"), name)

    def sign_raw(digest: bytes, hash_alg: str) -> bytes:
        resp = c.sign_digests(agency, [digest], hash_alg=hash_alg,
                              scheme=identity.scheme, document_type=doc_type,
                              document_number=number)
        if bytes(resp.certificate.der) != cert_der:
            raise KysoClientError("ABORTED", f"agency {agency}'s key changed while signing "
                                  "(a rotation): sign again")
        return bytes(resp.signatures[0].signature)

    def timestamp(request: bytes) -> bytes:
        if tsa_url:
            return post_timestamp_query(tsa_url, request)
        return c.timestamp(request)

    options = PdfOptions(
        agency=agency, profile=chosen, number=number, doc_type=doc_type, level=level,
        copy_form=copy_form, at=at,
        skip_personal_check=bool(getattr(assets, "skip_personal_signature_check", False)),
    )
    return sign_pdf(data, options, identity, sign_raw, timestamp=timestamp, seal=seal,
                    personal_trust=server_trust(c))


@click.command("pdf")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file [default: FILE-signed.pdf].")
@click.option("--agency", required=True, help="Agency code, e.g. 000.00.00.H13.")
@click.option("--profile", type=click.Choice(["seal", "attachment", "copy"]),
              help="Decree 30/2020 Appendix I appearance [default: the agency's].")
@click.option("--number", default="", help='Document number and symbol, "11/CT-UBND".')
@click.option("--type", "doc_type", default="",
              help="Document type abbreviation (Appendix III), e.g. CT, QĐ, CV.")
@click.option("--level", type=click.Choice(["B-B", "B-T", "B-LT"]), default="B-B",
              show_default=True, help="PAdES level.")
@click.option("--copy-form", type=click.Choice(["SAO Y", "SAO LỤC", "TRÍCH SAO"]),
              default="SAO Y", show_default=True, help="Copy profile: the copy form.")
@click.option("--at", "at_text", metavar="PAGE,X,Y",
              help="Where the seal or text block goes: its lower-left corner (page from "
              "1, points from the page's lower-left corner) instead of over the last "
              "signed field (seal) or the top margin of page 1 at the right "
              "(attachment, copy).")
@click.option("--tsa-url", help="RFC 3161 HTTP URL for B-T/B-LT [default: kyso's gRPC].")
@json_option
@click.pass_context
def sign_pdf_cmd(ctx: click.Context, file: Path, output: Path | None, agency: str,
                 profile: str | None, number: str, doc_type: str, level: str,
                 copy_form: str, at_text: str | None, tsa_url: str | None,
                 as_json: bool) -> None:
    """Add a PAdES organization signature to FILE (hashed here; only the digest is
    sent). The seal profile needs the leader's trusted, unmodified personal signature
    already in FILE (checked through the server's Verify; the PDF is not sent)."""
    from signer.formats.pdf.pades import MAX_PDF_BYTES, PdfSignError

    # pyHanko logs every certificate it cannot chain (the personal signer's CA need
    # not be known here); the outcome is reported below instead.
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    at = _parse_at(at_text)
    if profile in ("attachment", "copy"):
        # Before anything is sent: a font that would leave blanks is refused here.
        from signer.formats.pdf.font import FontUnusable, check_font, find_font, pdf_font_bytes

        try:
            font = find_font()
            check_font(font)
            pdf_font_bytes(font)
        except FontUnusable as exc:
            complain("error", exc.message)
            fail(Exit.USAGE)  # the configured font: a setting to fix, nothing sent
    output = output or file.with_name(file.stem + "-signed.pdf")
    if file.stat().st_size > MAX_PDF_BYTES:
        complain("error", f"{file} is larger than {MAX_PDF_BYTES:,} bytes")
        fail(Exit.ERROR)
    data = file.read_bytes()
    try:
        with open_client(ctx) as c:
            signed = call(lambda: sign_file(
                c, data, agency=agency, profile=profile, number=number,
                doc_type=doc_type, level=level, copy_form=copy_form, at=at,
                tsa_url=tsa_url))
    except PdfSignError as exc:
        complain(f"error ({exc.status})", exc.message)
        fail(Exit.ERROR)
    save_output(output, signed.data)
    if as_json:
        print_json({"file": str(file), "output": str(output), "agency": agency,
                    "level": f"PAdES-{signed.level}", "signing_time": str(signed.signing_time),
                    "field": signed.field_name, "notes": list(signed.notes)})
        return
    err.print(f"signed {file} for {agency} as PAdES-{signed.level} at "
              f"{signed.signing_time} (field {signed.field_name}) → {output}")
    for note in signed.notes:
        warn("note", note)


@click.command("policy")
@click.argument("code")
@click.option("--skip-personal-check/--require-personal-check", "skip", required=True,
              default=None, help="Whether the seal profile may sign a PDF without a "
              "valid personal signature.")
@json_option
@click.pass_context
def seal_policy(ctx: click.Context, code: str, skip: bool, as_json: bool) -> None:
    """Set agency CODE's PDF policy: require (default) or skip the check that the
    leader's personal signature is present and valid before the seal."""
    with open_client(ctx) as c:
        a = call(lambda: c.set_pdf_policy(code, skip_personal_signature_check=skip))
    if as_json:
        print_json(seal_dict(a))
        return
    what = "without checking for" if a.skip_personal_signature_check else "only over"
    out.print(f"{a.agency_code} seals PDFs {what} a valid personal signature")
