"""`kyso sign xml` against a real server and HSM token, checked by someone else's
parsers: xmlsec1 (with the dev CA as the only trust anchor), signxml, and
`openssl ts -verify` for the XAdES-B-T signature timestamp."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml.exceptions import InvalidDigest
from signxml.verifier import XMLVerifier
from signxml.xades.xades import XAdESVerifier

from signer.formats.tsp import verify_token
from tests.documents import EDXML, PDF_B64
from tests.helpers import hsm_unavailable_reason
from tests.servers import Server, server_env, start_server, stop_server

# Formats and handlers: what they do does not depend on the database (records reach
# PostgreSQL in the modules that test records), so the PostgreSQL pass skips them.
pytestmark = [pytest.mark.e2e, pytest.mark.database_free]
DEMO = "000.00.00.H13"
EC_AGENCY = "000.00.41.H13"
PSS_AGENCY = "000.00.42.H13"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
NS = {"ds": DS, "xades": XADES, "ed": "http://www.mic.gov.vn/TBT/QCVN_102_2016"}
ID_ATTR = ("--id-attr:Id", f"{XADES}:SignedProperties")

GENERIC = """<?xml version="1.0" encoding="UTF-8"?>
<hs:HoSo xmlns:hs="urn:vn:kyso:test:hoso" xmlns:unused="urn:unused">
  <hs:MaHoSo>H13.22-250701-0001</hs:MaHoSo>
  <hs:NguoiNop>Nguyễn Thị Lan</hs:NguoiNop>
  <hs:ThuTuc>Cấp giấy phép xây dựng</hs:ThuTuc>
  <hs:KetQua><hs:TrangThai>Đã giải quyết</hs:TrangThai></hs:KetQua>
</hs:HoSo>
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    if shutil.which("xmlsec1") is None:
        pytest.skip("xmlsec1 not found: install Debian's xmlsec1 package")
    workdir = tmp_path_factory.mktemp("xml")
    s = start_server(workdir, server_env(workdir, "kyso-xml"), "--demo")
    with s.client() as c:
        c.create_agency(EC_AGENCY, "Sở Khoa học và Công nghệ thành phố Cần Thơ")
        c.generate_key(EC_AGENCY, "ec-p256")
        c.issue_dev_certificate(EC_AGENCY)
        c.create_agency(PSS_AGENCY, "Sở Tài chính thành phố Cần Thơ")
        c.generate_key(PSS_AGENCY, "rsa-2048", "pss")
        c.issue_dev_certificate(PSS_AGENCY)
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def ca_pem(srv: Server) -> Path:
    out = srv.workdir / "ca.pem"
    r = srv.cli("admin", "ca", "export", "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def signer_pem(srv: Server, agency: str) -> str:
    with srv.client() as c:
        der = bytes(c.signing_certificate(agency).certificate.der)
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode()


def xmlsec_verify(path: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    # Only the dev CA is trusted; the signer certificate comes from ds:X509Data. Only
    # URI="" and #id references are allowed (no remote or local-file dereferencing).
    return subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(ca), *ID_ATTR,
         "--enabled-reference-uris", "empty,same-doc", str(path)],
        capture_output=True, text=True, timeout=60)


def sign(srv: Server, tmp: Path, text: str, *args: str, name: str = "in.xml"
         ) -> tuple[Path, subprocess.CompletedProcess[str]]:
    src = tmp / name
    src.write_text(text, encoding="utf-8")
    dst = tmp / f"{src.stem}.out.xml"
    r = srv.cli("sign", "xml", str(src), "-o", str(dst), *args)
    return dst, r


