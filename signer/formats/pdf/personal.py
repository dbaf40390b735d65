"""Decree 30/2020 leader-then-seal: may the organization seal go on this PDF?

The seal (``seal`` profile) goes on a document the competent official — the leader —
has signed. Before sealing, every signature already in the PDF is examined here with
pyHanko, locally, and the trust in each personal signature's certificate is asked of a
``TrustCheck`` (the caller's: kyso's verifier, in process on the server or through the
``Verify`` RPC from the thin client, which sends the signature, never the PDF). The
seal is refused (``PdfPreconditionFailed``, FAILED_PRECONDITION) unless:

1. every signature is intact (its byte ranges hash to the signed digest), its
   signature value verifies, and it covers a whole revision of the file;
2. after every signature, the later revisions change no more than it allows: its
   DocMDP permission (certification signature) or its field lock's ``/P``, and for a
   signature with neither, form filling and signing (P=2, pyHanko's default). pyHanko's
   difference analysis judges the changes (``SuspiciousModification`` or
   ``ModificationLevel.OTHER``: content, pages, anything but forms and signatures);
3. no signature forbids every change (DocMDP P=1, or a field lock with ``/P 1``): the
   seal is a change;
4. at least one personal signature is present — by a certificate that is neither the
   agency's own nor any organization key kyso holds — and EVERY personal signature is
   PASSED by the trust check: its certificate validates to the configured anchors, its
   revocation status is known (INDETERMINATE refuses, with the verifier's reason), its
   algorithms are strong enough (Circular 15/2025);
5. the seal revision, once prepared and before anything is signed, does not break any
   earlier signature's permission or field lock (``check_seal_keeps``: pyHanko's
   difference analysis over the prepared file).

Every refusal names the signature (field and signer) and says what is wrong and what
to do, in English and in Vietnamese, in one message: ``<English> — Tiếng Việt: <...>``.

This is a workflow guarantee of kyso's PDF paths, not a cryptographic one: a client
holding a signer grant can have any digest signed through ``SignDigests``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from signer.catalogue import Message, render, sub_indication_vi
from signer.formats.pdf.errors import PdfPreconditionFailed

__all__ = [
    "STRONG_HASHES",
    "PersonalCheck",
    "SignatureEvidence",
    "TrustCheck",
    "TrustVerdict",
    "check_personal_signatures",
    "refusal",
]

STRONG_HASHES = ("sha256", "sha384", "sha512")  # Circular 15/2025; what Verify accepts
SEP = " — Tiếng Việt: "


def refusal(en: str, vi: str) -> PdfPreconditionFailed:
    """One message for the clerk (văn thư) and the administrator, in both languages."""
    return PdfPreconditionFailed(f"{en}{SEP}{vi}")


@dataclass(frozen=True, slots=True)
class SignatureEvidence:
    """What the trust check of one personal signature needs, without the PDF: the
    signature's CMS SignedData (re-wrapped with the certificates and revocation data the
    PDF carries in its DSS and in Adobe's revocation attribute; the SignerInfo is
    untouched) and the digest of its byte ranges."""

    field_name: str
    signer: str  # the certificate's CN (or subject), for messages
    cms: bytes  # DER ContentInfo(SignedData), detached
    digest: bytes
    hash_alg: str  # sha256 | sha384 | sha512


@dataclass(frozen=True, slots=True)
class TrustVerdict:
    """The verifier's answer (ETSI EN 319 102-1) for one signature's CMS and digest."""

    indication: str  # PASSED | FAILED | INDETERMINATE
    sub_indication: str = ""
    reasons: tuple[str, ...] = ()  # the verifier's own words (English)
    agency_code: str = ""  # set: the certificate is an organization key kyso holds
    # the same reasons as signer.catalogue messages, said in Vietnamese in the refusal
    messages: tuple[Message, ...] = ()


TrustCheck = Callable[[SignatureEvidence], TrustVerdict]


@dataclass(frozen=True, slots=True)
class _Examined:
    field_name: str
    signer: str
    permitted: int  # the highest ModificationLevel value allowed after it


@dataclass
class PersonalCheck:
    """The outcome of a successful check: the signatures examined (``check_seal_keeps``
    re-examines them over the prepared seal revision) and notes for the caller."""

    examined: list[_Examined] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check_seal_keeps(self, prepared: bytes) -> None:
        """Refuse if the prepared seal revision (the whole file, signature placeholder
        still empty) is a change some earlier signature does not allow."""
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.fields import enumerate_sig_fields
        from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

        reader = PdfFileReader(io.BytesIO(prepared), strict=False)
        wanted = {e.field_name: e for e in self.examined}
        for name, _value, ref in enumerate_sig_fields(reader, filled_status=True):
            seen = wanted.get(name)
            if seen is None:
                continue  # the seal's own placeholder
            try:
                emb = EmbeddedPdfSignature(reader, ref, name)
                emb.compute_integrity_info()  # type: ignore[no-untyped-call]
                level, detail = _modification(emb)
            except Exception as exc:  # pyHanko raises many types on odd structures
                level, detail = 4, f"the difference analysis failed: {exc}"
            if level > seen.permitted:
                who_en, who_vi = _who(seen.field_name, seen.signer)
                raise refusal(
                    f"sealing would break {who_en}: it locks the document (its field lock "
                    "or DocMDP permission), and the seal's new signature field is a change "
                    f"it does not allow ({detail}). Nothing was signed. The leader must "
                    "sign again without locking the document (no 'lock document after "
                    "signing', no certification)",
                    f"đóng dấu sẽ làm mất hiệu lực {who_vi}: chữ ký này khóa văn bản (khóa "
                    "trường hoặc quyền DocMDP), không cho phép thêm chữ ký số của cơ quan. "
                    "Chưa ký gì. Đề nghị lãnh đạo ký lại, không chọn khóa văn bản sau khi ký "
                    "và không ký chứng nhận (certify)",
                )


def _who(field_name: str, signer: str) -> tuple[str, str]:
    return (f"the signature in field {field_name!r} ({signer})",
            f"chữ ký tại trường {field_name!r} ({signer})")


def _cn(cert: Any) -> str:
    try:
        cn = cert.subject.native.get("common_name")
        if isinstance(cn, list):
            cn = ", ".join(str(x) for x in cn)
        return str(cn) if cn else str(cert.subject.human_friendly)
    except Exception:  # a subject asn1crypto cannot render
        return "unknown signer"


def _modification(emb: Any) -> tuple[int, str]:
    """The ModificationLevel value of the changes after ``emb`` (4 = OTHER, including
    pyHanko's SuspiciousModification), and pyHanko's words for it."""
    from pyhanko.sign.diff_analysis import SuspiciousModification

    diff = emb.diff_result
    if diff is None:
        return 0, "unchanged"
    if isinstance(diff, SuspiciousModification):
        text = " ".join(str(diff).split()).rstrip(".") or "modifications pyHanko cannot explain"
        return 4, text if len(text) <= 300 else text[:297] + "..."
    level = diff.modification_level
    return int(level.value), level.name.lower().replace("_", " ")


_ALLOWS = {
    1: ("no change at all", "không cho phép thay đổi nào"),
    2: ("form filling and signing", "điền biểu mẫu và ký"),
    3: ("form filling, signing and annotations", "điền biểu mẫu, ký và ghi chú"),
}


def check_personal_signatures(reader: Any, own_certificate: bytes,
                              trust: TrustCheck) -> PersonalCheck:
    """Apply rules 1-4 of this module to ``reader`` (the PDF before the seal); return
    what ``check_seal_keeps`` needs. ``own_certificate``: the agency's signing
    certificate (DER), whose signatures are not personal ones."""
    try:
        sigs = list(reader.embedded_signatures)
    except Exception as exc:  # a signature dictionary pyHanko cannot read
        raise refusal(
            f"the signatures in this PDF cannot be read ({exc}): refusing to seal",
            "không đọc được chữ ký số trong tệp PDF: không đóng dấu") from None
    if not sigs:
        raise refusal(
            "the PDF has no personal signature: Decree 30/2020 puts the organization seal "
            "over the leader's signature, so the leader signs first (or a key-admin turns "
            "the check off: `kyso admin seal policy CODE --skip-personal-check`)",
            "văn bản chưa có chữ ký số cá nhân của người có thẩm quyền: theo Nghị định "
            "30/2020/NĐ-CP, lãnh đạo ký trước, văn thư đóng dấu (chữ ký số của cơ quan) sau")
    out = PersonalCheck()
    personal: list[tuple[Any, str]] = []
    for sig in sigs:
        name = str(getattr(sig, "field_name", "?"))
        try:
            examined, is_personal = _examine(sig, own_certificate)
        except PdfPreconditionFailed:
            raise
        except Exception as exc:  # pyHanko raises many types on malformed signatures
            who_en, who_vi = _who(name, "unknown signer")
            raise refusal(
                f"{who_en} cannot be examined ({exc}): refusing to seal a document whose "
                "signature is unreadable",
                f"không kiểm tra được {who_vi}: không đóng dấu lên văn bản có chữ ký không "
                "đọc được") from None
        out.examined.append(examined)
        if is_personal:
            personal.append((sig, examined.signer))
    if not personal:
        raise refusal(
            "the PDF carries only this agency's own signatures or timestamps, no personal "
            "signature: the leader signs first (or `kyso admin seal policy CODE "
            "--skip-personal-check`)",
            "văn bản chỉ có chữ ký số của chính cơ quan hoặc dấu thời gian, chưa có chữ ký "
            "số cá nhân của lãnh đạo: lãnh đạo ký trước, văn thư đóng dấu sau")
    trusted = 0
    dss = _dss(reader)
    for sig, signer in personal:
        verdict = _trusted(sig, signer, dss, trust)
        if verdict is None:
            out.notes.append(f"signature {sig.field_name!r} ({signer}) is an organization "
                             "signature, not a personal one")
            continue
        trusted += 1
    if not trusted:
        raise refusal(
            "the PDF carries only organization signatures (keys kyso holds), no personal "
            "signature: the leader signs first",
            "văn bản chỉ có chữ ký số của cơ quan, tổ chức, chưa có chữ ký số cá nhân của "
            "lãnh đạo: lãnh đạo ký trước, văn thư đóng dấu sau")
    return out


def _examine(sig: Any, own_certificate: bytes) -> tuple[_Examined, bool]:
    """Rules 1-3 for one signature; whether it is a personal one (rule 4's candidates)."""
    from pyhanko.sign.fields import MDPPerm

    name = str(sig.field_name)
    is_ts = str(sig.sig_object_type) == "/DocTimeStamp"
    signer = "document timestamp" if is_ts else _cn(sig.signer_cert)
    who_en, who_vi = _who(name, signer)
    _check_integrity(sig, is_ts, who_en, who_vi)
    docmdp = sig.docmdp_level
    if docmdp is MDPPerm.NO_CHANGES:
        how = ("certifies the document with DocMDP P=1" if _is_certification(sig)
               else "locks the document with a field lock /P 1")
        raise refusal(
            f"{who_en} {how} (no change allowed): the organization seal is a change and "
            "would invalidate it, so nothing was signed. The leader must sign again "
            "without locking the document (certify with P=2, or an approval signature)",
            f"{who_vi} khóa văn bản với quyền DocMDP P=1 (không cho phép thay đổi nào): "
            "đóng dấu của cơ quan là một thay đổi và sẽ làm chữ ký đó mất hiệu lực, nên "
            "chưa ký gì. Đề nghị lãnh đạo ký lại, không khóa văn bản",
        )
    permitted = int(docmdp.value) if docmdp is not None else int(MDPPerm.FILL_FORMS.value)
    level, detail = _modification(sig)
    if level > permitted:
        allows_en, allows_vi = _ALLOWS.get(permitted, _ALLOWS[2])
        raise refusal(
            f"the document was changed after {who_en} beyond what it allows ({allows_en}):"
            f" {detail}. Refusing to seal: the leader must sign the final version again",
            f"văn bản đã bị thay đổi sau khi ký tại {who_vi.removeprefix('chữ ký tại ')}, "
            f"vượt quá mức chữ ký cho phép ({allows_vi}): không đóng dấu; đề nghị lãnh đạo "
            "ký lại bản cuối cùng",
        )
    personal = not is_ts and sig.signer_cert.dump() != own_certificate
    return _Examined(name, signer, permitted), personal


def _is_certification(sig: Any) -> bool:
    try:
        return any(ref.get_object().get("/TransformMethod") == "/DocMDP"
                   for ref in sig.sig_object["/Reference"])
    except Exception:  # a malformed /Reference array: called a lock, which it also is
        return False


def _check_integrity(sig: Any, is_ts: bool, who_en: str, who_vi: str) -> None:
    """Rule 1, with pyHanko's validator (no trust roots, nothing fetched): intact, valid,
    a whole revision. Runs the difference analysis (``sig.diff_result``) too."""
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    vc = ValidationContext(trust_roots=[], allow_fetching=False, revocation_mode="soft-fail")
    try:
        if is_ts:
            status: Any = validate_pdf_timestamp(sig, vc, diff_policy=DEFAULT_DIFF_POLICY)
        else:
            status = validate_pdf_signature(sig, vc, diff_policy=DEFAULT_DIFF_POLICY)
    except Exception as exc:  # a signature pyHanko cannot even parse is not valid
        raise refusal(
            f"{who_en} cannot be validated ({exc}): refusing to seal a document whose "
            "signature is unreadable",
            f"không kiểm tra được {who_vi}: không đóng dấu lên văn bản có chữ ký không đọc "
            "được") from None
    if not status.intact:
        raise refusal(
            f"{who_en} was modified after signing: the signed bytes no longer match it. "
            "Refusing to seal a document whose signature is broken; ask for the original "
            "signed file",
            f"{who_vi} không còn nguyên vẹn: nội dung đã ký đã bị sửa. Không đóng dấu lên "
            "văn bản có chữ ký bị hỏng; đề nghị gửi lại tệp gốc đã ký")
    if not status.valid:
        raise refusal(
            f"{who_en} has an invalid cryptographic signature (its value does not verify "
            "with its certificate's key): refusing to seal",
            f"{who_vi} có giá trị chữ ký không hợp lệ (không khớp với khóa công khai của "
            "chứng thư số): không đóng dấu")
    if status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        raise refusal(
            f"{who_en} covers only part of a revision of the file (nonstandard byte "
            "ranges): refusing to seal",
            f"{who_vi} chỉ bao phủ một phần của tệp (ByteRange bất thường): không đóng dấu")


def _trusted(sig: Any, signer: str, dss: tuple[list[Any], list[Any], list[Any]],
             trust: TrustCheck) -> TrustVerdict | None:
    """Rule 4 for one personal signature: PASSED, or a refusal; None when the
    certificate turns out to be an organization key kyso holds (not a personal one)."""
    name = str(sig.field_name)
    who_en, who_vi = _who(name, signer)
    hash_alg = str(sig.md_algorithm)
    if hash_alg not in STRONG_HASHES:
        raise refusal(
            f"{who_en} uses the digest algorithm {hash_alg.upper()}, which Circular 15/2025 "
            "no longer accepts (SHA-256 or stronger): the leader must sign again",
            f"{who_vi} dùng thuật toán băm {hash_alg.upper()}, không còn được chấp nhận theo "
            "Thông tư 15/2025/TT-BKHCN (yêu cầu SHA-256 trở lên): đề nghị lãnh đạo ký lại")
    try:
        evidence = SignatureEvidence(name, signer, _cms(sig, dss),
                                     bytes(sig.compute_digest()), hash_alg)
    except Exception as exc:  # asn1crypto raises many types on malformed CMS
        raise refusal(
            f"{who_en} cannot be prepared for the trust check ({exc}): refusing to seal",
            f"không chuẩn bị được {who_vi} để kiểm tra độ tin cậy: không đóng dấu") from None
    verdict = trust(evidence)  # errors of the check itself (server away ...) propagate
    if verdict.agency_code:
        return None
    if verdict.indication == "PASSED":
        return verdict
    sub = verdict.sub_indication or verdict.indication
    why = "; ".join(verdict.reasons) or "the verifier gave no reason"
    why_vi = f"{sub_indication_vi(sub)} ({sub})"
    if verdict.messages:
        why_vi += ": " + "; ".join(render(m, "vi") for m in verdict.messages)
    cert = sig.signer_cert
    said = any(m.code == "trust.self_signed" for m in verdict.messages)
    if (cert.self_signed != "no" or cert.issuer == cert.subject) and not said:
        why += " (a self-signed certificate: no CA vouches for who signed)"
        why_vi = f"chứng thư số tự ký, không do tổ chức chứng thực nào cấp; {why_vi}"
    advice_en, advice_vi = _ADVICE.get(sub, _UNTRUSTED)
    raise refusal(
        f"{who_en} is not a trusted, valid personal signature: {verdict.indication}/{sub}: "
        f"{why.rstrip('.')}. {advice_en}",
        f"{who_vi} không phải chữ ký cá nhân hợp lệ, tin cậy: {why_vi}. {advice_vi}",
    )


# What the clerk and the administrator should do, by EN 319 102-1 sub-indication.
_UNTRUSTED = (
    "The clerk: do not seal; ask the leader to sign with a certificate from a CA this kyso "
    "server trusts (the Government CA). The administrator: the trust anchors are [verify] "
    "trust_anchor_files (and the development CA with [verify] trust_dev_ca)",
    "Văn thư: không đóng dấu; đề nghị lãnh đạo ký bằng chứng thư số do tổ chức được máy "
    "chủ kyso tin cậy cấp (Ban Cơ yếu Chính phủ). Quản trị viên: danh sách tổ chức tin cậy "
    "là [verify] trust_anchor_files (và CA phát triển khi bật [verify] trust_dev_ca)",
)
_ADVICE = {
    "TRY_LATER": (
        "The clerk: try again later; if it persists, tell the administrator. The "
        "administrator: see above ([verify] fetch, fetch_allowed_hosts), or have the leader "
        "embed revocation data (PAdES-B-LT)",
        "Văn thư: thử lại sau; nếu vẫn không được, báo quản trị viên. Quản trị viên: cấu "
        "hình [verify] fetch và fetch_allowed_hosts, hoặc đề nghị lãnh đạo ký kèm thông tin "
        "thu hồi (PAdES-B-LT)",
    ),
    "REVOKED": (
        "The clerk: do not seal; the leader's certificate is revoked: the leader must sign "
        "again with a new certificate",
        "Văn thư: không đóng dấu; chứng thư số của lãnh đạo đã bị thu hồi: lãnh đạo cần ký "
        "lại bằng chứng thư số mới",
    ),
    "OUT_OF_BOUNDS_NO_POE": (
        "The clerk: do not seal; the leader must sign again with a valid certificate",
        "Văn thư: không đóng dấu; đề nghị lãnh đạo ký lại bằng chứng thư số còn hiệu lực",
    ),
    "NOT_YET_VALID": (
        "The clerk: do not seal; the leader must sign again with a valid certificate (or "
        "the administrator checks this server's clock)",
        "Văn thư: không đóng dấu; đề nghị lãnh đạo ký lại bằng chứng thư số đang có hiệu lực "
        "(hoặc quản trị viên kiểm tra đồng hồ của máy chủ)",
    ),
    "CRYPTO_CONSTRAINTS_FAILURE": (
        "The clerk: do not seal; the leader must sign again with SHA-256 or stronger and "
        "RSA >= 2048 or ECDSA >= 256 bits (Circular 15/2025)",
        "Văn thư: không đóng dấu; đề nghị lãnh đạo ký lại với SHA-256 trở lên và khóa RSA "
        "từ 2048 bit hoặc ECDSA từ 256 bit (Thông tư 15/2025/TT-BKHCN)",
    ),
}


def _dss(reader: Any) -> tuple[list[Any], list[Any], list[Any]]:
    """Certificates, CRLs and OCSP responses of the document security store (PAdES-B-LT),
    if the PDF has a readable one."""
    from asn1crypto import crl, ocsp
    from pyhanko.pdf_utils.decode_limits import DecodePurpose
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    try:
        dss = DocumentSecurityStore.read_dss(reader)
        certs = list(dss.load_certs())
        crls = [crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL))
                for ref in dss.crls]
        ocsps = [ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
                 for ref in dss.ocsps]
    except Exception:  # no DSS, or a malformed one: the trust check says what is missing
        return [], [], []
    return certs, crls, ocsps


