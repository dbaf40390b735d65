"""``signer.verify.xml``: XML-DSig and XAdES signatures made by ``sign_xml`` with software
keys over an edXML package (QCVN 102:2016) and a plain XML document, verified in-process."""

from __future__ import annotations

import pytest
from lxml import etree

from signer.formats.tsp import parse_request
from signer.verify.engine import Verifier
from signer.verify.report import Indication, SignatureReport
from tests.documents import EDXML
from tests.signer.verify.world import NOW, SEAL_CN, SELF_CN, World
from tests.tsa.pki import POLICY

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

DS = "http://www.w3.org/2000/09/xmldsig#"
PLAIN = ('<?xml version="1.0" encoding="UTF-8"?>'
         "<vanban><so>125/UBND-VP</so><trichyeu>Về việc triển khai chữ ký số</trichyeu>"
         "</vanban>").encode()


def _one(v: Verifier, xml: bytes) -> SignatureReport:
    r = v.verify(xml)
    assert r.kind == "xml" and len(r.signatures) == 1
    return r.signatures[0]


def _outcome(s: SignatureReport) -> tuple[str, str, list[str]]:
    return s.indication.name, s.check.sub_indication, [m.code for m in s.check.problems]


@pytest.fixture(scope="module")
def edxml(w: World) -> bytes:
    return w.seal.sign_xml(EDXML.encode())


def test_valid_edxml_package(verifier: Verifier, edxml: bytes) -> None:
    s = _one(verifier, edxml)
    assert _outcome(s) == ("PASSED", "", [])
    assert (s.format, s.coverage, s.references) == ("XML-DSig", "whole-package", [""])
    assert s.intact and s.signature_valid and s.integrity == "intact"
    assert s.signer is not None and s.signer.common_name == SEAL_CN
    assert s.trusted and s.chain[-1].subject == "CN=kyso CA kiểm thử,O=kyso,C=VN"
    assert (s.digest_algorithm, s.signature_algorithm) == ("sha256", "RSA 2048 bit PKCS#1 v1.5")
    assert s.signing_time is None and s.timestamp is None  # plain XML-DSig claims no time


def test_valid_plain_document(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.seal.sign_xml(PLAIN))
    assert _outcome(s) == ("PASSED", "", []) and s.coverage == "whole-document"


def test_content_changed_after_signing(verifier: Verifier, edxml: bytes) -> None:
    changed = edxml.replace("<edXML:Place>Cần Thơ".encode(), "<edXML:Place>Hà Nội".encode())
    assert changed != edxml
    s = _one(verifier, changed)
    assert _outcome(s) == ("FAILED", "HASH_FAILURE", ["xml.changed"])
    assert not s.intact and s.integrity == "changed"


def test_signature_value_changed(verifier: Verifier, edxml: bytes) -> None:
    root = etree.fromstring(edxml)
    value = root.find(f".//{{{DS}}}SignatureValue")
    assert value is not None and value.text
    text = value.text.strip()
    value.text = ("B" if text[0] == "A" else "A") + text[1:]
    s = _one(verifier, etree.tostring(root))
    assert _outcome(s) == ("FAILED", "SIG_CRYPTO_FAILURE", ["sig.value_invalid"])
    assert s.integrity == "signature-invalid"


def test_self_signed_signer(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.self_signed.sign_xml(EDXML.encode()))
    assert _outcome(s) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", ["trust.self_signed"])
    assert s.intact and s.signer is not None and s.signer.common_name == SELF_CN


def test_expired_signer(w: World, verifier: Verifier) -> None:
    """The signature value is sound; the certificate's validity is the trust check's
    (INDETERMINATE/OUT_OF_BOUNDS_NO_POE, as for CMS and PDF), not a bad signature."""
    s = _one(verifier, w.expired.sign_xml(EDXML.encode()))
    assert _outcome(s) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE", ["trust.expired"])
    assert s.intact and s.signature_valid and s.integrity == "intact"
    changed = w.expired.sign_xml(EDXML.encode()).replace(
        "<edXML:Place>Cần Thơ".encode(), "<edXML:Place>Hà Nội".encode())
    assert _outcome(_one(verifier, changed)) == (
        "FAILED", "HASH_FAILURE", ["xml.changed", "trust.expired"])


def test_not_yet_valid_signer(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.not_yet_valid.sign_xml(EDXML.encode()))
    assert _outcome(s) == ("INDETERMINATE", "NOT_YET_VALID", ["trust.not_yet_valid"])


def test_signer_certificate_missing(verifier: Verifier, edxml: bytes) -> None:
    root = etree.fromstring(edxml)
    key_info = root.find(f".//{{{DS}}}KeyInfo")
    assert key_info is not None
    key_info.getparent().remove(key_info)
    s = _one(verifier, etree.tostring(root))
    assert _outcome(s) == ("INDETERMINATE", "NO_SIGNING_CERTIFICATE_FOUND",
                           ["xml.no_certificate"])


def test_no_signature(verifier: Verifier) -> None:
    r = verifier.verify(EDXML.encode())
    assert r.signatures == [] and r.overall is Indication.FAILED
    assert [m.code for m in r.notes] == ["xml.no_signature"]


def test_xades_signing_time(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.seal.sign_xml(EDXML.encode(), xades=True, signing_time=NOW))
    assert _outcome(s) == ("PASSED", "", [])
    assert s.format == "XAdES-B-B" and s.signing_time == NOW
    assert len(s.references) == 2 and s.references[0] == ""


def test_xades_signature_timestamp(w: World, verifier: Verifier) -> None:
    def tsa(request: bytes) -> bytes:
        return w.tsa.builder().build(parse_request(request, POLICY), serial=77, gen_time=NOW)

    s = _one(verifier, w.seal.sign_xml(EDXML.encode(), xades=True, level="B-T",
                                       timestamp=tsa))
    assert _outcome(s) == ("PASSED", "", []) and s.format == "XAdES-B-T"
    ts = s.timestamp
    assert ts is not None
    assert (ts.indication, ts.time, [m.code for m in ts.messages]) == (
        Indication.PASSED, NOW, ["tsr.valid"])
    assert ts.tsa_common_name == "kyso TSA thử nghiệm"