def test_edxml_package_verifies_with_xmlsec1_and_signxml(srv: Server, ca_pem: Path,
                                                         tmp_path: Path) -> None:
    out, r = sign(srv, tmp_path, EDXML, "--agency", DEMO, "--type", "CV",
                  "--number", "125/UBND-VP")
    assert r.returncode == 0, r.stderr
    assert "XML-DSig" in r.stderr
    v = xmlsec_verify(out, ca_pem)
    assert v.returncode == 0 and "OK" in v.stdout + v.stderr, v.stdout + v.stderr

    root = etree.parse(str(out)).getroot()
    header = root.find("ed:edXMLEnvelope/ed:edXMLHeader", NS)
    assert [etree.QName(c).localname for c in header] == [
        "MessageHeader", "TraceHeaderList", "Signature"]
    sig = header[2]
    assert sig.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm").endswith(
        "rsa-sha256")
    assert len(sig.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)) >= 1

    result = XMLVerifier().verify(out.read_bytes(), x509_cert=signer_pem(srv, DEMO))
    assert not isinstance(result, list)
    signed = etree.tostring(result.signed_xml, encoding="unicode")
    assert "Về việc triển khai" in signed and PDF_B64[:60] in signed

    # Tamper with the subject: both verifiers refuse.
    bad = tmp_path / "tampered.xml"
    bad.write_bytes(out.read_bytes().replace("triển khai".encode(), "hủy bỏ".encode()))
    v = xmlsec_verify(bad, ca_pem)
    assert v.returncode != 0, v.stdout + v.stderr
    with pytest.raises(InvalidDigest):
        XMLVerifier().verify(bad.read_bytes(), x509_cert=signer_pem(srv, DEMO))
    # kyso's own verifier agrees: the package passes, the tampered one fails.
    ok = srv.cli("verify", str(out), "--lang", "vi")
    assert ok.returncode == 0 and "HỢP LỆ" in ok.stdout, ok.stdout + ok.stderr
    assert "000.00.00.H13" in ok.stdout
    broken = srv.cli("verify", str(bad), "--lang", "vi")
    assert broken.returncode == 1 and "KHÔNG HỢP LỆ" in broken.stdout, broken.stdout


def test_edxml_sha512_and_untrusted_ca_fails(srv: Server, ca_pem: Path, tmp_path: Path,
                                             ) -> None:
    out, r = sign(srv, tmp_path, EDXML, "--agency", DEMO, "--hash", "sha512", "--no-chain")
    assert r.returncode == 0, r.stderr
    assert xmlsec_verify(out, ca_pem).returncode == 0
    assert b"rsa-sha512" in out.read_bytes()
    # Another trust anchor: xmlsec1 cannot build a chain to it.
    other = tmp_path / "other-ca.pem"
    other.write_text(signer_pem(srv, EC_AGENCY))
    assert xmlsec_verify(out, other).returncode != 0


def test_already_signed_package_is_refused(srv: Server, tmp_path: Path) -> None:
    out, r = sign(srv, tmp_path, EDXML, "--agency", DEMO)
    assert r.returncode == 0, r.stderr
    again = srv.cli("sign", "xml", str(out), "-o", str(tmp_path / "x.xml"), "--agency", DEMO)
    assert again.returncode == 4
    assert "already signed" in again.stderr and "Traceback" not in again.stderr


def test_xades_b_b_generic_xml(srv: Server, ca_pem: Path, tmp_path: Path) -> None:
    out, r = sign(srv, tmp_path, GENERIC, "--agency", DEMO, "--xades")
    assert r.returncode == 0, r.stderr
    assert "XAdES-B-B" in r.stderr
    v = xmlsec_verify(out, ca_pem)
    assert v.returncode == 0 and "References (ok/all): 2/2" in v.stdout + v.stderr, (
        v.stdout + v.stderr)
    root = etree.parse(str(out)).getroot()
    assert etree.QName(root[-1]).localname == "Signature"
    assert root.find(".//xades:UnsignedProperties", NS) is None
    XAdESVerifier().verify(out.read_bytes(), x509_cert=signer_pem(srv, DEMO),
                           expect_references=2)

    # The signed properties are covered: changing the signing time breaks it.
    when = root.findtext(".//xades:SigningTime", namespaces=NS)
    bad = tmp_path / "bad-time.xml"
    bad.write_bytes(out.read_bytes().replace(when.encode(), b"2020-01-01T00:00:00Z"))
    assert xmlsec_verify(bad, ca_pem).returncode != 0


