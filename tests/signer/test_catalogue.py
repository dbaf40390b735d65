"""Issue 13: one message catalogue, Vietnamese and English, for every indication,
sub-indication, modification level, coverage kind, revocation state, agency status,
label, problem, warning, note and refusal the verifier and `kyso verify` can produce.

Every entry is rendered in both languages with sample parameters; the test fails on a
missing key (in either language, or one the code uses but the catalogue lacks), on a
placeholder left unfilled, on any English word in the Vietnamese text and on Vietnamese
in the English text. A whole report carrying every message is rendered too, and its
Vietnamese summary scanned line by line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from signer.catalogue import CATALOGUE, LANGS, REFS, Message, fields, legacy, render, text
from tests.vietnamese import english_words, has_dn

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

ROOT = Path(__file__).resolve().parents[2]

# A sample for every parameter a template names: data (names, numbers, algorithm names,
# paths), or, for a parameter in REFS, a key of the group it refers to.
SAMPLES: dict[str, str] = {
    "kind": "CMS",
    "key": "27a31ce0e68f166cda61614075a20e66",
    "at": "2026-11-30T09:15:00+07:00",
    "proven": "2026-11-29T16:02:11+07:00",
    "claimed": "2026-12-01T08:00:00+07:00",
    "index": "1",
    "code": "000.00.00.H13",
    "signed": "1",
    "total": "2",
    "status": "INVALID_ARGUMENT",
    "algorithms": "SHA-1, RSA 1024 bit",
    "algorithm": "md2",
    "content_type": "enveloped_data",
    "signature_alg": "sha384",
    "digest_alg": "sha256",
    "token_alg": "sha512",
    "root": "RootCA chuyên dùng Chính phủ G2",
    "issuer": "CA phục vụ các cơ quan Đảng, Nhà nước",
    "names": "Nguyễn Văn An",
    "max": "8",
    "seconds": "15",
    "anchor": "kyso Development CA",
    "count": "2",
    "endpoint": "10.0.0.5:50051",
    "path": "quyet-dinh.pdf",
    # references to other groups
    "what": "signer",
    "level": "suspicious",
    "indication": "INDETERMINATE",
    "permitted": "2",
}
DATA = [v for k, v in SAMPLES.items() if k not in REFS]

# Groups whose keys the code builds from values (an indication, a sub-indication, a
# modification level ...) rather than names literally; every other key must be used.
VALUE_GROUPS = ("indication.", "sub.", "mod.", "permit.", "coverage.", "integrity.",
                "revocation.", "agency_status.", "agency_match.", "what.", "label.")
MESSAGE_GROUPS = ("algo", "sig", "cms", "pdf", "xml", "tsr", "trust", "fetch", "revinfo",
                  "verify", "seal", "cli", "compromise")
_GROUPS = "|".join(MESSAGE_GROUPS)
_KEY_LITERAL = re.compile(rf"""["'](?P<key>(?:{_GROUPS})\.[a-z_.-]+)["']""")
SOURCES = [p for d in ("signer", "clients") for p in (ROOT / d).rglob("*.py")
           if p.name != "catalogue.py"]


def _vietnamese_letters(s: str) -> list[str]:
    return [c for c in s if c.isalpha() and not c.isascii()]


def _without(s: str, data: list[str]) -> str:
    for d in sorted(data, key=len, reverse=True):
        s = s.replace(d, " ")
    return s


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_entry_renders_in_both_languages(key: str) -> None:
    entry = CATALOGUE[key]
    assert entry.vi.strip() and entry.en.strip(), f"{key}: a language is missing"
    assert fields(entry.vi) == fields(entry.en), f"{key}: the languages take other parameters"
    missing = fields(entry.vi) - set(SAMPLES)
    assert not missing, f"{key}: no sample for {missing}: add one to SAMPLES"
    for name in fields(entry.vi) & set(REFS):
        assert f"{REFS[name]}.{SAMPLES[name]}" in CATALOGUE, (key, name)
    vi = text(key, "vi", SAMPLES)
    en = text(key, "en", SAMPLES)
    for lang, out in (("vi", vi), ("en", en)):
        assert "{" not in out and "}" not in out, f"{key} ({lang}): unfilled placeholder: {out}"
    assert not (words := english_words(vi, DATA)), f"{key}: English in Vietnamese: {words}: {vi}"
    assert not (letters := _vietnamese_letters(_without(en, DATA))), (
        f"{key}: Vietnamese in English: {letters}: {en}")
    assert vi != en or key.startswith("indication.") is False or vi.isupper(), key


def test_groups_are_complete() -> None:
    """Every value the verifier and the client can produce has its entry."""
    from pyhanko.sign.diff_analysis import ModificationLevel

    from registry.agencies.lifecycle import ACTIVE, CLOSED
    from signer.verify import report

    subs = [v for k, v in vars(report).items()
            if k.isupper() and isinstance(v, str) and v == k]
    assert "HASH_FAILURE" in subs and "TRY_LATER" in subs
    # EN 319 102-1 §5.1.3, table 5: every sub-indication, used here or not
    subs += ["EXPIRED", "CRYPTO_CONSTRAINTS_FAILURE_NO_POE", "POLICY_PROCESSING_ERROR",
             "SIGNATURE_POLICY_NOT_AVAILABLE", "TIMESTAMP_ORDER_FAILURE", "REVOKED_NO_POE",
             "REVOKED_CA_NO_POE", "OUT_OF_BOUNDS_NOT_REVOKED", "REVOCATION_OUT_OF_BOUNDS_NO_POE",
             "NO_POE"]
    mods = [m.name.lower().replace("_", "-") for m in ModificationLevel] + ["suspicious"]
    expected = (
        [f"indication.{i}" for i in ("PASSED", "FAILED", "INDETERMINATE", "UNSPECIFIED")]
        + [f"sub.{s}" for s in subs]
        + [f"mod.{m}" for m in mods]
        + [f"permit.{p}" for p in (1, 2, 3)]
        + [f"coverage.{c}" for c in ("detached-content", "enveloped-content", "whole-file",
                                     "revision", "partial", "unclear", "imprint",
                                     "whole-package", "whole-document", "references")]
        + [f"integrity.{i}" for i in ("intact", "allowed-changes", "disallowed-changes",
                                      "changed", "not-checked", "signature-invalid",
                                      "unchecked")]
        + [f"revocation.{r}" for r in ("good", "not-required", "unavailable", "revoked",
                                       "no-source", "not-checked")]
        + [f"agency_status.{s}" for s in (ACTIVE, CLOSED)]
        + [f"agency_match.{m}" for m in ("certificate", "public-key")]
        + ["what.signer", "what.tsa"]
    )
    missing = [k for k in expected if k not in CATALOGUE]
    assert not missing, f"missing from the catalogue: {missing}"


def test_every_code_the_code_uses_is_in_the_catalogue() -> None:
    used: dict[str, str] = {}
    for path in SOURCES:
        for m in _KEY_LITERAL.finditer(path.read_text()):
            used.setdefault(m["key"], str(path.relative_to(ROOT)))
    assert len(used) > 50, used
    missing = {k: where for k, where in used.items() if k not in CATALOGUE}
    assert not missing, f"codes used but not in signer/catalogue.py: {missing}"
    dead = [k for k in CATALOGUE if not k.startswith(VALUE_GROUPS) and k not in used]
    assert not dead, f"catalogue entries nothing uses: {dead}"


def test_integrity_verdicts_and_coverage_kinds_the_verifier_sets() -> None:
    """The strings the verifier sets without a Message (coverage kinds, integrity verdicts,
    modification levels) have their entries: read them from the verifier's source."""
    src = "\n".join((ROOT / "signer" / "verify" / f).read_text()
                    for f in ("report.py", "cms.py", "pdf.py", "xml.py", "tsr.py", "trust.py",
                              "common.py"))
    integrity = set(re.findall(r'return "([a-z-]+)"', (ROOT / "signer/verify/report.py")
                               .read_text()))
    assert {"intact", "disallowed-changes", "not-checked"} <= integrity
    for v in integrity:
        assert f"integrity.{v}" in CATALOGUE, v
    for v in re.findall(r'coverage="([a-z-]+)"', src) + re.findall(r'^\s+\d: \("([a-z-]+)"',
                                                                      src, re.M):
        assert f"coverage.{v}" in CATALOGUE, v
    for v in re.findall(r'report\.revocation = "([a-z-]+)"', src) + re.findall(
            r'_revocation\(report, "([a-z-]+)"', src):
        assert f"revocation.{v}" in CATALOGUE, v


def test_message_rendering() -> None:
    why = Message.of("trust.revocation_unobtained", what="tsa", causes=(
        Message.of("fetch.cap", max=8),
        Message.of("fetch.host_not_allowed", detail="http://10.0.0.1:80")))
    vi, en = render(why, "vi"), render(why, "en")
    assert vi.startswith("không lấy được tình trạng thu hồi của chứng thư số của đơn vị cấp")
    assert "8 lần tải" in vi and "10.0.0.1" not in vi, vi  # the URL is technical detail
    assert en.startswith("the revocation status of the TSA certificate could not be obtained")
    assert "fetch_max_requests" in legacy(why) and "http://10.0.0.1:80" in legacy(why)
    # a newer server's code this client does not know: its English text stands in
    assert render(Message.of("future.code"), "vi", "the server's words") == "the server's words"
    assert text("future.code", "vi") == "future.code"
    # a parameter the caller forgot stays visible
    assert "{algorithms}" in text("algo.weak", "vi")
    assert Message.of("a", x=1) == Message.of("a", x="1") and hash(Message.of("a"))


def _full_report() -> object:
    """A response carrying every field and every message of the catalogue."""
    from kyso.signer.v1 import verify_pb2

    def pb(code: str, detail: str = "") -> verify_pb2.ReportMessage:
        entry = CATALOGUE[code]
        params = {k: SAMPLES[k] for k in fields(entry.en)}
        return verify_pb2.ReportMessage(code=code, params=params, detail=detail,
                                        text=text(code, "en", params))

    codes = [k for k in CATALOGUE if k.split(".")[0] in MESSAGE_GROUPS]
    cert = verify_pb2.CertificateSummary(
        subject="CN=Nguyễn Văn An,O=Ủy ban nhân dân thành phố Cần Thơ,C=VN",
        issuer="CN=kyso Development CA,O=kyso,C=VN", serial_hex="1a2b",
        not_before_unix=1_750_000_000, not_after_unix=1_790_000_000,
        common_name="Nguyễn Văn An", organization="Ủy ban nhân dân thành phố Cần Thơ",
        issuer_common_name="kyso Development CA", issuer_organization="kyso")
    anchor = verify_pb2.CertificateSummary(
        subject="CN=kyso Development CA,O=kyso,C=VN", issuer="CN=kyso Development CA,O=kyso,C=VN",
        common_name="kyso Development CA", organization="kyso", self_signed=True)
    sigs = []
    for i, (fmt, cov, mods, integ) in enumerate([
            ("PAdES-B-T", "revision", "suspicious", "disallowed-changes"),
            ("XML-DSig", "whole-package", "", "intact"),
            ("RFC 3161", "imprint", "", "not-checked"),
            ("CAdES-B-B", "detached-content", "", "changed")], start=1):
        s = verify_pb2.SignatureReport(
            index=i, format=fmt, indication=verify_pb2.INDICATION_FAILED,
            sub_indication="FORMAT_FAILURE", errors=["legacy"], signer=cert,
            chain=[cert, anchor], intact=True, signature_valid=True, trusted=i % 2 == 1,
            trust_anchor=anchor.subject, revocation="not-required",
            signing_time_unix=1_760_000_000 if i != 2 else 0, has_signing_time=i != 2,
            digest_algorithm="sha256", signature_algorithm="RSA 2048 bit PKCS#1 v1.5",
            weak_algorithms=["SHA-1"], coverage=cov, coverage_detail="sha256 00ff",
            modifications=mods, field_name="ChuKyLanhDao", integrity=integ,
            signed_revision=1, total_revisions=2, references=["", "#SignedProperties"],
            token_serial_hex="2f", token_policy="1.2.3.4",
            problems=[pb(c, "Reference(idnum=3) library text") for c in codes],
            warning_messages=[pb("pdf.changes_after_signing")],
            revocation_message=pb("revinfo.free-anchor"),
            agency=verify_pb2.AgencyMatch(
                code="000.00.00.H13", name_on_signing_date="Ủy ban nhân dân thành phố Cần Thơ",
                current_name="Ủy ban nhân dân thành phố Cần Thơ mới", status="closed",
                successors=["000.00.00.H13", "000.00.01.H13"],
                successor_names=["Ủy ban nhân dân thành phố Cần Thơ", "Sở Tài chính"],
                matched_by="public-key"),
            timestamp=verify_pb2.TimestampReport(
                time_unix=1_760_000_000, tsa_subject="CN=kyso Development TSA,O=kyso,C=VN",
                tsa_common_name="kyso Development TSA", tsa_organization="kyso",
                indication=verify_pb2.INDICATION_INDETERMINATE,
                messages=[pb("tsr.weak", "hash too weak")]),
        )
        sigs.append(s)
    return verify_pb2.VerifyResponse(
        kind="pdf", overall_indication=verify_pb2.INDICATION_FAILED, signatures=sigs,
        notes=["legacy"], note_messages=[pb("pdf.no_signatures", "note detail")],
        verified_at_unix=1_760_000_100, trust_anchors=[anchor.subject])


def test_a_whole_report_in_vietnamese_has_no_english() -> None:
    from clients.verify_report import render as render_report
    from clients.verify_report import to_dict

    resp = _full_report()
    data = [*DATA, "Nguyễn Văn An", "Ủy ban nhân dân thành phố Cần Thơ", "kyso Development CA",
            "Ủy ban nhân dân thành phố Cần Thơ mới",
            "kyso Development TSA", "Sở Tài chính", "ChuKyLanhDao", "RSA 2048 bit PKCS#1 v1.5"]
    vi = render_report(resp, "vi")
    summary, _, details = vi.partition("\nChi tiết kỹ thuật\n")
    assert details, vi
    bad = {line: w for line in summary.splitlines() if (w := english_words(line, data))}
    assert not bad, "English in the Vietnamese summary:\n" + "\n".join(
        f"  {line!r}: {w}" for line, w in bad.items())
    assert not [line for line in summary.splitlines() if has_dn(line)]
    assert "Reference(idnum=3)" not in summary and "Reference(idnum=3)" in details
    for line in details.splitlines():  # the labels of the details are Vietnamese too
        label = line.split(":", 1)[0]
        assert not english_words(label, data), line
    for phrase in ("Chữ ký không ghi thời điểm ký", "toàn bộ gói tin", "phiên bản 1 trên tổng",
                   "thay đổi bất thường", "các byte đã ký còn nguyên vẹn",
                   "Người ký: Nguyễn Văn An (Ủy ban nhân dân thành phố Cần Thơ)",
                   "mã định danh 000.00.00.H13", "đã đóng mã", "Sở Tài chính (000.00.01.H13)"):
        assert phrase in summary, phrase
    en = render_report(resp, "en")
    summary_en = en.partition("\nTechnical details\n")[0]
    assert not _vietnamese_letters(_without(summary_en, data)), summary_en
    assert "the signed bytes are intact" in summary_en
    json.dumps(to_dict(resp), ensure_ascii=False)  # serialisable


def test_lang_of_a_command_line() -> None:
    from clients.cli.verify import lang_of

    assert lang_of(["x.p7s"]) in LANGS
    assert lang_of(["x.p7s", "--lang", "en"]) == "en"
    assert lang_of(["--lang=en", "x"]) == "en"
    assert lang_of(["--lang", "vi"]) == "vi"
