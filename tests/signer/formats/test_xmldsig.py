"""signer.formats.xmldsig with a software key test double: template, placement, exc-c14n,
ECDSA r||s, refusals, malformed input. The real HSM path is tests/e2e/test_xml.py."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.exceptions import InvalidDigest
from signxml.verifier import XMLVerifier

from signer.formats import xmldsig
from signer.formats.xmldsig import (
    DS_NS,
    EDXML_NS,
    XADES_NS,
    MalformedXml,
    XmlSigner,
    XmlSignError,
    der_to_raw_ecdsa,
    parse_xml,
    sign_xml,
    signature_method,
)

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

NS = {"ds": DS_NS, "ed": EDXML_NS, "xades": XADES_NS}
HASH: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}

EDXML = f"""<?xml version="1.0" encoding="UTF-8"?>
<edXML:edXML xmlns:edXML="{EDXML_NS}">
  <edXML:edXMLEnvelope>
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:Subject>Về việc triển khai chữ ký số</edXML:Subject>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList/>
    </edXML:edXMLHeader>
    <edXML:edXMLBody><edXML:edXMLManifest/></edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <edXML:AttachmentEncoded/>
</edXML:edXML>
""".encode()


def _cert(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sở Thử nghiệm")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=9))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def _pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def rsa_signer(key: rsa.RSAPrivateKey, hash_alg: str = "sha256",
               seen: list[bytes] | None = None) -> XmlSigner:
    def sign(digest: bytes) -> bytes:
        if seen is not None:
            seen.append(digest)
        return key.sign(digest, padding.PKCS1v15(), Prehashed(HASH[hash_alg]()))
    return XmlSigner(certificate=_cert(key), scheme="pkcs1v15", sign_digest=sign)


def test_signature_method_uris() -> None:
    assert signature_method("pkcs1v15", "sha256").endswith("#rsa-sha256")
    assert signature_method("pkcs1v15", "sha512").endswith("#rsa-sha512")
    assert signature_method("ecdsa", "sha256").endswith("#ecdsa-sha256")
    with pytest.raises(XmlSignError, match="RSASSA-PSS"):
        signature_method("pss", "sha256")
    with pytest.raises(XmlSignError, match="unsupported hash"):
        signature_method("pkcs1v15", "sha1")


def test_edxml_signature_goes_after_trace_header_list(rsa_key: rsa.RSAPrivateKey) -> None:
    seen: list[bytes] = []
    out = sign_xml(EDXML, rsa_signer(rsa_key, seen=seen))
    root = etree.fromstring(out)
    header = root.find("ed:edXMLEnvelope/ed:edXMLHeader", NS)
    assert [etree.QName(c).localname for c in header] == [
        "MessageHeader", "TraceHeaderList", "Signature"]
    sig = header[2]
    si = sig.find("ds:SignedInfo", NS)
    assert si.find("ds:CanonicalizationMethod", NS).get("Algorithm") == xmldsig.EXC_C14N
    ref = si.find("ds:Reference", NS)
    assert ref.get("URI") == ""
    assert [t.get("Algorithm") for t in ref.iterfind("ds:Transforms/ds:Transform", NS)] == [
        xmldsig.ENVELOPED, xmldsig.EXC_C14N]
    assert sig.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS) is not None
    assert sig.find("ds:Object", NS) is None  # plain XML-DSig: no XAdES
    # Only H(exc-c14n(SignedInfo in context)) went to the signer.
    assert seen == [hashlib.sha256(etree.tostring(si, method="c14n", exclusive=True)).digest()]
    # The enveloped digest: the document minus the Signature (its tail text stays), exc-c14n.
    header[1].tail = (header[1].tail or "") + (sig.tail or "")
    header.remove(sig)
    digest = hashlib.sha256(etree.tostring(root.getroottree(), method="c14n",
                                           exclusive=True)).digest()
    assert ref.findtext("ds:DigestValue", namespaces=NS) == base64.b64encode(digest).decode()


def test_edxml_without_trace_header_list_goes_after_message_header(
        rsa_key: rsa.RSAPrivateKey) -> None:
    doc = EDXML.replace(b"<edXML:TraceHeaderList/>", b"")
    header = etree.fromstring(sign_xml(doc, rsa_signer(rsa_key))).find(
        "ed:edXMLEnvelope/ed:edXMLHeader", NS)
    assert [etree.QName(c).localname for c in header] == ["MessageHeader", "Signature"]


def test_c14n_is_exclusive_of_unused_ancestor_namespaces() -> None:
    root = etree.fromstring(b'<r xmlns="urn:a" xmlns:u="urn:unused"><x:e xmlns:x="urn:x">t'
                            b"</x:e></r>")
    assert xmldsig.c14n(root[0]) == b'<x:e xmlns:x="urn:x">t</x:e>'
    # Inclusive c14n would drag in the ancestors' declarations: that is what we avoid.
    assert b"urn:unused" in etree.tostring(root[0], method="c14n")


@pytest.mark.parametrize("hash_alg", ["sha256", "sha512"])
def test_signxml_verifies_rsa(rsa_key: rsa.RSAPrivateKey, hash_alg: str) -> None:
    signer = rsa_signer(rsa_key, hash_alg)
    out = sign_xml(EDXML, signer, hash_alg=hash_alg)
    result = XMLVerifier().verify(out, x509_cert=_pem(signer.certificate))
    assert not isinstance(result, list)
    assert b"Subject" in etree.tostring(result.signed_xml)


def test_tampering_breaks_it(rsa_key: rsa.RSAPrivateKey) -> None:
    signer = rsa_signer(rsa_key)
    out = sign_xml(EDXML, signer).replace("triển khai".encode(), "hủy bỏ".encode())
    with pytest.raises(InvalidDigest):
        XMLVerifier().verify(out, x509_cert=_pem(signer.certificate))


def test_ecdsa_der_to_raw() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.sign(b"x", ec.ECDSA(hashes.SHA256()))
    raw = der_to_raw_ecdsa(der, 256)
    assert len(raw) == 64
    r, s = decode_dss_signature(der)
    assert raw == r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert der_to_raw_ecdsa(encode_dss_signature(1, 2), 384) == (
        (1).to_bytes(48, "big") + (2).to_bytes(48, "big"))  # left padding
    with pytest.raises(XmlSignError):
        der_to_raw_ecdsa(encode_dss_signature(1 << 300, 1), 256)


def test_ecdsa_xades_verifies_with_signxml() -> None:
    key = ec.generate_private_key(ec.SECP256R1())

    def sign(digest: bytes) -> bytes:
        return key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))  # DER, as kyso returns

    signer = XmlSigner(certificate=_cert(key), scheme="ecdsa", sign_digest=sign)
    doc = b"<hoSo xmlns='urn:vn:test'><ten>Nguy\xe1\xbb\x85n V\xc4\x83n A</ten></hoSo>"
    out = sign_xml(doc, signer, xades=True)
    sig = etree.fromstring(out)[-1]
    assert etree.QName(sig).localname == "Signature"  # last child of the root
    value = base64.b64decode(sig.findtext("ds:SignatureValue", namespaces=NS))
    assert len(value) == 64
    refs = sig.findall("ds:SignedInfo/ds:Reference", NS)
    assert refs[1].get("Type") == xmldsig.SIGNED_PROPERTIES_TYPE
    cert_digest = sig.findtext(".//xades:SigningCertificateV2/xades:Cert/xades:CertDigest/"
                               "ds:DigestValue", namespaces=NS)
    assert base64.b64decode(cert_digest) == hashlib.sha256(signer.certificate).digest()
    XMLVerifier().verify(out, x509_cert=_pem(signer.certificate), expect_references=2)


def test_xpath_placement_and_errors(rsa_key: rsa.RSAPrivateKey) -> None:
    doc = b"<a xmlns:p='urn:p'><p:b/><p:c/></a>"
    out = etree.fromstring(sign_xml(doc, rsa_signer(rsa_key), xpath="/a/p:c"))
    assert etree.QName(out[1][0]).localname == "Signature"
    with pytest.raises(XmlSignError, match="selects 0 elements"):
        sign_xml(doc, rsa_signer(rsa_key), xpath="//nothing")
    with pytest.raises(XmlSignError, match="invalid XPath"):
        sign_xml(doc, rsa_signer(rsa_key), xpath="/a[")
    with pytest.raises(XmlSignError, match="edXMLHeader"):
        sign_xml(EDXML, rsa_signer(rsa_key), xpath="/*")


def test_refusals(rsa_key: rsa.RSAPrivateKey) -> None:
    signer = rsa_signer(rsa_key)
    signed = sign_xml(EDXML, signer)
    with pytest.raises(XmlSignError, match="already signed"):
        sign_xml(signed, signer)
    with pytest.raises(XmlSignError, match="edXMLHeader is missing"):
        sign_xml(f'<edXML xmlns="{EDXML_NS}"/>'.encode(), signer)
    with pytest.raises(XmlSignError, match="DOCTYPE"):
        sign_xml(b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', signer)
    with pytest.raises(XmlSignError, match="RSASSA-PSS"):
        sign_xml(EDXML, XmlSigner(signer.certificate, "pss", signer.sign_digest))
    with pytest.raises(XmlSignError, match="timestamp authority"):
        sign_xml(EDXML, signer, xades=True, level="B-T")


@pytest.mark.parametrize(("data", "line", "column"), [
    (b"<a>\n  <b></a>", 2, 10),
    (b"<a>", 1, 4),
    (b"", 1, 1),
    (b"<?xml version='1.0'?>\n<a>\n<b>&undefined;</b></a>", 3, 15),
])
def test_malformed_xml_has_line_and_column(data: bytes, line: int, column: int) -> None:
    with pytest.raises(MalformedXml) as info:
        parse_xml(data)
    assert (info.value.line, info.value.column) == (line, column)
    assert f"line {line}, column {column}" in str(info.value)


def test_billion_laughs_is_not_expanded() -> None:
    bomb = (b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
            b"<l>&b;</l>")
    with pytest.raises(XmlSignError):
        parse_xml(bomb)