def test_xades_b_t_timestamp_covers_signature_value(srv: Server, ca_pem: Path,
                                                    tmp_path: Path) -> None:
    out, r = sign(srv, tmp_path, GENERIC, "--agency", DEMO, "--level", "B-T",
                  "--xpath", "/hs:HoSo/hs:KetQua")
    assert r.returncode == 0, r.stderr
    assert "XAdES-B-T" in r.stderr
    v = xmlsec_verify(out, ca_pem)
    assert v.returncode == 0, v.stdout + v.stderr

    tree = etree.parse(str(out))
    sig = tree.find(".//ds:Signature", NS)
    assert etree.QName(sig.getparent()).localname == "KetQua"
    sig_value = sig.find("ds:SignatureValue", NS)
    imprint = hashlib.sha256(
        etree.tostring(sig_value, method="c14n", exclusive=True)).digest()
    ts = sig.find(".//xades:UnsignedSignatureProperties/xades:SignatureTimeStamp", NS)
    assert ts.find("ds:CanonicalizationMethod", NS).get("Algorithm") == (
        "http://www.w3.org/2001/10/xml-exc-c14n#")
    token = base64.b64decode(ts.findtext("xades:EncapsulatedTimeStamp", namespaces=NS))
    info = verify_token(token, digest=imprint, trusted_roots_pem=ca_pem.read_bytes())
    assert info.hash_alg == "sha256"

    tsr = tmp_path / "token.tsr"
    tsr.write_bytes(token)
    o = subprocess.run(["openssl", "ts", "-verify", "-digest", imprint.hex(), "-in", str(tsr),
                        "-token_in", "-CAfile", str(ca_pem)],
                       capture_output=True, text=True, timeout=60)
    assert o.returncode == 0 and "Verification: OK" in o.stdout, o.stdout + o.stderr
    XAdESVerifier().verify(out.read_bytes(), x509_cert=signer_pem(srv, DEMO),
                           expect_references=2)


@pytest.mark.parametrize("xades", [False, True])
def test_ec_p256_agency_ecdsa_sha256(srv: Server, ca_pem: Path, tmp_path: Path,
                                     xades: bool) -> None:
    text = EDXML.replace("000.00.00.H13", EC_AGENCY)
    out, r = sign(srv, tmp_path, text, "--agency", EC_AGENCY, *(["--xades"] if xades else []))
    assert r.returncode == 0, r.stderr
    assert b"#ecdsa-sha256" in out.read_bytes()
    v = xmlsec_verify(out, ca_pem)
    assert v.returncode == 0, v.stdout + v.stderr
    sig = etree.parse(str(out)).find(".//ds:SignatureValue", NS)
    assert len(base64.b64decode(sig.text)) == 64  # r||s, not DER
    XMLVerifier().verify(out.read_bytes(), x509_cert=signer_pem(srv, EC_AGENCY),
                         expect_references=2 if xades else 1)


@pytest.mark.parametrize(("text", "where"), [
    ("<a>\n  <b>\n</a>\n", "line 3, column"),
    ('<?xml version="1.0"?>\n<edXML:edXML xmlns:edXML="x">&bad;</edXML:edXML>',
     "line 2, column"),
    ("", "line 1, column 1"),
])
def test_broken_xml_is_a_clear_error(srv: Server, tmp_path: Path, text: str,
                                     where: str) -> None:
    out, r = sign(srv, tmp_path, text, "--agency", DEMO)
    assert r.returncode == 4
    assert "not well-formed XML" in r.stderr and where in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_unknown_agency_and_bad_xpath(srv: Server, tmp_path: Path) -> None:
    _, r = sign(srv, tmp_path, GENERIC, "--agency", "000.00.00.H49")
    assert r.returncode == 4 and "NOT_FOUND" in r.stderr, r.stderr
    _, r = sign(srv, tmp_path, GENERIC, "--agency", DEMO, "--xpath", "//hs:Missing")
    assert r.returncode == 4 and "selects 0 elements" in r.stderr, r.stderr


