"""The one message catalogue of verification reports and of ``kyso verify``: every
indication, sub-indication, modification level, coverage kind, revocation state, agency
status, fixed label, problem, warning, note and refusal, in Vietnamese and English.

Circular 15/2025/TT-BKHCN asks verification software to report in Vietnamese. So the
verifier records what it found as a :class:`Message` — a code from this catalogue and
named parameters (data: names, numbers, algorithm names), plus, apart, the underlying
library's own words as ``detail`` (technical, English, never translated) — and the
client renders it in the reader's language. Nothing a library says reaches the summary
of a Vietnamese report; it goes under "Chi tiết kỹ thuật" (technical details).

Keys are ``group.name``. Templates use ``str.format`` fields named after the
message's parameters; both languages of an entry take the same parameters. A parameter
named in ``REFS`` holds a catalogue key of the group it names (``what="signer"`` is
rendered as ``what.signer`` in the same language). ``tests/signer/test_catalogue.py`` renders
every entry in both languages and fails on a missing key, an unfilled placeholder or an
English word in Vietnamese.

Standard library only: the server (which records codes) and the thin client (which
renders them) both import it.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CATALOGUE",
    "LANGS",
    "REFS",
    "Entry",
    "Message",
    "fields",
    "legacy",
    "render",
    "sub_indication_vi",
    "text",
]

LANGS = ("vi", "en")


@dataclass(frozen=True, slots=True)
class Entry:
    vi: str
    en: str


@dataclass(frozen=True, slots=True)
class Message:
    """One problem, warning, note or refusal: a catalogue ``code`` and its parameters.
    ``detail`` is the underlying library's text (English, technical); ``causes`` are the
    messages that explain this one (e.g. why revocation data could not be fetched)."""

    code: str
    params: tuple[tuple[str, str], ...] = ()
    detail: str = ""
    causes: tuple[Message, ...] = ()

    @classmethod
    def of(cls, code: str, *, detail: str = "", causes: tuple[Message, ...] = (),
           **params: object) -> Message:
        return cls(code, tuple(sorted((k, str(v)) for k, v in params.items())),
                   " ".join(detail.split()), tuple(causes))

    @property
    def args(self) -> dict[str, str]:
        return dict(self.params)


# Parameters whose value is a key of another group, rendered in the same language.
REFS: Mapping[str, str] = {
    "what": "what",
    "level": "mod",
    "indication": "indication",
    "permitted": "permit",
}


def fields(template: str) -> set[str]:
    """The placeholder names of ``template``."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def text(code: str, lang: str, params: Mapping[str, str] | None = None) -> str:
    """The catalogue text of ``code`` in ``lang`` ("vi" or "en") with ``params`` filled in.
    An unknown code (a newer server than this client) comes back as the code itself."""
    entry = CATALOGUE.get(code)
    if entry is None:
        return code
    template = entry.vi if lang == "vi" else entry.en
    values = {}
    for name in fields(template):
        value = (params or {}).get(name, "{" + name + "}")  # visible, never silently empty
        group = REFS.get(name)
        if group is not None and f"{group}.{value}" in CATALOGUE:
            value = text(f"{group}.{value}", lang)
        values[name] = value
    return template.format(**values)


def render(msg: Message, lang: str, fallback: str = "") -> str:
    """``msg`` in ``lang``, its causes after a colon. ``fallback`` (the English text a
    server sent) stands in for a code this catalogue does not know."""
    if msg.code not in CATALOGUE and fallback:
        return fallback
    out = text(msg.code, lang, msg.args)
    if msg.causes:
        out += ": " + "; ".join(render(c, lang) for c in msg.causes)
    return out


def legacy(msg: Message) -> str:
    """The English sentence older clients get in the string fields (errors, warnings,
    notes): the English text, its causes, and the library's detail, after colons."""
    out = text(msg.code, "en", msg.args)
    if msg.causes:
        out += ": " + "; ".join(legacy(c) for c in msg.causes)
    return f"{out}: {msg.detail}" if msg.detail else out


