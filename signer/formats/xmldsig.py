"""Enveloped XML-DSig and XAdES-B-B/B-T, client side: the document never leaves the caller.

edXML packages (QCVN 102:2016, amended 1:2022) carry an enveloped XML-DSig in
``edXMLHeader``; any other XML gets the signature as the last child of its root
(or of the element an XPath selects), optionally as XAdES (ETSI EN 319 132-1).

How a signature is made here (what verifiers such as xmlsec1 and signxml redo)::

    parse safely ─► insert ds:Signature template ─► digest(exc-c14n(doc − Signature))
        ─► [XAdES: digest(exc-c14n(SignedProperties))] ─► exc-c14n(SignedInfo) in context
        ─► H(SignedInfo) ─► sign_digest()  (the HSM, through kyso: only the digest travels)
        ─► SignatureValue (ECDSA: DER → r‖s, RFC 4050/6931) ─► [B-T: timestamp the
           exc-c14n of SignatureValue]

Imports the standard library, lxml, cryptography and asn1crypto (and ``signer.formats.tsp``,
which imports the same) — no gRPC: the key operation and the timestamp authority are
callables, so any signer or TSA can be plugged in. ``sign_with_kyso`` wires them to a
``KysoClient``.

Errors::

    XmlSignError            anything that stops a signature (message fit for a user)
    └── MalformedXml        the input is not well-formed XML (``line``, ``column``)
"""

from __future__ import annotations

import base64
import copy
import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from asn1crypto import tsp as a_tsp
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from signer.formats import tsp

__all__ = [
    "DS_NS",
    "EDXML_NS",
    "XADES_NS",
    "MalformedXml",
    "XmlSignError",
    "XmlSigner",
    "der_to_raw_ecdsa",
    "parse_xml",
    "sign_with_kyso",
    "sign_xml",
    "signature_method",
]

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XADES_NS = "http://uri.etsi.org/01903/v1.3.2#"
EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"

