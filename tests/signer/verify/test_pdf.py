"""``signer.verify.pdf``: PAdES signatures made with software keys (kyso's ``sign_pdf`` once,
pyHanko's signer for the rest: quicker, no font work), verified in-process — intact,
changed after signing by an incremental update (FORMAT_FAILURE, per the catalogue), signed
bytes changed, untrusted or out-of-date signers, a document timestamp, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import pytest

from signer.errors import InvalidRequest
from signer.verify.engine import Verifier
from signer.verify.report import Indication, SignatureReport, VerifyReport
from tests.documents import blank_pdf, rewrite_page
from tests.signer.verify.world import (
    AGENCY_CODE,
    NOW,
    SEAL_CN,
    SELF_CN,
    World,
)

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


def _outcome(s: SignatureReport) -> tuple[str, str, list[str]]:
    return s.indication.name, s.check.sub_indication, [m.code for m in s.check.problems]


def _one(v: Verifier, pdf: bytes) -> SignatureReport:
    r = v.verify(pdf)
    assert r.kind == "pdf" and len(r.signatures) == 1
    return r.signatures[0]


@pytest.fixture(scope="module")
def signed(w: World) -> bytes:
    return w.seal.sign_pdf_pyhanko(blank_pdf())


def test_kyso_signed_pdf_passes(w: World, agency_verifier: Verifier) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    signed = w.seal.sign_pdf(blank_pdf())
    after = datetime.now(UTC)
    s = _one(agency_verifier, signed)
    assert _outcome(s) == ("PASSED", "", [])
    assert (s.format, s.coverage, s.modifications) == ("PAdES", "whole-file", "none")
    assert s.intact and s.signature_valid and s.integrity == "intact"
    assert s.signer is not None and s.signer.common_name == SEAL_CN
    assert s.trusted and s.agency is not None and s.agency.code == AGENCY_CODE
    # the time the signature states: when it was made (to the second)
    assert s.signing_time is not None and before <= s.signing_time <= after


def test_pyhanko_signed_pdf_passes(verifier: Verifier, signed: bytes) -> None:
    s = _one(verifier, signed)
    assert _outcome(s) == ("PASSED", "", []) and s.field_name == "ChuKy"


def test_page_rewritten_after_signing(verifier: Verifier, signed: bytes) -> None:
    """The signed revision is intact; the update after it is what no signature allows:
    FAILED/FORMAT_FAILURE (EU DSS's undefined-changes check), never HASH_FAILURE."""
    s = _one(verifier, rewrite_page(signed))
    assert _outcome(s) == ("FAILED", "FORMAT_FAILURE", ["pdf.changed_disallowed"])
    assert s.intact and s.signature_valid and s.changes_disallowed
    assert s.integrity == "disallowed-changes" and s.modifications == "suspicious"
    assert (s.coverage, s.signed_revision, s.total_revisions) == ("revision", 2, 3)
    assert s.coverage_detail.startswith("revision 2 of 3; ")


def test_signed_bytes_changed(verifier: Verifier, signed: bytes) -> None:
    i = signed.find(b"/MediaBox")
    assert 0 < i
    changed = signed[:i + 12] + b"7" + signed[i + 13:]  # one digit of the page size
    assert len(changed) == len(signed) and changed != signed
    s = _one(verifier, changed)
    assert _outcome(s) == ("FAILED", "HASH_FAILURE", ["pdf.signed_bytes_changed"])
    assert s.signature_valid and not s.intact and s.integrity == "changed"


def test_self_signed_signer(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.self_signed.sign_pdf_pyhanko(blank_pdf()))
    assert _outcome(s) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", ["trust.self_signed"])
    assert s.signer is not None and s.signer.common_name == SELF_CN and s.signer.self_signed


def test_expired_signer(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.expired.sign_pdf_pyhanko(blank_pdf()))
    assert _outcome(s) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE", ["trust.expired"])


def test_not_yet_valid_signer(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.not_yet_valid.sign_pdf_pyhanko(blank_pdf()))
    assert _outcome(s) == ("INDETERMINATE", "NOT_YET_VALID", ["trust.not_yet_valid"])


def test_document_timestamp_after_a_signature(w: World, verifier: Verifier,
                                              signed: bytes) -> None:
    from asn1crypto import tsp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers, timestamps

    from signer.formats.tsp import parse_request
    from tests.tsa.pki import POLICY

    class Tsa(timestamps.TimeStamper):  # type: ignore[misc]
        async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
            return tsp.TimeStampResp.load(w.tsa.builder().build(
                parse_request(req.dump(), POLICY), serial=11, gen_time=NOW))

    out = signers.PdfTimeStamper(Tsa()).timestamp_pdf(
        IncrementalPdfFileWriter(BytesIO(signed)), "sha256")
    r: VerifyReport = verifier.verify(out.getvalue())
    assert r.overall is Indication.PASSED
    sig, doc_ts = r.signatures
    assert _outcome(sig) == ("PASSED", "", []) and sig.modifications == "lta-updates"
    assert sig.integrity == "allowed-changes"
    assert _outcome(doc_ts) == ("PASSED", "", [])
    assert (doc_ts.format, doc_ts.coverage, doc_ts.signing_time) == (
        "PDF document timestamp", "whole-file", NOW)
    assert doc_ts.signer is not None and doc_ts.signer.common_name == "kyso TSA thử nghiệm"


def test_unsigned_pdf(verifier: Verifier) -> None:
    r = verifier.verify(blank_pdf())
    assert r.signatures == [] and r.overall is Indication.FAILED
    assert [m.code for m in r.notes] == ["pdf.no_signatures"]


def test_encrypted_pdf_is_refused(verifier: Verifier) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    wr = PdfFileWriter()
    wr.insert_page(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(n) for n in (0, 0, 595, 842)]),
    }))
    wr.encrypt("mat-khau")
    buf = BytesIO()
    wr.write(buf)
    with pytest.raises(InvalidRequest) as e:
        verifier.verify(buf.getvalue())
    assert e.value.code == "pdf.encrypted"