_E = Entry
CATALOGUE: Mapping[str, Entry] = {
    # --- ETSI EN 319 102-1 main indications ---------------------------------------------------
    "indication.PASSED": _E("HỢP LỆ", "PASSED"),
    "indication.FAILED": _E("KHÔNG HỢP LỆ", "FAILED"),
    "indication.INDETERMINATE": _E("CHƯA XÁC ĐỊNH", "INDETERMINATE"),
    "indication.UNSPECIFIED": _E("KHÔNG RÕ", "UNSPECIFIED"),
    # --- EN 319 102-1 sub-indications (§5.1.3, all of them) -----------------------------------
    "sub.FORMAT_FAILURE": _E(
        "chữ ký hoặc văn bản không tuân thủ quy tắc của định dạng (kể cả thay đổi sau khi ký "
        "mà chữ ký không cho phép)",
        "the signature or the document breaks the rules of its format (including changes "
        "after signing that the signature does not allow)"),
    "sub.HASH_FAILURE": _E("nội dung đã ký đã bị thay đổi",
                           "the signed content was changed"),
    "sub.SIG_CRYPTO_FAILURE": _E(
        "giá trị chữ ký không khớp với khóa công khai của người ký",
        "the signature value does not verify with the signer's public key"),
    "sub.REVOKED": _E("chứng thư số đã bị thu hồi", "the certificate is revoked"),
    "sub.EXPIRED": _E("chứng thư số đã hết hạn trước thời điểm ký",
                      "the certificate expired before the signing time"),
    "sub.NOT_YET_VALID": _E("chứng thư số chưa có hiệu lực",
                            "the certificate is not yet valid"),
    "sub.SIG_CONSTRAINTS_FAILURE": _E(
        "chữ ký không đáp ứng ràng buộc của chính sách kiểm tra",
        "the signature does not meet the constraints of the validation policy"),
    "sub.CHAIN_CONSTRAINTS_FAILURE": _E(
        "chuỗi chứng thư không đáp ứng ràng buộc của chính sách kiểm tra",
        "the certificate chain does not meet the constraints of the validation policy"),
    "sub.CERTIFICATE_CHAIN_GENERAL_FAILURE": _E(
        "chuỗi chứng thư không kiểm tra được", "the certificate chain cannot be checked"),
    "sub.CRYPTO_CONSTRAINTS_FAILURE": _E(
        "thuật toán yếu, không đạt yêu cầu của Thông tư 15/2025/TT-BKHCN",
        "a weak algorithm, below what Circular 15/2025 requires"),
    "sub.CRYPTO_CONSTRAINTS_FAILURE_NO_POE": _E(
        "thuật toán yếu và không có bằng chứng chữ ký đã có trước khi thuật toán bị coi là yếu",
        "a weak algorithm, and no proof that the signature existed before it became weak"),
    "sub.POLICY_PROCESSING_ERROR": _E("không xử lý được chính sách chữ ký",
                                      "the signature policy cannot be processed"),
    "sub.SIGNATURE_POLICY_NOT_AVAILABLE": _E(
        "không có chính sách chữ ký mà chữ ký tham chiếu",
        "the signature policy it refers to is not available"),
    "sub.TIMESTAMP_ORDER_FAILURE": _E("thứ tự các dấu thời gian không nhất quán",
                                      "the timestamps are not in a consistent order"),
    "sub.NO_SIGNING_CERTIFICATE_FOUND": _E("không tìm thấy chứng thư số của người ký",
                                           "the signer's certificate was not found"),
    "sub.NO_CERTIFICATE_CHAIN_FOUND": _E(
        "không tìm thấy chuỗi chứng thư đến một tổ chức được tin cậy",
        "no certificate chain to a trusted anchor was found"),
    "sub.REVOKED_NO_POE": _E(
        "chứng thư số đã bị thu hồi và không có bằng chứng chữ ký đã có trước khi bị thu hồi",
        "the certificate was revoked and there is no proof that the signature existed "
        "before"),
    "sub.REVOKED_CA_NO_POE": _E(
        "một chứng thư của tổ chức cấp trong chuỗi đã bị thu hồi và không có bằng chứng chữ "
        "ký đã có trước khi bị thu hồi",
        "a CA certificate of the chain was revoked and there is no proof that the signature "
        "existed before"),
    "sub.OUT_OF_BOUNDS_NO_POE": _E(
        "chứng thư số đã hết hạn hoặc chưa có hiệu lực, và không có bằng chứng chữ ký được "
        "tạo trong thời hạn hiệu lực",
        "the certificate is expired or not yet valid, and there is no proof that the "
        "signature was made within its validity"),
    "sub.OUT_OF_BOUNDS_NOT_REVOKED": _E(
        "chứng thư số đã hết hạn nhưng không bị thu hồi",
        "the certificate is expired but was not revoked"),
    "sub.REVOCATION_OUT_OF_BOUNDS_NO_POE": _E(
        "thông tin thu hồi nằm ngoài thời hạn hiệu lực và không có bằng chứng thời gian",
        "the revocation data is out of its validity and there is no proof of time"),
    "sub.NO_POE": _E("không có bằng chứng về thời điểm chữ ký đã tồn tại",
                     "no proof of when the signature existed"),
    "sub.TRY_LATER": _E("chưa lấy được thông tin thu hồi (CRL/OCSP), hãy thử lại sau",
                        "revocation data (CRL/OCSP) is not available now: try later"),
    "sub.SIGNED_DATA_NOT_FOUND": _E("thiếu dữ liệu đã ký", "the signed data was not found"),
    # --- PDF: what changed after a signature (pyHanko's ModificationLevel) --------------------
    "mod.none": _E("không có", "none"),
    "mod.lta-updates": _E(
        "chỉ bổ sung thông tin kiểm tra dài hạn (dấu thời gian, thông tin thu hồi)",
        "long-term validation data only (timestamps, revocation data)"),
    "mod.form-filling": _E("điền biểu mẫu và ký thêm", "form filling and further signatures"),
    "mod.annotations": _E("thêm hoặc sửa ghi chú", "annotations added or changed"),
    "mod.other": _E("thay đổi khác (nội dung, trang)", "other changes (content, pages)"),
    "mod.suspicious": _E(
        "thay đổi bất thường (nội dung, trang hoặc cấu trúc tệp)",
        "suspicious changes (content, pages or file structure)"),
    # --- PDF: what a signature allows afterwards (DocMDP /P, field lock /P) -------------------
    "permit.1": _E("không cho phép thay đổi nào", "no change at all"),
    "permit.2": _E("chỉ điền biểu mẫu và ký", "form filling and signing only"),
    "permit.3": _E("chỉ điền biểu mẫu, ký và ghi chú",
                   "form filling, signing and annotations only"),
    # --- what a signature covers --------------------------------------------------------------
    "coverage.detached-content": _E("toàn bộ tệp nội dung (chữ ký rời)",
                                    "the whole content file (detached signature)"),
    "coverage.enveloped-content": _E("nội dung đóng gói trong chữ ký",
                                     "the content enclosed in the signature"),
    "coverage.whole-file": _E("toàn bộ tệp", "the whole file"),
    "coverage.revision": _E(
        "một phiên bản của tệp; tệp đã được cập nhật sau khi ký",
        "one revision of the file; the file was updated after signing"),
    "coverage.partial": _E("chỉ một phần đầu của tệp",
                           "only a block from the start of the file"),
    "coverage.unclear": _E("không xác định được", "unclear"),
    "coverage.imprint": _E("giá trị băm của dữ liệu được đóng dấu thời gian",
                           "the hash of the stamped data"),
    "coverage.whole-package": _E("toàn bộ gói tin (trừ chính chữ ký)",
                                 "the whole package (except the signature itself)"),
    "coverage.whole-document": _E("toàn bộ tài liệu XML (trừ chính chữ ký)",
                                  "the whole XML document (except the signature itself)"),
    "coverage.references": _E("các phần của tài liệu mà chữ ký tham chiếu",
                              "the parts of the document the signature references"),
    # --- the integrity line -------------------------------------------------------------------
    "integrity.intact": _E("nội dung không bị thay đổi", "the content is unchanged"),
    "integrity.allowed-changes": _E(
        "các byte đã ký còn nguyên vẹn; các thay đổi sau khi ký nằm trong phạm vi chữ ký cho "
        "phép",
        "the signed bytes are intact; the changes after signing are ones the signature "
        "allows"),
    "integrity.disallowed-changes": _E(
        "các byte đã ký còn nguyên vẹn; văn bản đã bị thay đổi sau khi ký theo cách chữ ký "
        "không cho phép",
        "the signed bytes are intact; the document was changed after signing in a way its "
        "signature does not allow"),
    "integrity.changed": _E("nội dung đã bị thay đổi sau khi ký",
                            "the content was changed after signing"),
    "integrity.not-checked": _E("chưa kiểm tra (thiếu dữ liệu đã ký)",
                                "not checked (the signed data was not given)"),
    "integrity.signature-invalid": _E("giá trị chữ ký không khớp",
                                      "the signature value does not verify"),
    "integrity.unchecked": _E("không kiểm tra được", "could not be checked"),
    # --- revocation ---------------------------------------------------------------------------
    "revocation.good": _E("chưa bị thu hồi", "not revoked"),
    "revocation.not-required": _E(
        "không yêu cầu (tổ chức cấp không công bố CRL/OCSP)",
        "not required (the issuer publishes no CRL/OCSP)"),
    "revocation.unavailable": _E("không lấy được thông tin thu hồi", "unavailable"),
    "revocation.revoked": _E("đã bị thu hồi", "revoked"),
    "revocation.compromised": _E("khóa ký đã bị đánh dấu lộ (sổ đăng ký của máy chủ này)",
                                 "the signing key is marked compromised (this server's "
                                 "registry)"),
    "revocation.no-source": _E("chứng thư không ghi địa chỉ CRL/OCSP",
                               "no CRL/OCSP service named"),
    "revocation.not-checked": _E("chưa kiểm tra", "not checked"),
    "revinfo.checked": _E("đã kiểm tra qua CRL/OCSP: chưa bị thu hồi",
                          "checked by CRL/OCSP: not revoked"),
    "revinfo.free-anchor": _E(
        "cấp dưới “{anchor}”, tổ chức không công bố CRL/OCSP",
        "issued under {anchor}, which publishes no CRL/OCSP (revocation-free anchor)"),
    "revinfo.soft-policy": _E(
        "chính sách kiểm tra chấp nhận chứng thư không có nguồn thông tin thu hồi",
        "the policy accepts certificates without a revocation source"),
    "revinfo.no-source": _E("một chứng thư trong chuỗi không ghi dịch vụ CRL hay OCSP nào",
                            "a certificate in the path names no CRL or OCSP service"),
    # --- agencies -----------------------------------------------------------------------------
    "agency_status.active": _E("đang sử dụng", "active"),
    "agency_status.closed": _E("đã đóng mã, không còn sử dụng", "closed"),
    "agency_match.certificate": _E("theo chứng thư số", "by its certificate"),
    "agency_match.public-key": _E("theo khóa công khai", "by its public key"),
    # --- subjects messages refer to -----------------------------------------------------------
    "what.signer": _E("chứng thư số của người ký", "the signer certificate"),
    "what.tsa": _E("chứng thư số của đơn vị cấp dấu thời gian", "the TSA certificate"),
    # --- fixed labels of the report -----------------------------------------------------------
    "label.result": _E("Kết quả kiểm tra ({kind})", "Verification result ({kind})"),
    "label.verified_at": _E("Thời điểm kiểm tra", "Verified at"),
    "label.note": _E("Ghi chú", "Note"),
    "label.no_signature": _E("Không có chữ ký số.", "No signature found."),
    "label.signature": _E("Chữ ký số {index}", "Signature {index}"),
    "label.format": _E("Định dạng", "Format"),
    # the format of a /DocTimeStamp (the wire's "PDF document timestamp")
    "label.document_timestamp": _E("dấu thời gian của tài liệu PDF", "PDF document timestamp"),
    "label.field": _E("Trường chữ ký", "Signature field"),
    "label.signer": _E("Người ký", "Signer"),
    "label.agency_code": _E("mã định danh {code}", "agency code {code}"),
    "label.issuer": _E("Tổ chức cấp chứng thư", "Issuer"),
    "label.self_signed": _E("chứng thư tự ký (không xác định được tổ chức cấp)",
                            "self-signed certificate (no issuing authority)"),
    "label.validity": _E("Hiệu lực chứng thư", "Certificate validity"),
    "label.agency": _E("Cơ quan", "Agency"),
    "label.agency_unknown": _E("không có trong danh mục của kyso", "not in kyso's registry"),
    "label.agency_status": _E("Tình trạng mã định danh", "Agency code status"),
    "label.name_today": _E("Tên hiện nay", "Name today"),
    "label.successors": _E("Cơ quan kế thừa", "Successor today"),
    "label.signing_time": _E("Thời điểm ký", "Signing time"),
    "label.claimed": _E("do người ký khai báo", "claimed by the signer"),
    "label.no_signing_time": _E(
        "Chữ ký không ghi thời điểm ký; chỉ dấu thời gian (nếu có) cho biết chữ ký đã có từ "
        "khi nào",
        "The signature carries no signing time; only a timestamp (if any) shows since when "
        "it exists"),
    "label.timestamp": _E("Dấu thời gian", "Timestamp"),
    "label.integrity": _E("Toàn vẹn", "Integrity"),
    "label.coverage": _E("Phạm vi ký", "Covers"),
    "label.revision_of": _E("phiên bản {signed} trên tổng số {total}",
                            "revision {signed} of {total}"),
    "label.changes": _E("Thay đổi sau khi ký", "Changes after signing"),
    "label.algorithms": _E("Thuật toán", "Algorithms"),
    "label.weak": _E("THUẬT TOÁN YẾU", "WEAK"),
    "label.chain": _E("Chuỗi chứng thư", "Certificate chain"),
    "label.trusted": _E("tin cậy", "trusted"),
    "label.not_trusted": _E("không tin cậy hoặc chưa xác định", "not trusted"),
    "label.revocation": _E("Tình trạng thu hồi", "Revocation"),
    "label.problem": _E("Lỗi", "Problem"),
    "label.warning": _E("Cảnh báo", "Warning"),
    "label.details": _E("Chi tiết kỹ thuật", "Technical details"),
    "label.subject_dn": _E("Người ký (DN)", "Signer (DN)"),
    "label.issuer_dn": _E("Tổ chức cấp chứng thư (DN)", "Issuer (DN)"),
    "label.serial": _E("Số hiệu chứng thư", "Certificate serial"),
    "label.chain_dn": _E("Chuỗi chứng thư (DN)", "Certificate chain (DN)"),
    "label.anchor_dn": _E("Tổ chức tin cậy (DN)", "Trust anchor (DN)"),
    "label.anchors_dn": _E("Các tổ chức tin cậy của máy chủ (DN)",
                           "The server's trust anchors (DN)"),
    "label.tsa_dn": _E("Đơn vị cấp dấu thời gian (DN)", "Timestamp authority (DN)"),
    "label.coverage_detail": _E("Phạm vi ký, chi tiết", "Coverage detail"),
    "label.references": _E("Tham chiếu của chữ ký", "Signature references"),
    "label.imprint": _E("Giá trị băm được đóng dấu", "Stamped hash"),
    "label.token_serial": _E("Số hiệu dấu thời gian", "Token serial"),
    "label.token_policy": _E("Chính sách cấp dấu thời gian (OID)", "Timestamp policy (OID)"),
    "label.library": _E("thông báo của thư viện", "library message"),
    "label.revocation_detail": _E("Tình trạng thu hồi, chi tiết", "Revocation detail"),
    "label.agency_matched": _E("Cách xác định cơ quan", "Agency matched"),
    "label.error": _E("Lỗi ({status})", "error ({status})"),
    "label.caution": _E("Lưu ý", "note"),
    # --- algorithms ---------------------------------------------------------------------------
    "algo.weak": _E(
        "thuật toán yếu: {algorithms} (Thông tư 15/2025/TT-BKHCN yêu cầu SHA-256 trở lên, "
        "RSA từ 2048 bit hoặc ECDSA từ 256 bit)",
        "weak algorithm: {algorithms} (Circular 15/2025 requires SHA-256 or stronger, RSA >= "
        "2048 or ECDSA >= 256)"),
    # --- any signature ------------------------------------------------------------------------
    "sig.value_invalid": _E(
        "giá trị chữ ký không khớp với khóa công khai trong chứng thư của người ký: chữ ký đã "
        "bị sửa hoặc giả mạo",
        "the signature value does not verify with the signer certificate's key: the "
        "signature was altered or forged"),
    "sig.malformed": _E("chữ ký bị lỗi cấu trúc", "the signature is malformed"),
    "sig.cannot_check": _E(
        "không kiểm tra được chữ ký (thuật toán không được hỗ trợ hoặc dữ liệu bị lỗi)",
        "the signature cannot be checked (an unsupported algorithm or damaged data)"),
    "sig.signing_time_unreadable": _E("không đọc được thuộc tính thời điểm ký",
                                      "the signing-time attribute cannot be read"),
    "sig.unsupported_digest": _E("thuật toán băm {algorithm} không được hỗ trợ",
                                 "unsupported digest algorithm {algorithm}"),
    "sig.timestamp_not_passed": _E("dấu thời gian của chữ ký: {indication}",
                                   "the signature timestamp is {indication}"),
    # --- CMS / CAdES --------------------------------------------------------------------------
    "cms.content_ignored": _E("chữ ký đã chứa nội dung; nội dung gửi kèm không được dùng",
                              "the signature encloses its content; the content given was "
                              "ignored"),
    "cms.no_signer_info": _E("đối tượng CMS không có thông tin người ký (SignerInfo)",
                             "the CMS object has no SignerInfo"),
    "cms.no_signer_cert": _E("chữ ký không kèm chứng thư số của người ký",
                             "the signer's certificate is not in the signature"),
    "cms.digest_alg_mismatch": _E(
        "chữ ký dùng {signature_alg}; không so sánh được với giá trị băm {digest_alg} của "
        "nội dung (hãy băm nội dung bằng thuật toán của chữ ký)",
        "the signature uses {signature_alg}; a {digest_alg} digest of the content cannot be "
        "compared with it (hash the content with the signature's algorithm)"),
    "cms.content_missing": _E(
        "chữ ký rời: chưa có nội dung đã ký để đối chiếu (chọn tệp nội dung bằng "
        "`--content`, hoặc chọn chữ ký bằng `--sig`)",
        "detached signature: the signed content was not given"),
    "cms.content_changed": _E(
        "nội dung không khớp với chữ ký: đã bị thay đổi sau khi ký (hoặc là một tệp khác)",
        "the content does not match the signature: it was changed after signing (or it is "
        "another file)"),
    "cms.not_signed_data": _E(
        "tệp là đối tượng CMS loại {content_type}, không phải chữ ký số (SignedData)",
        "the CMS object is {content_type}, not SignedData: not a signature"),
    "cms.not_der": _E(
        "tệp không phải là chữ ký số CMS (định dạng DER, ContentInfo/SignedData)",
        "not a DER CMS signature (ContentInfo/SignedData)"),
    # --- PDF / PAdES --------------------------------------------------------------------------
    "pdf.no_signatures": _E("tệp PDF không có chữ ký số", "the PDF has no signatures"),
    "pdf.encrypted": _E("tệp PDF đã được mã hóa: hãy giải mã trước khi kiểm tra",
                        "the PDF is encrypted: decrypt it before verifying"),
    "pdf.malformed": _E("không đọc được tệp PDF (tệp bị hỏng hoặc sai cấu trúc)",
                        "the PDF cannot be read (malformed)"),
    "pdf.byte_range": _E("không kiểm tra được vùng byte đã ký (ByteRange)",
                         "the signature's byte range cannot be checked"),
    "pdf.changed_disallowed": _E(
        "các byte đã ký còn nguyên vẹn, nhưng văn bản đã bị thay đổi sau khi ký theo cách "
        "chữ ký không cho phép: {level}",
        "the signed bytes are intact, but the document was changed after signing in a way "
        "its signature does not allow: {level}"),
    "pdf.changed_beyond_permission": _E(
        "các byte đã ký còn nguyên vẹn, nhưng văn bản đã bị thay đổi sau khi ký vượt quá mức "
        "chữ ký cho phép ({permitted}): {level}",
        "the signed bytes are intact, but the document was changed after signing beyond what "
        "its signature allows ({permitted}): {level}"),
    "pdf.changes_after_signing": _E("văn bản có thay đổi sau khi ký: {level}",
                                    "changes after signing: {level}"),
    "pdf.partial": _E("chữ ký chỉ bao phủ một phần đầu của tệp",
                      "the signature covers only a block from the start of the file"),
    "pdf.unclear": _E("không xác định được chữ ký bao phủ phần nào của tệp",
                      "what the signature covers is unclear"),
    "pdf.signed_bytes_changed": _E("các byte đã ký đã bị thay đổi sau khi ký",
                                   "the signed bytes were changed after signing"),
    # --- XML-DSig / edXML ---------------------------------------------------------------------
    "xml.malformed": _E("tài liệu XML bị lỗi cú pháp", "the XML document is malformed"),
    "xml.no_signature": _E("tài liệu XML không có chữ ký (`ds:Signature`)",
                           "the XML document has no ds:Signature"),
    "xml.no_certificate": _E(
        "chữ ký không kèm chứng thư số (`X509Certificate` trong `KeyInfo`)",
        "the signature's KeyInfo carries no X509Certificate"),
    "xml.changed": _E("nội dung XML đã ký đã bị thay đổi sau khi ký",
                      "the signed XML was changed after signing"),
    # --- RFC 3161 time-stamp tokens -----------------------------------------------------------
    "tsr.valid": _E("dấu thời gian hợp lệ", "the timestamp is valid"),
    "tsr.weak": _E("dấu thời gian dùng thuật toán yếu",
                   "the time-stamp token uses a weak algorithm"),
    "tsr.altered": _E("dấu thời gian không hợp lệ: đã bị sửa",
                      "the time-stamp token is invalid: it was altered"),
    "tsr.signature_invalid": _E("chữ ký của dấu thời gian không khớp với khóa của đơn vị cấp",
                                "the time-stamp token's signature does not verify"),
    "tsr.no_certificate": _E(
        "dấu thời gian không kèm chứng thư số của đơn vị cấp",
        "the TSA certificate is neither in the token nor given"),
    "tsr.malformed": _E("dấu thời gian bị lỗi cấu trúc", "the time-stamp token is invalid"),
    "tsr.alg_mismatch": _E(
        "dấu thời gian đóng cho giá trị băm {token_alg}; không so sánh được với giá trị băm "
        "{digest_alg}",
        "the token stamps a {token_alg} imprint; a {digest_alg} digest cannot be compared "
        "with it"),
    "tsr.imprint_mismatch": _E(
        "dấu thời gian không đóng cho dữ liệu này: giá trị băm khác (tệp khác, hoặc tệp đã bị "
        "thay đổi)",
        "the token does not stamp this data: the message imprint differs (wrong file, or the "
        "file was changed)"),
    "tsr.data_not_given": _E(
        "chưa có dữ liệu được đóng dấu thời gian: dấu thời gian còn nguyên vẹn nhưng chưa đối "
        "chiếu được với dữ liệu (chọn tệp bằng `--content` hoặc `--sig`)",
        "the stamped data was not given: the token is intact, but what it stamps is "
        "unchecked (give the file with --sig)"),
    "tsr.reply_without_token": _E("phản hồi dấu thời gian không chứa dấu thời gian số",
                                  "the time-stamp reply carries no token"),
    "tsr.not_der": _E("tệp không phải là dấu thời gian RFC 3161 (định dạng DER)",
                      "not a DER RFC 3161 time-stamp token"),
    # --- trust path and revocation ------------------------------------------------------------
    "trust.no_anchor": _E("máy chủ chưa cấu hình tổ chức tin cậy nào",
                          "no trust anchor is configured on this server"),
    "trust.self_signed": _E(
        "{what} là chứng thư tự ký: không xác định được tổ chức cấp, không tổ chức chứng "
        "thực nào bảo đảm danh tính người ký",
        "{what} is self-signed: no certification authority vouches for who signed"),
    "trust.root_not_anchor": _E(
        "{what} không dẫn tới tổ chức tin cậy: chứng thư gốc “{root}” không có trong danh "
        "sách tin cậy (chỉ thêm vào `[verify] trust_anchor_files` nếu đó là chứng thư gốc bạn "
        "tin cậy)",
        "{what} does not chain to a trusted anchor: its root '{root}' is not a configured "
        "anchor: add it to [verify] trust_anchor_files only if it is a root you trust"),
    "trust.issuer_missing": _E(
        "{what} không dẫn tới tổ chức tin cậy: không có chứng thư của tổ chức cấp “{issuer}” "
        "trong tài liệu hay trong danh sách tin cậy. Nếu đó là chứng thư gốc bạn tin cậy, "
        "thêm vào `[verify] trust_anchor_files`; nếu là tổ chức cấp trung gian, chữ ký phải "
        "kèm chứng thư của tổ chức đó (máy chủ không tải chứng thư tổ chức cấp từ địa chỉ AIA)",
        "{what} does not chain to a trusted anchor: no certificate of its issuer '{issuer}' "
        "is in the document or among the configured anchors. If that is a root you trust, "
        "add it to [verify] trust_anchor_files; if it is an intermediate CA, the signature "
        "must include its certificate (issuer certificates are never downloaded from AIA "
        "caIssuers URLs)"),
    "trust.expired": _E("{what} đã hết hạn", "{what} has expired"),
    "trust.not_yet_valid": _E("{what} chưa có hiệu lực", "{what} is not yet valid"),
    "trust.weak_path": _E("chuỗi chứng thư dùng thuật toán yếu",
                          "the certificate path uses a weak algorithm"),
    "trust.cert_not_usable": _E(
        "{what} không dùng được cho chữ ký này (mục đích sử dụng khóa hoặc ràng buộc của "
        "chứng thư)",
        "{what} is not usable (key usage or certificate constraints)"),
    "trust.path_invalid": _E("chuỗi chứng thư của {what} không hợp lệ",
                             "the certificate path of {what} is invalid"),
    "trust.revoked": _E("{what} đã bị thu hồi", "{what} is revoked"),
    # --- the registry's own key states (``kyso admin key compromise``) ----------------------
    "compromise.marked": _E("khóa ký {key} bị đánh dấu lộ lúc {at}",
                            "the signing key {key} was marked compromised at {at}"),
    "compromise.proven_before": _E(
        "khóa ký {key} đã bị đánh dấu lộ lúc {at}; dấu thời gian chứng minh chữ ký đã có từ "
        "{proven}, trước thời điểm đó",
        "the signing key {key} was marked compromised at {at}; the timestamp proves the "
        "signature existed at {proven}, before that"),
    "compromise.after_proof": _E(
        "chữ ký được tạo sau khi khóa ký {key} bị đánh dấu lộ lúc {at}: dấu thời gian ghi "
        "{proven}",
        "the signature was made after the signing key {key} was marked compromised at {at}: "
        "its timestamp says {proven}"),
    "compromise.after_claim": _E(
        "chữ ký được tạo sau khi khóa ký {key} bị đánh dấu lộ lúc {at}: chính chữ ký ghi "
        "thời điểm ký {claimed}",
        "the signature was made after the signing key {key} was marked compromised at {at}: "
        "it claims to have been made at {claimed}"),
    "compromise.no_proof": _E(
        "khóa ký {key} đã bị đánh dấu lộ lúc {at}, và không có dấu thời gian chứng minh chữ "
        "ký đã có trước thời điểm đó (thời điểm ký do người ký tự ghi không phải là bằng "
        "chứng: ai giữ khóa cũng ghi được)",
        "the signing key {key} was marked compromised at {at}, and no timestamp proves the "
        "signature existed before then (a signing time the signer writes is no proof: "
        "whoever holds the key can write it)"),
    "trust.revocation_fetch_off": _E(
        "chưa biết tình trạng thu hồi của {what}: chuỗi chứng thư có ghi dịch vụ CRL/OCSP, "
        "tài liệu không kèm thông tin thu hồi dùng được, và máy chủ này không tải thông tin "
        "thu hồi (`[verify] fetch = \"off\"`). Để kiểm tra trực tuyến, đặt `[verify] fetch = "
        "\"revocation\"` (`KYSO_VERIFY_FETCH`) và liệt kê máy chủ CRL/OCSP của tổ chức cấp "
        "trong `[verify] fetch_allowed_hosts`; hoặc kiểm tra tài liệu có kèm thông tin thu "
        "hồi (ví dụ PAdES-B-LT)",
        "the revocation status of {what} is unknown: its certificate path names a CRL/OCSP "
        "service, the document embeds no usable answer from it, and this server does not "
        "download revocation data ([verify] fetch = \"off\"). To check it online, set "
        "[verify] fetch = \"revocation\" (KYSO_VERIFY_FETCH) and list the CA's CRL/OCSP "
        "hosts in [verify] fetch_allowed_hosts; or verify the document with its revocation "
        "data embedded (e.g. PAdES-B-LT)"),
    "trust.revocation_unobtained": _E("không lấy được tình trạng thu hồi của {what}",
                                      "the revocation status of {what} could not be obtained"),
    "trust.revocation_service_failed": _E(
        "không lấy được tình trạng thu hồi của {what} từ dịch vụ CRL/OCSP",
        "the revocation status of {what} could not be obtained from its CRL/OCSP service"),
    "trust.no_revocation_source": _E(
        "không kiểm tra được tình trạng thu hồi: “{names}” không ghi dịch vụ CRL hay OCSP nào",
        "the revocation status cannot be checked: '{names}' names no CRL or OCSP service"),
    # --- why revocation data was not downloaded -----------------------------------------------
    "fetch.off": _E("máy chủ không tải dữ liệu qua mạng (`[verify] fetch = \"off\"`)",
                    "network fetching is off ([verify] fetch = \"off\")"),
    "fetch.host_not_allowed": _E(
        "máy chủ CRL/OCSP không có trong `[verify] fetch_allowed_hosts` (chỉ thêm nếu đó là "
        "dịch vụ CRL/OCSP của tổ chức cấp mà bạn tin cậy)",
        "the host is not in [verify] fetch_allowed_hosts (add it there only if it is a "
        "CRL/OCSP service of a CA you trust)"),
    "fetch.cap": _E(
        "đã đạt giới hạn {max} lần tải cho mỗi lần kiểm tra (`[verify] fetch_max_requests`)",
        "the limit of {max} downloads per verification was reached ([verify] "
        "fetch_max_requests)"),
    "fetch.budget": _E(
        "đã hết {seconds} giây dành cho việc tải dữ liệu trong mỗi lần kiểm tra (`[verify] "
        "fetch_budget_s`)",
        "the time budget of {seconds} s for downloads per verification ran out ([verify] "
        "fetch_budget_s)"),
    "fetch.timeout": _E(
        "một dịch vụ CRL/OCSP không trả lời trong {seconds} giây (`[verify] fetch_timeout_s`)",
        "a CRL/OCSP service did not answer within {seconds} s ([verify] fetch_timeout_s)"),
    "fetch.failed": _E("tải dữ liệu thất bại", "the download failed"),
    "fetch.issuer_not_downloaded": _E(
        "tài liệu không kèm chứng thư của tổ chức cấp cần cho việc kiểm tra thu hồi (máy chủ "
        "không tải chứng thư tổ chức cấp)",
        "an issuer certificate needed for the revocation check is not in the document "
        "(issuer certificates are never downloaded)"),
    "fetch.crl_issuer_not_downloaded": _E(
        "tài liệu không kèm chứng thư của tổ chức phát hành CRL (máy chủ không tải chứng thư "
        "tổ chức cấp)",
        "the issuer certificate of a CRL is not in the document (issuer certificates are "
        "never downloaded)"),
    # --- refusals of the Verify call ----------------------------------------------------------
    "verify.empty": _E("không có gì để kiểm tra: tệp rỗng",
                       "nothing to verify: the document is empty"),
    "verify.content_and_digest": _E(
        "chỉ gửi nội dung rời hoặc giá trị băm của nó, không gửi cả hai",
        "give the detached content or its digest, not both"),
    "verify.unknown_kind": _E("loại tài liệu không xác định ({kind})",
                              "unknown document kind {kind}"),
    "verify.digest_needs_hash": _E(
        "giá trị băm của nội dung cần kèm thuật toán băm (SHA-256/384/512)",
        "content_digest needs content_hash (SHA-256/384/512)"),
    "seal.not_one_signer": _E("chữ ký có {count} người ký, không phải một",
                              "the signature holds {count} signers, not one"),
    # --- refusals of `kyso verify` ------------------------------------------------------------
    "cli.unreachable": _E(
        "không kết nối được máy chủ kyso tại {endpoint}: máy chủ có đang chạy không?",
        "cannot reach kyso at {endpoint}: is the server running?"),
    "cli.unavailable": _E(
        "máy chủ kyso tạm thời không phục vụ được (thiết bị HSM, cơ sở dữ liệu hoặc dịch vụ "
        "dấu thời gian chưa sẵn sàng); hãy thử lại sau",
        "the kyso server is temporarily unavailable; try again later"),
    "cli.unauthenticated": _E(
        "máy chủ không chấp nhận thông tin xác thực: kiểm tra mã truy cập (`--token`, "
        "`KYSO_TOKEN`) hoặc chứng thư số của máy khách",
        "the server does not accept the credentials: check the token (--token, KYSO_TOKEN) "
        "or the client certificate"),
    "cli.permission_denied": _E("tài khoản này không có quyền thực hiện thao tác",
                                "this client is not allowed to do this"),
    "cli.too_large": _E(
        "tệp lớn hơn giới hạn của máy chủ (`[server] max_message_bytes`)",
        "the file is larger than the server accepts ([server] max_message_bytes)"),
    "cli.deadline": _E("máy chủ không trả lời kịp thời hạn (`--timeout`)",
                       "the server did not answer in time (--timeout)"),
    "cli.refused": _E("máy chủ từ chối tài liệu", "the server refused the document"),
    "cli.internal": _E("lỗi nội bộ của máy chủ; nhật ký máy chủ có thông tin chi tiết",
                       "internal server error; the server log has the details"),
    "cli.server_error": _E("máy chủ báo lỗi", "the server reported an error"),
    "cli.file_missing": _E("không tìm thấy tệp “{path}”", "file not found: {path}"),
    "cli.not_a_file": _E("“{path}” không phải là tệp", "{path} is not a file"),
    "cli.content_and_sig": _E("chỉ dùng một trong hai tùy chọn `--content` hoặc `--sig`",
                              "give --content or --sig, not both"),
    "cli.missing_file_argument": _E("thiếu tên tệp cần kiểm tra",
                                    "the file to verify is missing"),
    "cli.usage": _E("cách dùng không đúng; xem `kyso verify --help`",
                    "wrong usage; see kyso verify --help"),
    "cli.sending_content": _E(
        "thuật toán băm của chữ ký không gửi được dưới dạng giá trị băm; gửi cả nội dung",
        "the signature's hash algorithm cannot be sent as a digest; sending the content "
        "itself"),
    "cli.plaintext_token": _E(
        "không gửi mã truy cập dưới dạng văn bản thường tới {endpoint}: bất kỳ ai trên đường "
        "truyền đều đọc được. Hãy dùng TLS (`--tls-ca CA.pem`), hoặc chỉ trên mạng tin cậy, "
        "thêm `--insecure`",
        "refusing to send the bearer token in clear text to {endpoint}: anyone on the "
        "network path could read it. Use TLS (--tls-ca CA.pem), or, only on a network you "
        "trust, add --insecure"),
    "cli.bad_endpoint": _E("địa chỉ máy chủ không hợp lệ hoặc không phân giải được",
                           "the server address is malformed or cannot be resolved"),
}


def sub_indication_vi(sub: str) -> str:
    """An EN 319 102-1 sub-indication (or main indication) in Vietnamese; the code itself
    if the catalogue does not know it."""
    for key in (f"sub.{sub}", f"indication.{sub}"):
        if key in CATALOGUE:
            return text(key, "vi")
    return sub
