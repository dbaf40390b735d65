"""The verification report: ``signer.verify.report``'s rules (worst check wins, the
integrity line agrees with the indication, refusals carry their catalogue code), and the
human report rendered from the verifier's own results in both languages
(``signer.verify_service.response_pb`` -> ``clients.verify_report.render``): every
problem is a catalogue code, and the Vietnamese summary has no English words."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import BytesIO

import pytest

from clients.verify_report import render, to_dict
from signer.catalogue import CATALOGUE, Message
from signer.digest import Digest, HashAlg
from signer.verify.engine import Verifier
from signer.verify.report import (
    Check,
    Indication,
    SignatureReport,
    TimestampReport,
    VerifyReport,
    refusal,
)
from signer.verify_service import response_pb
from tests.documents import EDXML, blank_pdf, rewrite_page
from tests.signer.verify.world import (
    CONTENT,
    NOW,
    World,
    sha1_cms,
)
from tests.vietnamese import dn_values, english_words, has_dn

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

DETAILS_VI = "Chi tiết kỹ thuật"
DETAILS_EN = "Technical details"


# --- the report's rules ---------------------------------------------------------------------


def test_the_worst_check_wins_and_the_first_sub_indication_stays() -> None:
    c = Check()
    c.indeterminate("NO_CERTIFICATE_CHAIN_FOUND", Message.of("trust.self_signed"))
    c.indeterminate("CRYPTO_CONSTRAINTS_FAILURE", Message.of("algo.weak"))
    assert (c.indication, c.sub_indication) == (Indication.INDETERMINATE,
                                                "NO_CERTIFICATE_CHAIN_FOUND")
    c.fail("HASH_FAILURE", Message.of("cms.content_changed"))
    c.indeterminate("TRY_LATER", Message.of("trust.revocation_fetch_off"))
    assert (c.indication, c.sub_indication) == (Indication.FAILED, "HASH_FAILURE")
    assert [m.code for m in c.problems] == ["trust.self_signed", "algo.weak",
                                            "cms.content_changed", "trust.revocation_fetch_off"]
    assert len(c.errors) == 4 and all(c.errors)


def test_overall_is_the_worst_signature_and_failed_without_any() -> None:
    r = VerifyReport(kind="pdf")
    assert r.overall is Indication.FAILED
    ok, bad = SignatureReport(1, "PAdES"), SignatureReport(2, "PAdES")
    bad.check.indeterminate("NOT_YET_VALID", Message.of("trust.not_yet_valid"))
    r.signatures = [ok, bad]
    assert r.overall is Indication.INDETERMINATE
    assert r.to_dict()["overall"] == "INDETERMINATE"


@pytest.mark.parametrize(("intact", "valid", "sub", "changes", "expected"), [
    (True, True, "", "none", "intact"),
    (True, True, "", "form-filling", "allowed-changes"),
    (True, True, "FORMAT_FAILURE", "suspicious", "disallowed-changes"),
    (False, True, "HASH_FAILURE", "", "changed"),
    (False, False, "SIG_CRYPTO_FAILURE", "", "signature-invalid"),
    (False, False, "HASH_FAILURE", "", "changed"),
    (False, False, "FORMAT_FAILURE", "", "unchecked"),
])
def test_integrity_line(intact: bool, valid: bool, sub: str, changes: str,
                        expected: str) -> None:
    s = SignatureReport(1, "PAdES", intact=intact, signature_valid=valid,
                        modifications=changes, changes_disallowed=changes == "suspicious")
    if sub:
        s.check.fail(sub, Message.of("sig.value_invalid"))
    assert s.integrity == expected
    assert f"integrity.{expected}" in CATALOGUE


def test_best_time_is_a_passed_timestamp_else_the_claim() -> None:
    s = SignatureReport(1, "CAdES-B-T", signing_time=NOW)
    later = NOW + timedelta(minutes=5)
    s.timestamp = TimestampReport(later, "CN=TSA", Indication.FAILED, "HASH_FAILURE")
    assert s.best_time() == NOW
    s.timestamp = TimestampReport(later, "CN=TSA", Indication.PASSED)
    assert s.best_time() == later


def test_refusal_carries_code_params_and_english_text() -> None:
    e = refusal("verify.unknown_kind", kind="docx")
    assert (e.code, dict(e.params)) == ("verify.unknown_kind", {"kind": "docx"})
    assert str(e) == "unknown document kind docx"
    e = refusal("cms.not_der", detail="Insufficient data")
    assert (e.code, e.detail) == ("cms.not_der", "Insufficient data")
    assert str(e).startswith("not a DER CMS signature (ContentInfo/SignedData)")


# --- the human report, from the verifier's results --------------------------------------------


@pytest.fixture(scope="module")
def reports(w: World, agency_verifier: Verifier) -> dict[str, VerifyReport]:
    """name -> a report of the verifier, one per kind of outcome."""
    from asn1crypto import tsp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers, timestamps

    from signer.formats.tsp import parse_request
    from tests.tsa.pki import POLICY

    class Tsa(timestamps.TimeStamper):  # type: ignore[misc]
        async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
            return tsp.TimeStampResp.load(w.tsa.builder().build(
                parse_request(req.dump(), POLICY), serial=11, gen_time=NOW))

    v = agency_verifier
    d = Digest(HashAlg.SHA256, hashlib.sha256(CONTENT).digest())
    signed_pdf = w.seal.sign_pdf_pyhanko(blank_pdf())
    stamped = signers.PdfTimeStamper(Tsa()).timestamp_pdf(
        IncrementalPdfFileWriter(BytesIO(signed_pdf)), "sha256").getvalue()
    return {
        "cms-intact": v.verify(w.seal.sign_cms(timestamper=w.token), content=CONTENT),
        "cms-tampered": v.verify(w.seal.sign_cms(), content=CONTENT + b"!"),
        "cms-no-content": v.verify(w.seal.sign_cms()),
        "cms-self-signed": v.verify(w.self_signed.sign_cms(), content=CONTENT),
        "cms-expired": v.verify(w.expired.sign_cms(), content=CONTENT),
        "cms-not-yet-valid": v.verify(w.not_yet_valid.sign_cms(), content=CONTENT),
        "cms-sha1": v.verify(sha1_cms(w.seal), content=CONTENT),
        "pdf-intact": v.verify(signed_pdf),
        "pdf-modified": v.verify(rewrite_page(signed_pdf)),
        "pdf-doc-timestamp": v.verify(stamped),
        "pdf-unsigned": v.verify(blank_pdf()),
        "xml": v.verify(w.seal.sign_xml(EDXML.encode())),
        "xml-xades": v.verify(w.seal.sign_xml(EDXML.encode(), xades=True)),
        "xml-changed": v.verify(w.seal.sign_xml(EDXML.encode()).replace(
            "<edXML:Place>Cần Thơ".encode(), "<edXML:Place>Hà Nội".encode())),
        "tsr": v.verify(w.token(d), content=CONTENT),
        "tsr-no-data": v.verify(w.token(d)),
    }


EXPECTED = {
    # name: (overall, first signature's sub-indication or None)
    "cms-intact": ("PASSED", None),
    "cms-tampered": ("FAILED", "HASH_FAILURE"),
    "cms-no-content": ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND"),
    "cms-self-signed": ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND"),
    "cms-expired": ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE"),
    "cms-not-yet-valid": ("INDETERMINATE", "NOT_YET_VALID"),
    "cms-sha1": ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE"),
    "pdf-intact": ("PASSED", None),
    "pdf-modified": ("FAILED", "FORMAT_FAILURE"),
    "pdf-doc-timestamp": ("PASSED", None),
    "pdf-unsigned": ("FAILED", None),
    "xml": ("PASSED", None),
    "xml-xades": ("PASSED", None),
    "xml-changed": ("FAILED", "HASH_FAILURE"),
    "tsr": ("PASSED", None),
    "tsr-no-data": ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND"),
}


def _data(r: VerifyReport) -> list[str]:
    """Proper names in the report (certificate names, agency names, field names): data,
    not words of the report."""
    data = [v for dn in r.trust_anchors for v in dn_values(dn)]
    for s in r.signatures:
        for c in [s.signer, *s.chain]:
            if c is not None:
                data += dn_values(c.subject) + dn_values(c.issuer)
        if s.agency is not None:
            data += [s.agency.name_on_signing_date, s.agency.current_name,
                     *s.agency.successor_names]
        if s.timestamp is not None:
            data += dn_values(s.timestamp.tsa_subject)
        data.append(s.field_name)
    return data


def _codes(r: VerifyReport) -> set[str]:
    def walk(ms: object) -> set[str]:
        out: set[str] = set()
        for m in ms:  # type: ignore[attr-defined]
            out |= {m.code} | walk(m.causes)
        return out

    codes = walk(r.notes)
    for s in r.signatures:
        codes |= walk([*s.check.problems, *s.check.warnings])
        if s.revocation_message is not None:
            codes.add(s.revocation_message.code)
        if s.timestamp is not None:
            codes |= walk(s.timestamp.messages)
    return codes


@pytest.mark.parametrize("name", list(EXPECTED))
def test_outcomes(reports: dict[str, VerifyReport], name: str) -> None:
    r = reports[name]
    overall, sub = EXPECTED[name]
    d = to_dict(response_pb(r))
    assert d["overall"] == overall
    if r.signatures:
        assert d["signatures"][0]["sub_indication"] == sub
    assert _codes(r) <= set(CATALOGUE), _codes(r) - set(CATALOGUE)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_vietnamese_report_has_no_english(reports: dict[str, VerifyReport], name: str) -> None:
    r = reports[name]
    text = render(response_pb(r), "vi")
    summary = text.split(DETAILS_VI)[0]
    bad = {line: words for line in summary.splitlines()
           if (words := english_words(line, _data(r)))}
    assert not bad, "English in the Vietnamese report:\n" + "\n".join(
        f"  {line!r}: {words}" for line, words in bad.items()) + "\n" + text
    dns = [line for line in summary.splitlines() if has_dn(line)]
    assert not dns, f"distinguished names belong in {DETAILS_VI!r}: {dns}"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_english_report(reports: dict[str, VerifyReport], name: str) -> None:
    r = reports[name]
    text = render(response_pb(r), "en")
    assert text.startswith(f"Verification result ({r.kind.upper()}): "), text
    assert english_words(text.split(DETAILS_EN)[0], _data(r)), text
    for s in r.signatures:
        assert f"Signature {s.index}: " in text


def test_vietnamese_phrases(reports: dict[str, VerifyReport]) -> None:
    from tests.signer.verify.world import AGENCY_CODE, AGENCY_NAME, SELF_CN

    vi = {name: render(response_pb(r), "vi") for name, r in reports.items()}
    assert "Chữ ký số 1: HỢP LỆ" in vi["cms-intact"]
    assert f"Cơ quan: {AGENCY_NAME} ({AGENCY_CODE})" in vi["cms-intact"]
    assert "Dấu thời gian:" in vi["cms-intact"]
    assert "KHÔNG HỢP LỆ" in vi["cms-tampered"] and "đã bị thay đổi" in vi["cms-tampered"]
    assert "tự ký" in vi["cms-self-signed"] and f"Người ký: {SELF_CN}" in vi["cms-self-signed"]
    assert "SHA-1" in vi["cms-sha1"]
    assert "không cho phép" in vi["pdf-modified"] and "HASH_FAILURE" not in vi["pdf-modified"]
    assert "toàn bộ gói tin" in vi["xml"]