def test_pss_key_is_refused_before_signing(srv: Server, tmp_path: Path) -> None:
    # xmlsec1 1.2 and signxml cannot verify sha256-rsa-MGF1 (RFC 9231): refuse, clearly.
    out, r = sign(srv, tmp_path, EDXML, "--agency", PSS_AGENCY)
    assert r.returncode == 4 and "RSASSA-PSS" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_agency_default_xml_form_xades_b_t_for_edxml(srv: Server, ca_pem: Path,
                                                     tmp_path: Path) -> None:
    """An agency that chose XAdES-B-T signs edXML packages with a signed signing time and
    a signature timestamp by default; xmlsec1 still verifies the package; another agency
    keeps QCVN 102:2016's exact form; --form overrides the agency's choice."""
    r = srv.cli("admin", "seal", "xml-form", EC_AGENCY, "xades-b-t")
    assert r.returncode == 0, r.stdout + r.stderr
    shown = json.loads(srv.cli("admin", "seal", "show", EC_AGENCY, "--json",
                               check=True).stdout)
    assert shown["xml_form"] == "xades-b-t"
    out, r = sign(srv, tmp_path, EDXML, "--agency", EC_AGENCY)
    assert r.returncode == 0, r.stderr
    assert "XAdES-B-T" in r.stderr
    v = xmlsec_verify(out, ca_pem)
    assert v.returncode == 0 and "OK" in v.stdout + v.stderr, v.stdout + v.stderr
    root = etree.parse(str(out)).getroot()
    sig = root.find("ed:edXMLEnvelope/ed:edXMLHeader/ds:Signature", NS)
    assert sig is not None
    when = sig.find(".//xades:SigningTime", NS)
    assert when is not None and when.text.endswith("Z")
    assert sig.find(".//xades:SignatureTimeStamp/xades:EncapsulatedTimeStamp", NS) is not None
    rep = json.loads(srv.cli("verify", str(out), "--json").stdout)["signatures"][0]
    assert rep["format"] == "XAdES-B-T" and rep["indication"] == "PASSED", rep
    assert rep["signing_time"].endswith("+07:00")
    assert rep["timestamp"]["indication"] == "PASSED", rep["timestamp"]

    plain, r = sign(srv, tmp_path, EDXML, "--agency", DEMO, name="plain.xml")
    assert r.returncode == 0 and "XML-DSig" in r.stderr, r.stderr
    assert XADES.encode() not in plain.read_bytes()  # (base64 never holds ':' or '/')
    forced, r = sign(srv, tmp_path, EDXML, "--agency", EC_AGENCY, "--form", "xml-dsig",
                     name="forced.xml")
    assert r.returncode == 0 and "XML-DSig" in r.stderr
    assert XADES.encode() not in forced.read_bytes()


def test_a_piece_of_an_edxml_package_is_refused(srv: Server, tmp_path: Path) -> None:
    """An edXMLEnvelope (or any other edXML element) signed on its own would carry its
    signature where no receiver looks for one: refused, saying why."""
    envelope = EDXML[EDXML.index("<edXML:edXMLEnvelope"):EDXML.index("</edXML:edXMLEnvelope>")]
    piece = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             + envelope.replace("<edXML:edXMLEnvelope",
                                f'<edXML:edXMLEnvelope xmlns:edXML="{NS["ed"]}"', 1)
             + "</edXML:edXMLEnvelope>\n")
    out, r = sign(srv, tmp_path, piece, "--agency", DEMO, name="envelope.xml")
    assert r.returncode == 4, r.stdout + r.stderr
    assert "not an edXML package" in r.stderr and "gói tin" in r.stderr, r.stderr
    assert not out.exists()