def _cms(sig: Any, dss: tuple[list[Any], list[Any], list[Any]]) -> bytes:
    """The signature's SignedData with the PDF's validation material added to its
    unsigned ``certificates`` and ``crls`` sets (RFC 5652 §10.2.1; OCSP per RFC 5940):
    the DSS's, and Adobe's revocation attribute's. The SignerInfo is kept byte for byte,
    so the signature still verifies over the same signed attributes."""
    import asn1crypto.pdf  # noqa: F401  (registers adobe_revocation_info_archival)
    from asn1crypto import cms

    sd = sig.signed_data
    certs: list[Any] = []
    seen: set[bytes] = set()

    def add_cert(choice: Any) -> None:
        der = choice.dump()
        if der not in seen:
            seen.add(der)
            certs.append(choice)

    if sd["certificates"].native is not None:
        for choice in sd["certificates"]:
            add_cert(choice)
    dss_certs, dss_crls, dss_ocsps = dss
    for c in dss_certs:
        add_cert(cms.CertificateChoices(name="certificate", value=c))
    revinfo: list[Any] = []
    if sd["crls"].native is not None:
        revinfo.extend(sd["crls"])
    crls, ocsps = list(dss_crls), list(dss_ocsps)
    try:
        for attr in sig.signer_info["signed_attrs"]:
            if attr["type"].native == "adobe_revocation_info_archival":
                for value in attr["values"]:
                    crls.extend(value["crl"] if value["crl"].native else [])
                    ocsps.extend(value["ocsp"] if value["ocsp"].native else [])
    except Exception:  # a malformed attribute carries nothing usable
        pass
    revinfo += [cms.RevocationInfoChoice(name="crl", value=c) for c in crls]
    revinfo += [cms.RevocationInfoChoice(name="other", value=cms.OtherRevocationInfoFormat({
        "other_rev_info_format": "ocsp_response", "other_rev_info": o})) for o in ocsps]
    fields: dict[str, Any] = {
        "version": sd["version"],
        "digest_algorithms": sd["digest_algorithms"],
        "encap_content_info": sd["encap_content_info"],
        "signer_infos": sd["signer_infos"],
    }
    if certs:
        fields["certificates"] = cms.CertificateSet(certs)
    if revinfo:
        fields["crls"] = cms.RevocationInfoChoices(revinfo)
    return bytes(cms.ContentInfo({"content_type": "signed_data",
                                  "content": cms.SignedData(fields)}).dump())