# RFC 6931 §2.1.3 (sha384), xmlenc (sha256, sha512): DigestMethod URIs.
DIGEST_URIS = {
    "sha256": "http://www.w3.org/2001/04/xmlenc#sha256",
    "sha384": "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "sha512": "http://www.w3.org/2001/04/xmlenc#sha512",
}
# RFC 6931 §2.3.2 (RSA PKCS#1 v1.5) and §2.3.6 (ECDSA): SignatureMethod URIs.
_SIGNATURE_URIS = {
    ("pkcs1v15", "sha256"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    ("pkcs1v15", "sha384"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    ("pkcs1v15", "sha512"): "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    ("ecdsa", "sha256"): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    ("ecdsa", "sha384"): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    ("ecdsa", "sha512"): "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
}
# kyso.common.v1.SignatureScheme numbers (proto/kyso/common/v1/common.proto).
_SCHEME_NAMES = {1: "pkcs1v15", 2: "pss", 3: "ecdsa"}

_DS = f"{{{DS_NS}}}"
_XADES = f"{{{XADES_NS}}}"
_EDXML = f"{{{EDXML_NS}}}"


class XmlSignError(Exception):
    """The document cannot be signed; the message says why, in words for the user."""


class MalformedXml(XmlSignError):
    """The input is not well-formed XML; ``line`` and ``column`` locate the first error."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"not well-formed XML at line {line}, column {column}: {message}")
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class XmlSigner:
    """Who signs: the certificate (DER), its issuers and the raw key operation.

    ``sign_digest(digest)`` returns a raw signature over a digest made with the
    signature's hash: PKCS#1 v1.5 bytes for RSA, a DER ECDSA-Sig-Value for EC.
    """

    certificate: bytes
    scheme: str  # "pkcs1v15", "ecdsa" ("pss" is refused: see signature_method)
    sign_digest: Callable[[bytes], bytes]
    chain: Sequence[bytes] = field(default_factory=tuple)


def parse_xml(data: bytes) -> Any:
    """Parse untrusted XML: no entity expansion, no network, no DTD, bounded size.

    Returns an lxml ElementTree. Raises ``MalformedXml`` with line and column, or
    ``XmlSignError`` for a document carrying a DTD (entities and default attributes
    would make what is signed differ from what verifiers see).
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False, remove_blank_text=False)
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (0, 0)
        raise MalformedXml(str(exc.msg or exc).split(f", line {line}")[0], line, column) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise XmlSignError("the document has a DOCTYPE; signed documents must not carry a DTD "
                           "(entities and default attributes change what is signed)")
    return tree


def signature_method(scheme: str, hash_alg: str) -> str:
    """The SignatureMethod URI for a kyso key scheme and hash (RFC 6931)."""
    if hash_alg not in DIGEST_URIS:
        raise XmlSignError(f"unsupported hash {hash_alg!r}: use sha256, sha384 or sha512")
    if scheme == "pss":
        # RFC 9231 §2.3.10 defines sha256-rsa-MGF1, but xmlsec1 before 1.3 (Debian 12's
        # 1.2.37) and signxml do not verify it: a signature nobody can check is refused.
        raise XmlSignError(
            "the agency's key signs with RSASSA-PSS, which XML-DSig verifiers in use "
            "(xmlsec1 1.2, signxml) do not support; use a PKCS#1 v1.5 key for XML signatures")
    try:
        return _SIGNATURE_URIS[(scheme, hash_alg)]
    except KeyError:
        raise XmlSignError(f"unsupported signature scheme {scheme!r}") from None


def der_to_raw_ecdsa(der: bytes, key_bits: int) -> bytes:
    """DER ECDSA-Sig-Value → r‖s, each left-padded to the curve size (RFC 4050 §3.3)."""
    r, s = decode_dss_signature(der)
    size = (key_bits + 7) // 8
    if r.bit_length() > key_bits or s.bit_length() > key_bits:
        raise XmlSignError("the ECDSA signature does not fit the certificate's curve")
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def c14n(element: Any) -> bytes:
    """Exclusive c14n (without comments) of an element in its document context."""
    out: bytes = etree.tostring(element, method="c14n", exclusive=True, with_comments=False)
    return out


def sign_xml(
    data: bytes,
    signer: XmlSigner,
    *,
    hash_alg: str = "sha256",
    xades: bool = False,
    level: str = "B-B",
    xpath: str | None = None,
    include_chain: bool = True,
    timestamp: Callable[[bytes], bytes] | None = None,
    signing_time: datetime | None = None,
) -> bytes:
    """Sign ``data`` (XML bytes) with an enveloped signature; return the signed document.

    edXML packages get it in ``edXMLHeader`` (after ``TraceHeaderList``); other
    documents as the last child of the root or of the one element ``xpath`` selects.
    ``xades`` makes it XAdES-B-B; ``level="B-T"`` adds a signature timestamp, for which
    ``timestamp(TimeStampReq DER) -> TimeStampResp DER`` is called.
    """
    if level not in ("B-B", "B-T"):
        raise XmlSignError(f"unknown XAdES level {level!r}: use B-B or B-T")
    if level == "B-T" and timestamp is None:
        raise XmlSignError("XAdES-B-T needs a timestamp authority")
    method = signature_method(signer.scheme, hash_alg)
    try:
        cert = x509.load_der_x509_certificate(signer.certificate)
    except ValueError as exc:
        raise XmlSignError(f"the signer certificate is not DER X.509: {exc}") from None
    tree = parse_xml(data)
    parent, index = _insertion_point(tree, xpath)

    ids = secrets.token_hex(8)
    sig_id, ref_id = f"Signature-{ids}", f"Reference-{ids}"
    props_id, value_id = f"SignedProperties-{ids}", f"SignatureValue-{ids}"
    nsmap = {"ds": DS_NS, **({"xades": XADES_NS} if xades else {})}
    sig = etree.Element(_DS + "Signature", nsmap=nsmap)
    if xades:
        sig.set("Id", sig_id)
    signed_info = _sub(sig, "SignedInfo")
    _sub(signed_info, "CanonicalizationMethod", Algorithm=EXC_C14N)
    _sub(signed_info, "SignatureMethod", Algorithm=method)
    doc_ref = _reference(signed_info, "", hash_alg, [ENVELOPED, EXC_C14N])
    if xades:
        doc_ref.set("Id", ref_id)
    sig_value = _sub(sig, "SignatureValue")
    if xades:
        sig_value.set("Id", value_id)
    x509_data = _sub(_sub(sig, "KeyInfo"), "X509Data")
    for der in [signer.certificate, *(signer.chain if include_chain else ())]:
        _sub(x509_data, "X509Certificate").text = base64.b64encode(der).decode()

    props_ref = None
    qualifying = None
    if xades:
        props_ref = _reference(signed_info, f"#{props_id}", hash_alg, [EXC_C14N],
                               Type=SIGNED_PROPERTIES_TYPE)
        qualifying = _qualifying_properties(
            _sub(sig, "Object"), sig_id, props_id, ref_id, signer.certificate,
            signing_time or datetime.now(UTC))

    _insert(parent, index, sig)

    # XML-DSig §6.6.4: the enveloped transform removes the Signature; the rest is digested.
    _digest_value(doc_ref).text = _b64(_hash(hash_alg, _c14n_without(tree, sig)))
    if props_ref is not None and qualifying is not None:
        props = qualifying.find(_XADES + "SignedProperties")
        _digest_value(props_ref).text = _b64(_hash(hash_alg, c14n(props)))

    # XML-DSig §3.1.2: SignedInfo canonicalised as it sits in the document.
    raw = signer.sign_digest(_hash(hash_alg, c14n(signed_info)))
    public_key = cert.public_key()
    if signer.scheme == "ecdsa":
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise XmlSignError("the key signs with ECDSA but the certificate is not EC")
        raw = der_to_raw_ecdsa(raw, public_key.curve.key_size)
    sig_value.text = _b64(raw)

    if level == "B-T" and qualifying is not None and timestamp is not None:
        # EN 319 132-1 §5.3: the signature timestamp covers the canonicalised SignatureValue.
        token = _timestamp_token(timestamp, _hash("sha256", c14n(sig_value)), "sha256")
        usp = _xsub(_xsub(qualifying, "UnsignedProperties"), "UnsignedSignatureProperties")
        ts = _xsub(usp, "SignatureTimeStamp", Id=f"SignatureTimeStamp-{ids}")
        _sub(ts, "CanonicalizationMethod", Algorithm=EXC_C14N)
        _xsub(ts, "EncapsulatedTimeStamp").text = _b64(token)

    out: bytes = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    return out


class _KysoLike(Protocol):
    def signing_certificate(self, agency: str) -> Any: ...
    def sign_digests(self, agency: str, digests: Sequence[bytes], *, document_type: str = "",
                     document_number: str = "", hash_alg: str = "sha256") -> Any: ...
    def timestamp(self, request_der: bytes) -> bytes: ...


def sign_with_kyso(
    client: _KysoLike,
    agency: str,
    data: bytes,
    *,
    hash_alg: str = "sha256",
    xades: bool = False,
    level: str = "B-B",
    xpath: str | None = None,
    include_chain: bool = True,
    document_type: str = "",
    document_number: str = "",
) -> bytes:
    """``sign_xml`` with the agency's HSM key through kyso (one digest sent) and, for
    B-T, kyso's timestamp authority. ``KysoClientError`` passes through."""
    current = client.signing_certificate(agency)
    cert_der = bytes(current.certificate.der)
    scheme = _SCHEME_NAMES.get(current.scheme, "?")
    signature_method(scheme, hash_alg)  # refuse PSS before anything is signed

    def sign_digest(digest: bytes) -> bytes:
        resp = client.sign_digests(agency, [digest], hash_alg=hash_alg,
                                   document_type=document_type,
                                   document_number=document_number)
        # The certificate (and, for XAdES, its digest) was written before signing: a key
        # rotated in between would leave a signature that names the wrong certificate.
        if bytes(resp.certificate.der) != cert_der or _SCHEME_NAMES.get(resp.scheme) != scheme:
            raise XmlSignError(f"the signing key of {agency} changed while signing; try again")
        return bytes(resp.signatures[0].signature)

    signer = XmlSigner(certificate=cert_der, scheme=scheme, sign_digest=sign_digest,
                       chain=tuple(bytes(c.der) for c in current.chain))
    return sign_xml(data, signer, hash_alg=hash_alg, xades=xades, level=level, xpath=xpath,
                    include_chain=include_chain, timestamp=client.timestamp)


# --- placement --------------------------------------------------------------------


def _insertion_point(tree: Any, xpath: str | None) -> tuple[Any, int]:
    root = tree.getroot()
    if tree.find(f".//{_DS}Signature") is not None or root.tag == _DS + "Signature":
        # A second enveloped signature would be digested by the first and break it.
        raise XmlSignError("the document is already signed (it has a ds:Signature); "
                           "kyso does not add a second enveloped signature")
    if root.tag == _EDXML + "edXML":
        if xpath:
            raise XmlSignError("an edXML package is signed in edXMLHeader; --xpath does not "
                               "apply")
        header = root.find(f"{_EDXML}edXMLEnvelope/{_EDXML}edXMLHeader")
        if header is None:
            raise XmlSignError("not a valid edXML package: edXML/edXMLEnvelope/edXMLHeader "
                               "is missing (QCVN 102:2016)")
        # QCVN 102:2016: edXMLHeader = MessageHeader, TraceHeaderList, Signature.
        index = len(header)
        for name in ("TraceHeaderList", "MessageHeader"):
            found = header.find(_EDXML + name)
            if found is not None:
                index = header.index(found) + 1
                break
        return header, index
    if root.tag.startswith(_EDXML):
        # A piece of a package (edXMLEnvelope, edXMLHeader …) signed on its own would carry
        # its signature where no edXML receiver looks for one (QCVN 102:2016 puts it in
        # edXMLHeader of the whole package): refuse rather than guess.
        local = etree.QName(root).localname
        raise XmlSignError(
            f"the document is an edXML {local} element, not an edXML package (root element "
            "edXML): sign the whole package, whose signature goes in edXMLHeader — Tiếng "
            f"Việt: tài liệu là phần tử {local} của edXML, không phải một gói tin edXML "
            "(phần tử gốc edXML); hãy ký cả gói tin, chữ ký được đặt trong edXMLHeader")
    if not xpath:
        return root, len(root)
    namespaces = {k: v for k, v in root.nsmap.items() if k}
    namespaces.setdefault("ds", DS_NS)
    namespaces.setdefault("edxml", EDXML_NS)
    try:
        found = tree.xpath(xpath, namespaces=namespaces)
    except etree.XPathError as exc:
        raise XmlSignError(f"invalid XPath {xpath!r}: {exc}") from None
    elements = [e for e in found if isinstance(e, etree._Element)] if isinstance(
        found, list) else []
    if len(elements) != 1:
        raise XmlSignError(f"the XPath {xpath!r} selects {len(elements)} elements; it must "
                           "select exactly one")
    return elements[0], len(elements[0])


def _insert(parent: Any, index: int, sig: Any) -> None:
    """Insert keeping the surrounding indentation (whitespace is signed too)."""
    if index > 0:
        prev = parent[index - 1]
        sig.tail = prev.tail
        if index == len(parent):  # prev's tail indented the closing tag; now it indents sig
            prev.tail = parent.text if parent.text and not parent.text.strip() else prev.tail
    parent.insert(index, sig)


def _c14n_without(tree: Any, sig: Any) -> bytes:
    """exc-c14n of the whole document with ``sig`` removed (its tail text stays)."""
    steps = []
    node = sig
    while (up := node.getparent()) is not None:
        steps.append(up.index(node))
        node = up
    doc = copy.deepcopy(tree)
    target = doc.getroot()
    for i in reversed(steps):
        target = target[i]
    parent = target.getparent()
    tail = target.tail or ""
    prev = target.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(target)
    out: bytes = etree.tostring(doc, method="c14n", exclusive=True, with_comments=False)
    return out


# --- XAdES ----------------------------------------------------------------------------


def _qualifying_properties(obj: Any, sig_id: str, props_id: str, ref_id: str,
                           cert_der: bytes, when: datetime) -> Any:
    qp = _xsub(obj, "QualifyingProperties", Target=f"#{sig_id}")
    sp = _xsub(qp, "SignedProperties", Id=props_id)
    ssp = _xsub(sp, "SignedSignatureProperties")
    _xsub(ssp, "SigningTime").text = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # EN 319 132-1 §5.2.2: SigningCertificateV2 (SHA-256 digest + IssuerSerialV2).
    c = _xsub(_xsub(ssp, "SigningCertificateV2"), "Cert")
    digest = _xsub(c, "CertDigest")
    _sub(digest, "DigestMethod", Algorithm=DIGEST_URIS["sha256"])
    _sub(digest, "DigestValue").text = _b64(hashlib.sha256(cert_der).digest())
    parsed = a_x509.Certificate.load(cert_der)
    issuer_serial = a_tsp.IssuerSerial({
        "issuer": [a_x509.GeneralName(name="directory_name", value=parsed.issuer)],
        "serial_number": parsed.serial_number,
    })
    _xsub(c, "IssuerSerialV2").text = _b64(issuer_serial.dump())
    # EN 319 132-1 §6.3 (B-B): DataObjectFormat with MimeType for the signed data object.
    sdop = _xsub(sp, "SignedDataObjectProperties")
    dof = _xsub(sdop, "DataObjectFormat", ObjectReference=f"#{ref_id}")
    _xsub(dof, "MimeType").text = "text/xml"
    return qp


def _timestamp_token(timestamp: Callable[[bytes], bytes], digest: bytes, hash_alg: str) -> bytes:
    request, _nonce = tsp.make_request(digest, hash_alg)
    reply = timestamp(request)
    try:
        tsp.check_response(reply, request_der=request)
        return tsp.token_from_response(reply)
    except tsp.TimestampError as exc:
        raise XmlSignError(f"the timestamp authority's reply is unusable: {exc}") from None


# --- small helpers ----------------------------------------------------------------------


def _sub(parent: Any, name: str, **attrs: str) -> Any:
    return etree.SubElement(parent, _DS + name, attrs)


def _xsub(parent: Any, name: str, **attrs: str) -> Any:
    return etree.SubElement(parent, _XADES + name, attrs)


def _reference(signed_info: Any, uri: str, hash_alg: str, transforms: list[str],
               **attrs: str) -> Any:
    ref = _sub(signed_info, "Reference", **attrs)
    ref.set("URI", uri)
    ts = _sub(ref, "Transforms")
    for t in transforms:
        _sub(ts, "Transform", Algorithm=t)
    _sub(ref, "DigestMethod", Algorithm=DIGEST_URIS[hash_alg])
    _sub(ref, "DigestValue")
    return ref


def _digest_value(ref: Any) -> Any:
    return ref.find(_DS + "DigestValue")


def _hash(alg: str, data: bytes) -> bytes:
    return hashlib.new(alg, data).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
