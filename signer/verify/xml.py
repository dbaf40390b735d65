"""XML-DSig and edXML packages (QCVN 102:2016: enveloped signature, X509Data certificate).

signxml checks the references and the signature value with the certificate taken
from ``KeyInfo``; trust is then ours (``trust``), like every other format. SHA-1
(common in the field) is accepted for the integrity check and reported as weak.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509 as a_x509
from cryptography import x509

from signer.errors import InvalidRequest
from signer.verify.common import VerifyContext, describe_algorithms, finish
from signer.verify.report import (
    FORMAT_FAILURE,
    HASH_FAILURE,
    NO_SIGNING_CERTIFICATE_FOUND,
    SIG_CRYPTO_FAILURE,
    SignatureReport,
    VerifyReport,
)

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
_HASH_URIS = {
    "sha1": "sha1", "sha224": "sha224", "sha256": "sha256", "sha384": "sha384",
    "sha512": "sha512", "md5": "md5",
}
_SCHEMES = {"rsa": "rsassa_pkcs1v15", "ecdsa": "ecdsa", "dsa": "dsa", "mgf1": "rsassa_pss"}


def _hash_of(uri: str) -> str:
    tail = uri.rsplit("#", 1)[-1].lower()
    for key, name in sorted(_HASH_URIS.items(), key=lambda kv: -len(kv[0])):
        if key in tail:
            return name
    return tail


def _scheme_of(uri: str) -> str:
    tail = uri.rsplit("#", 1)[-1].lower()
    for key, name in _SCHEMES.items():
        if key in tail:
            return name
    return tail


async def _xades_times(ctx: VerifyContext, report: SignatureReport, sig: Any) -> None:
    """XAdES (EN 319 132-1): the signed SigningTime, and a SignatureTimeStamp over the
    exclusive-canonicalised SignatureValue (§5.3). Plain XML-DSig carries neither."""
    from lxml import etree

    from signer.verify.cms import token_report

    props = sig.find(f".//{{{XADES}}}SignedSignatureProperties")
    if props is None:
        return
    report.format = "XAdES-B-B"
    when = props.find(f"{{{XADES}}}SigningTime")
    if when is not None and when.text:
        try:
            t = datetime.fromisoformat(when.text.strip().replace("Z", "+00:00"))
            report.signing_time = t if t.tzinfo else t.replace(tzinfo=UTC)
        except ValueError:
            report.check.warn(f"the XAdES SigningTime {when.text!r} is not an xs:dateTime")
    stamp = sig.find(f".//{{{XADES}}}SignatureTimeStamp/{{{XADES}}}EncapsulatedTimeStamp")
    value = sig.find(f"{{{DS}}}SignatureValue")
    if stamp is None or value is None or not (stamp.text or "").strip():
        return
    report.format = "XAdES-B-T"
    token = base64.b64decode("".join((stamp.text or "").split()))
    imprint_of = etree.tostring(value, method="c14n", exclusive=True)
    report.timestamp = await token_report(ctx, token, imprint_of)


async def verify_xml(ctx: VerifyContext, data: bytes) -> VerifyReport:
    from lxml import etree
    from signxml.algorithms import DigestAlgorithm, SignatureMethod
    from signxml.exceptions import InvalidDigest, InvalidInput, InvalidSignature
    from signxml.verifier import SignatureConfiguration, XMLVerifier

    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidRequest(f"the XML document is malformed: {exc}") from exc
    sigs = root.findall(f".//{{{DS}}}Signature")
    if root.tag == f"{{{DS}}}Signature":
        sigs = [root]
    out = VerifyReport(kind="xml")
    if not sigs:
        out.notes.append("the XML document has no ds:Signature")
        return out
    config = SignatureConfiguration(
        require_x509=True, expect_references=True,
        signature_methods=frozenset(SignatureMethod),
        digest_algorithms=frozenset(DigestAlgorithm),
    )
    for i, sig in enumerate(sigs, start=1):
        report = SignatureReport(index=i, format="XML-DSig", field_name=sig.get("Id", ""),
                                 coverage="references")
        check = report.check
        out.signatures.append(report)
        cert_el = sig.find(f".//{{{DS}}}KeyInfo//{{{DS}}}X509Certificate")
        if cert_el is None or not (cert_el.text or "").strip():
            check.indeterminate(NO_SIGNING_CERTIFICATE_FOUND,
                                "the signature's KeyInfo carries no X509Certificate")
            continue
        der = base64.b64decode("".join((cert_el.text or "").split()))
        others = [
            a_x509.Certificate.load(base64.b64decode("".join((c.text or "").split())))
            for c in sig.findall(f".//{{{DS}}}KeyInfo//{{{DS}}}X509Certificate")[1:]
        ]
        pem = x509.load_der_x509_certificate(der).public_bytes(
            __import__("cryptography.hazmat.primitives.serialization",
                       fromlist=["Encoding"]).Encoding.PEM)
        sm = sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
        dms = sig.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestMethod")
        sm_uri = sm.get("Algorithm", "") if sm is not None else ""
        ref_hashes = [_hash_of(d.get("Algorithm", "")) for d in dms]
        refs = sig.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
        report.coverage_detail = ", ".join(repr(r.get("URI", "")) for r in refs) or "none"
        try:
            XMLVerifier().verify(
                etree.tostring(root), x509_cert=pem.decode(), expect_config=config,
                id_attribute="Id",
            ) if len(sigs) == 1 else XMLVerifier().verify(
                etree.tostring(sig), x509_cert=pem.decode(), expect_config=config,
            )
            report.intact = report.signature_valid = True
        except InvalidDigest as exc:
            report.signature_valid = True
            check.fail(HASH_FAILURE, f"the signed XML was changed after signing: {exc}")
        except InvalidSignature as exc:
            check.fail(SIG_CRYPTO_FAILURE, f"the XML signature does not verify: {exc}")
        except InvalidInput as exc:
            check.fail(FORMAT_FAILURE, f"the XML signature is malformed: {exc}")
        await _xades_times(ctx, report, sig)
        cert = x509.load_der_x509_certificate(der)
        describe_algorithms(report, cert, _hash_of(sm_uri), _scheme_of(sm_uri),
                            extra_hashes=ref_hashes)
        await finish(ctx, report, a_x509.Certificate.load(der), others)
    return out
