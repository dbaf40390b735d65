"""XML-DSig and edXML packages (QCVN 102:2016: enveloped signature, X509Data certificate).

signxml checks the references and the signature value with the certificate taken
from ``KeyInfo``; trust is then ours (``trust``), like every other format. SHA-1
(common in the field) is accepted for the integrity check and reported as weak.

What a signature covers is read from its references: ``URI=""`` (with the enveloped
transform) is the whole document but the signature, for an edXML package the whole
package. The signing time is XAdES's ``SigningTime`` when a reference covers the
``SignedProperties``; plain XML-DSig (edXML as QCVN 102 signs it) carries none, and the
report says so.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509 as a_x509
from cryptography import x509

from signer.catalogue import Message
from signer.verify.common import VerifyContext, describe_algorithms, finish
from signer.verify.report import (
    FORMAT_FAILURE,
    HASH_FAILURE,
    NO_SIGNING_CERTIFICATE_FOUND,
    SIG_CRYPTO_FAILURE,
    SignatureReport,
    VerifyReport,
    refusal,
)

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
EDXML_ROOT = "edXML"  # QCVN 102:2016 package root (local name)
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


async def _xades_timestamp(ctx: VerifyContext, report: SignatureReport, sig: Any) -> None:
    """XAdES (EN 319 132-1): the level, and a SignatureTimeStamp's report — the token must
    stamp the exclusive-canonicalised SignatureValue (§5.3)."""
    from lxml import etree

    from signer.verify.cms import token_report

    report.format = "XAdES-B-B"
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
        raise refusal("xml.malformed", detail=str(exc)) from exc
    sigs = root.findall(f".//{{{DS}}}Signature")
    if root.tag == f"{{{DS}}}Signature":
        sigs = [root]
    out = VerifyReport(kind="xml")
    if not sigs:
        out.notes.append(Message.of("xml.no_signature"))
        return out
    config = SignatureConfiguration(
        require_x509=True, expect_references=True,
        signature_methods=frozenset(SignatureMethod),
        digest_algorithms=frozenset(DigestAlgorithm),
    )
    for i, sig in enumerate(sigs, start=1):
        report = SignatureReport(index=i, format="XML-DSig", field_name=sig.get("Id", ""))
        check = report.check
        out.signatures.append(report)
        cert_el = sig.find(f".//{{{DS}}}KeyInfo//{{{DS}}}X509Certificate")
        if cert_el is None or not (cert_el.text or "").strip():
            check.indeterminate(NO_SIGNING_CERTIFICATE_FOUND, Message.of("xml.no_certificate"))
            continue
        der = base64.b64decode("".join((cert_el.text or "").split()))
        others = [
            a_x509.Certificate.load(base64.b64decode("".join((c.text or "").split())))
            for c in sig.findall(f".//{{{DS}}}KeyInfo//{{{DS}}}X509Certificate")[1:]
        ]
        # signxml would refuse a certificate outside its validity as a bad signature
        # value; the validity is the trust check's (expired: OUT_OF_BOUNDS_NO_POE)
        sig_config = dataclasses.replace(
            config, verification_time=x509.load_der_x509_certificate(der).not_valid_before_utc)
        pem = x509.load_der_x509_certificate(der).public_bytes(
            __import__("cryptography.hazmat.primitives.serialization",
                       fromlist=["Encoding"]).Encoding.PEM)
        sm = sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
        dms = sig.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestMethod")
        sm_uri = sm.get("Algorithm", "") if sm is not None else ""
        ref_hashes = [_hash_of(d.get("Algorithm", "")) for d in dms]
        refs = sig.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
        report.references = [r.get("URI", "") for r in refs]
        report.coverage_detail = ", ".join(repr(u) for u in report.references) or "none"
        report.coverage = _coverage(root, report.references)
        try:
            XMLVerifier().verify(
                etree.tostring(root), x509_cert=pem.decode(), expect_config=sig_config,
                id_attribute="Id",
            ) if len(sigs) == 1 else XMLVerifier().verify(
                etree.tostring(sig), x509_cert=pem.decode(), expect_config=sig_config,
            )
            report.intact = report.signature_valid = True
            report.signing_time = _xades_signing_time(sig, report.references, report)
        except InvalidDigest as exc:
            report.signature_valid = True
            check.fail(HASH_FAILURE, Message.of("xml.changed", detail=str(exc)))
        except InvalidSignature as exc:
            check.fail(SIG_CRYPTO_FAILURE, Message.of("sig.value_invalid", detail=str(exc)))
        except InvalidInput as exc:
            check.fail(FORMAT_FAILURE, Message.of("sig.malformed", detail=str(exc)))
        if report.signing_time is not None:
            await _xades_timestamp(ctx, report, sig)
        cert = x509.load_der_x509_certificate(der)
        describe_algorithms(report, cert, _hash_of(sm_uri), _scheme_of(sm_uri),
                            extra_hashes=ref_hashes)
        await finish(ctx, report, a_x509.Certificate.load(der), others)
    return out


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _coverage(root: Any, uris: list[str]) -> str:
    """``whole-package`` (edXML) or ``whole-document`` when a reference is ``URI=""``
    (XML-DSig §4.4.3.2: the whole document, the enveloped signature taken out); else the
    parts the references name."""
    if "" in uris:
        return "whole-package" if _local(root.tag) == EDXML_ROOT else "whole-document"
    return "references"


def _xades_signing_time(sig: Any, uris: list[str], report: SignatureReport
                        ) -> datetime | None:
    """XAdES ``SigningTime``, if a reference of the (verified) ``SignedInfo`` covers the
    ``SignedProperties`` that holds it; otherwise the signature claims no time."""
    for props in sig.iter(f"{{{XADES}}}SignedProperties"):
        if f"#{props.get('Id', '')}" not in uris:
            continue
        el = props.find(f".//{{{XADES}}}SigningTime")
        if el is None or not (el.text or "").strip():
            continue
        try:
            t = datetime.fromisoformat(el.text.strip().replace("Z", "+00:00"))
            return t if t.tzinfo else t.replace(tzinfo=UTC)  # xs:dateTime without a zone
        except ValueError:
            report.check.warn(Message.of("sig.signing_time_unreadable"))
            return None
    return None
