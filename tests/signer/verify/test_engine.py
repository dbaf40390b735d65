"""``signer.verify.engine``: ``sniff`` recognises each kind of document, ``Verifier.verify``
dispatches to the matching format module, and what cannot be verified at all is refused
with its catalogue code (``InvalidRequest``, INVALID_ARGUMENT on the wire)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signer.catalogue import CATALOGUE
from signer.config import VerifySettings
from signer.digest import Digest, HashAlg
from signer.errors import InvalidRequest
from signer.formats.tsp import granted_response
from signer.verify.engine import Kind, Verifier, sniff
from signer.verify.report import Indication
from tests.documents import EDXML, blank_pdf
from tests.signer.verify.world import CONTENT, World
from tests.tsa.pki import pem

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


@pytest.fixture(scope="module")
def docs(w: World) -> dict[str, bytes]:
    d = Digest(HashAlg.SHA256, hashlib.sha256(CONTENT).digest())
    token = w.token(d)
    return {
        "cms": w.seal.sign_cms(),
        "xml": w.seal.sign_xml(EDXML.encode()),
        "pdf": w.seal.sign_pdf_pyhanko(blank_pdf()),
        "tsr-token": token,
        "tsr-reply": granted_response(token),
    }


@pytest.mark.parametrize(("name", "kind"), [
    ("cms", Kind.CMS), ("xml", Kind.XML), ("pdf", Kind.PDF), ("tsr-token", Kind.TSR),
    ("tsr-reply", Kind.TSR),
])
def test_sniff_recognises_each_kind(docs: dict[str, bytes], name: str, kind: Kind) -> None:
    assert sniff(docs[name]) is kind


@pytest.mark.parametrize("head", [b"\xef\xbb\xbf", b"  \r\n\t", b"\xef\xbb\xbf\n"])
def test_sniff_xml_after_a_bom_or_whitespace(head: bytes) -> None:
    assert sniff(head + EDXML.encode()) is Kind.XML


def test_sniff_pdf_header_after_leading_bytes() -> None:
    # ISO 32000 readers accept the header anywhere in the first 1024 bytes
    assert sniff(b"\x00" * 100 + blank_pdf()) is Kind.PDF
    assert sniff(b"\x00" * 1100 + blank_pdf()) is Kind.CMS


def test_sniff_xml_that_mentions_a_pdf_header(w: World, verifier: Verifier) -> None:
    """An XML document whose text says ``%PDF-`` is XML, not a malformed PDF."""
    xml = ('<?xml version="1.0" encoding="UTF-8"?>'
           "<vanban><ghichu>Tệp đính kèm: %PDF-1.7, 2 trang</ghichu></vanban>").encode()
    signed = w.seal.sign_xml(xml)
    assert sniff(signed) is Kind.XML
    r = verifier.verify(signed)
    assert (r.kind, r.overall) == ("xml", Indication.PASSED)


@pytest.mark.parametrize(("name", "kind"), [
    ("cms", "cms"), ("xml", "xml"), ("pdf", "pdf"), ("tsr-token", "tsr"), ("tsr-reply", "tsr"),
])
def test_verify_dispatches_by_kind(verifier: Verifier, docs: dict[str, bytes], name: str,
                                   kind: str) -> None:
    content = CONTENT if kind in ("cms", "tsr") else None
    before = datetime.now(UTC)
    r = verifier.verify(docs[name], content=content)
    after = datetime.now(UTC)
    assert r.kind == kind
    assert r.overall is Indication.PASSED, [s.check.problems for s in r.signatures]
    assert len(r.signatures) == 1
    assert r.verified_at is not None and before <= r.verified_at <= after
    assert r.trust_anchors == ["CN=kyso CA kiểm thử,O=kyso,C=VN"]


def test_an_explicit_kind_overrides_sniffing(verifier: Verifier, docs: dict[str, bytes]
                                             ) -> None:
    with pytest.raises(InvalidRequest) as e:
        verifier.verify(docs["xml"], kind=Kind.PDF)
    assert e.value.code == "pdf.malformed"
    with pytest.raises(InvalidRequest) as e:
        verifier.verify(docs["pdf"], kind=Kind.CMS)
    assert e.value.code == "cms.not_der"


@pytest.mark.parametrize(("document", "code"), [
    (b"", "verify.empty"),
    (b"hello, this is not a signature", "cms.not_der"),
    (b"\x30\x03\x02\x01\x01", "cms.not_der"),  # DER, but no ContentInfo
    (b"\x30\x82\xff\xff\x06", "cms.not_der"),  # a truncated SEQUENCE
    (b"<vanban><chua-dong>", "xml.malformed"),
    (b"%PDF-1.7\nnot a PDF body", "pdf.malformed"),
])
def test_garbage_is_refused_with_its_catalogue_code(verifier: Verifier, document: bytes,
                                                    code: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        verifier.verify(document)
    assert e.value.code == code
    assert code in CATALOGUE
    # the message is the catalogue's English text, the library's words only as detail
    assert str(e.value).startswith(CATALOGUE[code].en.split("{")[0].rstrip())


def test_a_cms_signature_that_is_not_signed_data_is_refused(verifier: Verifier) -> None:
    from asn1crypto import cms

    data = cms.ContentInfo({"content_type": "data", "content": b"abc"}).dump()
    with pytest.raises(InvalidRequest) as e:
        verifier.verify(data, kind=Kind.CMS)
    assert e.value.code == "cms.not_signed_data"


def test_content_and_digest_together_are_refused(verifier: Verifier,
                                                 docs: dict[str, bytes]) -> None:
    d = Digest(HashAlg.SHA256, hashlib.sha256(CONTENT).digest())
    with pytest.raises(InvalidRequest) as e:
        verifier.verify(docs["cms"], content=CONTENT, digest=d)
    assert e.value.code == "verify.content_and_digest"


def test_without_anchors_nothing_is_trusted(w: World, docs: dict[str, bytes]) -> None:
    r = w.verifier(anchors=[]).verify(docs["cms"], content=CONTENT)
    s = r.signatures[0]
    assert (s.indication, s.check.sub_indication) == (
        Indication.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND")
    assert [m.code for m in s.check.problems] == ["trust.no_anchor"]
    assert s.intact and s.signature_valid and not s.trusted


def test_from_settings_dev_ca_and_anchor_files(w: World, docs: dict[str, bytes],
                                               tmp_path: Path) -> None:
    """The development CA is an anchor only with ``trust_dev_ca``; a PEM anchor file that
    is not revocation-free leaves a certificate without CRL/OCSP pointers INDETERMINATE
    (``revocation = "require"``), and is enough under ``revocation = "soft"``."""
    ca_der = w.tsa.ca_der
    v = Verifier.from_settings(VerifySettings(trust_dev_ca=True), ca_der, None)
    assert v.verify(docs["cms"], content=CONTENT).overall is Indication.PASSED
    v = Verifier.from_settings(VerifySettings(trust_dev_ca=False), ca_der, None)
    s = v.verify(docs["cms"], content=CONTENT).signatures[0]
    assert (s.indication, s.check.sub_indication) == (
        Indication.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND")

    anchor = tmp_path / "goc.pem"
    anchor.write_bytes(pem(ca_der))
    v = Verifier.from_settings(
        VerifySettings(trust_dev_ca=False, trust_anchor_files=(anchor,)), None, None)
    s = v.verify(docs["cms"], content=CONTENT).signatures[0]
    assert (s.indication, s.check.sub_indication) == (
        Indication.INDETERMINATE, "CERTIFICATE_CHAIN_GENERAL_FAILURE")
    assert [m.code for m in s.check.problems] == ["trust.no_revocation_source"]
    assert s.trusted and s.revocation == "no-source"

    v = Verifier.from_settings(VerifySettings(trust_dev_ca=False, trust_anchor_files=(anchor,),
                                              revocation="soft"), None, None)
    s = v.verify(docs["cms"], content=CONTENT).signatures[0]
    assert s.indication is Indication.PASSED and s.revocation == "not-required"

    v = Verifier.from_settings(VerifySettings(
        trust_dev_ca=False, revocation_free_anchor_files=(anchor,)), None, None)
    s = v.verify(docs["cms"], content=CONTENT).signatures[0]
    assert s.indication is Indication.PASSED and s.trust_anchor == "CN=kyso CA kiểm thử,O=kyso,C=VN"
