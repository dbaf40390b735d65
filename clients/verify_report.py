"""The verification report for people (Vietnamese, as Circular 15/2025 asks, and English)
and for programs (JSON), rendered from a ``verify_pb2.VerifyResponse``.

Times are shown in Vietnam time (+07:00, ISO 8601). Client-side only: imports no
server module.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

VIETNAM = timezone(timedelta(hours=7))
INDICATIONS = {0: "UNSPECIFIED", 1: "PASSED", 2: "FAILED", 3: "INDETERMINATE"}
_VI_INDICATION = {"PASSED": "HỢP LỆ", "FAILED": "KHÔNG HỢP LỆ", "INDETERMINATE": "CHƯA XÁC ĐỊNH"}
_VI_SUB = {
    "HASH_FAILURE": "nội dung đã bị thay đổi sau khi ký",
    "SIG_CRYPTO_FAILURE": "giá trị chữ ký không khớp với khóa công khai",
    "FORMAT_FAILURE": "định dạng chữ ký không hợp lệ",
    "REVOKED": "chứng thư số đã bị thu hồi",
    "NO_CERTIFICATE_CHAIN_FOUND": "không tìm thấy chuỗi chứng thư đến tổ chức tin cậy",
    "NO_SIGNING_CERTIFICATE_FOUND": "không tìm thấy chứng thư số của người ký",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "chuỗi chứng thư không kiểm tra được",
    "CRYPTO_CONSTRAINTS_FAILURE": "thuật toán yếu, không đạt yêu cầu",
    "OUT_OF_BOUNDS_NO_POE": "chứng thư số đã hết hạn",
    "NOT_YET_VALID": "chứng thư số chưa có hiệu lực",
    "TRY_LATER": "chưa lấy được thông tin thu hồi (CRL/OCSP), hãy thử lại sau",
    "SIGNED_DATA_NOT_FOUND": "thiếu dữ liệu đã ký",
    "SIG_CONSTRAINTS_FAILURE": "chữ ký không đáp ứng ràng buộc",
}
_VI_REVOCATION = {
    "good": "chưa bị thu hồi",
    "not-required": "không yêu cầu (tổ chức phát hành không công bố CRL/OCSP)",
    "unavailable": "không lấy được thông tin thu hồi",
    "revoked": "đã bị thu hồi",
    "no-source": "chứng thư không có địa chỉ CRL/OCSP",
    "not-checked": "chưa kiểm tra",
}
_VI_COVERAGE = {
    "detached-content": "toàn bộ tệp nội dung (chữ ký rời)",
    "enveloped-content": "nội dung đóng gói trong chữ ký",
    "whole-file": "toàn bộ tệp",
    "revision": "một phiên bản của tệp; tệp đã được cập nhật sau khi ký",
    "imprint": "giá trị băm của dữ liệu",
    "references": "các phần được tham chiếu",
}


def sub_indication_vi(sub: str) -> str:
    """An EN 319 102-1 sub-indication in Vietnamese (the code itself if unknown)."""
    return _VI_SUB.get(sub, _VI_INDICATION.get(sub, sub))


def indication(value: int) -> str:
    return INDICATIONS.get(value, "UNSPECIFIED")


def _time(unix: int, micros: int = 0) -> str:
    t = datetime.fromtimestamp(unix, UTC).astimezone(VIETNAM)
    return t.replace(microsecond=micros).isoformat() if micros else t.isoformat()


def _cert(c: Any) -> dict[str, Any]:
    return {
        "subject": c.subject, "issuer": c.issuer, "serial": c.serial_hex,
        "not_before": _time(c.not_before_unix), "not_after": _time(c.not_after_unix),
    }


def to_dict(resp: Any) -> dict[str, Any]:
    """The JSON report: stable field names, times in ISO 8601 (+07:00)."""
    sigs = []
    for s in resp.signatures:
        d: dict[str, Any] = {
            "index": s.index,
            "format": s.format,
            "indication": indication(s.indication),
            "sub_indication": s.sub_indication or None,
            "errors": list(s.errors),
            "warnings": list(s.warnings),
            "signer": _cert(s.signer) if s.HasField("signer") else None,
            "chain": [_cert(c) for c in s.chain],
            "integrity": {"intact": s.intact, "signature_valid": s.signature_valid},
            "trust": {"trusted": s.trusted, "anchor": s.trust_anchor or None},
            "revocation": {"status": s.revocation or None, "detail": s.revocation_detail or None},
            "agency": None,
            "signing_time": _time(s.signing_time_unix) if s.has_signing_time else None,
            "timestamp": None,
            "algorithms": {"digest": s.digest_algorithm, "signature": s.signature_algorithm,
                           "weak": list(s.weak_algorithms)},
            "coverage": {"kind": s.coverage or None, "detail": s.coverage_detail or None,
                         "modifications": s.modifications or None},
            "field": s.field_name or None,
        }
        if s.HasField("agency"):
            a = s.agency
            d["agency"] = {
                "code": a.code, "name_on_signing_date": a.name_on_signing_date,
                "signing_date": a.signing_date, "current_name": a.current_name,
                "status": a.status, "successors": list(a.successors),
                "successor_names": list(a.successor_names), "matched_by": a.matched_by,
            }
        if s.HasField("timestamp"):
            t = s.timestamp
            d["timestamp"] = {
                "time": _time(t.time_unix, t.time_micros), "tsa": t.tsa_subject,
                "indication": indication(t.indication), "sub_indication": t.sub_indication or None,
                "message": t.message or None,
            }
        sigs.append(d)
    return {
        "kind": resp.kind,
        "overall": indication(resp.overall_indication),
        "verified_at": _time(resp.verified_at_unix) if resp.verified_at_unix else None,
        "trust_anchors": list(resp.trust_anchors),
        "notes": list(resp.notes),
        "signatures": sigs,
    }


def _hash_label(name: str) -> str:
    return {"sha1": "SHA-1", "md5": "MD5", "sha256": "SHA-256", "sha384": "SHA-384",
            "sha512": "SHA-512", "sha224": "SHA-224"}.get(name, name.upper())


def render(resp: Any, lang: str = "vi") -> str:
    """A human report, ``lang`` "vi" (Vietnamese) or "en"."""
    r = to_dict(resp)
    vi = lang == "vi"
    lines: list[str] = []
    if vi:
        lines.append(f"Kết quả kiểm tra ({r['kind'].upper()}): "
                     f"{_VI_INDICATION.get(r['overall'], r['overall'])}")
    else:
        lines.append(f"Verification result ({r['kind'].upper()}): {r['overall']}")
    for note in r["notes"]:
        lines.append(f"  {'Ghi chú' if vi else 'Note'}: {note}")
    if not r["signatures"]:
        lines.append("Không có chữ ký số." if vi else "No signature found.")
    for s in r["signatures"]:
        ind = s["indication"]
        sub = s["sub_indication"]
        lines.append("")
        if vi:
            head = f"Chữ ký số {s['index']}: {_VI_INDICATION.get(ind, ind)}"
            if sub:
                head += f" ({_VI_SUB.get(sub, sub)}; {sub})"
        else:
            head = f"Signature {s['index']}: {ind}" + (f" ({sub})" if sub else "")
        lines.append(head)
        lines.append(f"  {'Định dạng' if vi else 'Format'}: {s['format']}")
        if s["signer"]:
            c = s["signer"]
            lines.append(f"  {'Người ký' if vi else 'Signer'}: {c['subject']}")
            lines.append(f"  {'Tổ chức cấp' if vi else 'Issuer'}: {c['issuer']} "
                         f"({'số hiệu' if vi else 'serial'} {c['serial']})")
            lines.append(f"  {'Hiệu lực chứng thư' if vi else 'Certificate validity'}: "
                         f"{c['not_before']} → {c['not_after']}")
        a = s["agency"]
        if a:
            name = a["name_on_signing_date"] or a["current_name"]
            lines.append(f"  {'Cơ quan' if vi else 'Agency'}: {name} ({a['code']})")
            if a["current_name"] and a["current_name"] != name:
                lines.append(f"  {'Tên hiện nay' if vi else 'Name today'}: {a['current_name']}")
            succ = [f"{n} ({c})" for c, n in zip(a["successors"], a["successor_names"],
                                                 strict=False) if c != a["code"]]
            if succ:
                lines.append(f"  {'Cơ quan kế thừa' if vi else 'Successor today'}: "
                             + "; ".join(succ))
        elif s["signer"]:
            lines.append("  Cơ quan: không có trong danh mục của kyso" if vi
                         else "  Agency: not in kyso's registry")
        if s["signing_time"]:
            lines.append(f"  {'Thời điểm ký' if vi else 'Signing time'}: {s['signing_time']}"
                         + (" (do người ký khai báo)" if vi else " (claimed by the signer)"))
        t = s["timestamp"]
        if t:
            tind = t["indication"]
            lines.append(f"  {'Dấu thời gian' if vi else 'Timestamp'}: {t['time']} "
                         f"({_VI_INDICATION.get(tind, tind) if vi else tind}; {t['tsa']})")
        integ = s["integrity"]
        if integ["intact"] and integ["signature_valid"]:
            text = ("nội dung không bị thay đổi" if vi else "the content is unchanged")
        elif sub == "SIGNED_DATA_NOT_FOUND":
            text = ("chưa kiểm tra (thiếu nội dung đã ký)" if vi
                    else "not checked (the signed content was not given)")
        elif not integ["signature_valid"]:
            text = "chữ ký không khớp" if vi else "the signature does not verify"
        else:
            text = ("nội dung đã bị thay đổi" if vi else "the content was changed")
        lines.append(f"  {'Toàn vẹn' if vi else 'Integrity'}: {text}")
        cov = s["coverage"]
        if cov["kind"]:
            kind = _VI_COVERAGE.get(cov["kind"], cov["kind"]) if vi else cov["kind"]
            detail = f" — {cov['detail']}" if cov["detail"] and not vi else ""
            lines.append(f"  {'Phạm vi ký' if vi else 'Covers'}: {kind}{detail}")
        if cov["modifications"]:
            lines.append(f"  {'Thay đổi sau khi ký' if vi else 'Changes after signing'}: "
                         f"{cov['modifications']}")
        alg = s["algorithms"]
        if alg["digest"]:
            weak = (" — " + ("THUẬT TOÁN YẾU: " if vi else "WEAK: ") + ", ".join(alg["weak"])
                    if alg["weak"] else "")
            lines.append(f"  {'Thuật toán' if vi else 'Algorithms'}: "
                         f"{_hash_label(alg['digest'])} / {alg['signature']}{weak}")
        tr = s["trust"]
        if tr["trusted"]:
            lines.append(f"  {'Chuỗi chứng thư' if vi else 'Certificate chain'}: "
                         f"{'tin cậy' if vi else 'trusted'} ({tr['anchor']})")
        else:
            lines.append(f"  {'Chuỗi chứng thư' if vi else 'Certificate chain'}: "
                         + ("không tin cậy hoặc chưa xác định" if vi else "not trusted"))
        rv = s["revocation"]
        if rv["status"]:
            status = _VI_REVOCATION.get(rv["status"], rv["status"]) if vi else rv["status"]
            lines.append(f"  {'Tình trạng thu hồi' if vi else 'Revocation'}: {status}"
                         + (f" ({rv['detail']})" if rv["detail"] and not vi else ""))
        for e in s["errors"]:
            lines.append(f"  {'Lỗi' if vi else 'Problem'}: {e}")
        for w in s["warnings"]:
            lines.append(f"  {'Cảnh báo' if vi else 'Warning'}: {w}")
    return "\n".join(lines) + "\n"
