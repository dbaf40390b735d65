"""The verification report for people (Vietnamese, as Circular 15/2025 asks, and English)
and for programs (JSON), rendered from a ``verify_pb2.VerifyResponse``.

Every word of the human report comes from ``signer.catalogue``: indications,
sub-indications, modification levels, coverage kinds, revocation states, labels, and the
verifier's problems, warnings and notes (which travel as catalogue codes with parameters).
The summary shows names people read — a signer's CN and O, the agency and its code; the
distinguished names, serials, references and the libraries' own words (English) go under
a last section, "Chi tiết kỹ thuật" (English: "Technical details").

Times are shown in Vietnam time (+07:00, ISO 8601). Client-side only: imports no
server module (``signer.catalogue`` is standard-library only, shared by both sides).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from signer.catalogue import CATALOGUE, Message, text
from signer.catalogue import render as render_message

VIETNAM = timezone(timedelta(hours=7))
INDICATIONS = {0: "UNSPECIFIED", 1: "PASSED", 2: "FAILED", 3: "INDETERMINATE"}
_HASHES = {"sha1": "SHA-1", "md5": "MD5", "sha224": "SHA-224", "sha256": "SHA-256",
           "sha384": "SHA-384", "sha512": "SHA-512", "sha3_256": "SHA3-256",
           "sha3_384": "SHA3-384", "sha3_512": "SHA3-512"}
_TIMESTAMP_FORMATS = ("RFC 3161", "PDF document timestamp")


def indication(value: int) -> str:
    return INDICATIONS.get(value, "UNSPECIFIED")


def message_of(pb: Any) -> Message:
    """A ``verify_pb2.ReportMessage`` as a catalogue message."""
    return Message(pb.code, tuple(sorted(dict(pb.params).items())), pb.detail,
                   tuple(message_of(c) for c in pb.causes))


def messages_of(pbs: Any) -> tuple[Message, ...]:
    return tuple(message_of(m) for m in pbs)


def _time(unix: int, micros: int = 0) -> str:
    t = datetime.fromtimestamp(unix, UTC).astimezone(VIETNAM)
    return t.replace(microsecond=micros).isoformat() if micros else t.isoformat()


def _cert(c: Any) -> dict[str, Any]:
    return {
        "subject": c.subject, "issuer": c.issuer, "serial": c.serial_hex,
        "not_before": _time(c.not_before_unix), "not_after": _time(c.not_after_unix),
        "common_name": c.common_name or None, "organization": c.organization or None,
        "issuer_common_name": c.issuer_common_name or None,
        "issuer_organization": c.issuer_organization or None,
        "self_signed": c.self_signed,
    }


def _message(pb: Any) -> dict[str, Any]:
    m = message_of(pb)
    return {
        "code": pb.code, "params": dict(pb.params), "detail": pb.detail or None,
        "vi": render_message(m, "vi", pb.text), "en": render_message(m, "en", pb.text),
        "causes": [_message(c) for c in pb.causes],
    }


def _messages(pbs: Any, legacy: Any) -> list[dict[str, Any]]:
    """The structured messages; from an older server, its English sentences as such."""
    if len(pbs) or not len(legacy):
        return [_message(m) for m in pbs]
    return [{"code": "", "params": {}, "detail": None, "vi": t, "en": t, "causes": []}
            for t in legacy]


def _integrity(s: Any) -> str:
    """The integrity verdict the server computed; for an older server, from its flags."""
    if s.integrity:
        return str(s.integrity)
    if s.sub_indication == "SIGNED_DATA_NOT_FOUND":
        return "not-checked"
    if s.intact and s.signature_valid:
        return "disallowed-changes" if s.modifications == "suspicious" else "intact"
    if not s.signature_valid:
        return "signature-invalid"
    return "changed"


def to_dict(resp: Any) -> dict[str, Any]:
    """The JSON report: stable field names, times in ISO 8601 (+07:00). Problems, warnings
    and notes come as catalogue codes with parameters and both renderings."""
    sigs = []
    for s in resp.signatures:
        d: dict[str, Any] = {
            "index": s.index,
            "format": s.format,
            "indication": indication(s.indication),
            "sub_indication": s.sub_indication or None,
            "errors": list(s.errors),
            "warnings": list(s.warnings),
            "problems": _messages(s.problems, s.errors),
            "warning_messages": _messages(s.warning_messages, s.warnings),
            "signer": _cert(s.signer) if s.HasField("signer") else None,
            "chain": [_cert(c) for c in s.chain],
            "integrity": {"intact": s.intact, "signature_valid": s.signature_valid},
            "integrity_verdict": _integrity(s),
            "trust": {"trusted": s.trusted, "anchor": s.trust_anchor or None},
            "revocation": {"status": s.revocation or None, "detail": s.revocation_detail or None,
                           "message": _message(s.revocation_message)
                           if s.HasField("revocation_message") else None},
            "agency": None,
            "signing_time": _time(s.signing_time_unix) if s.has_signing_time else None,
            "timestamp": None,
            "algorithms": {"digest": s.digest_algorithm, "signature": s.signature_algorithm,
                           "weak": list(s.weak_algorithms)},
            "coverage": {"kind": s.coverage or None, "detail": s.coverage_detail or None,
                         "modifications": s.modifications or None,
                         "signed_revision": s.signed_revision or None,
                         "total_revisions": s.total_revisions or None,
                         "references": list(s.references)},
            "field": s.field_name or None,
            "token": ({"serial": s.token_serial_hex, "policy": s.token_policy}
                      if s.token_serial_hex else None),
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
                "tsa_common_name": t.tsa_common_name or None,
                "tsa_organization": t.tsa_organization or None,
                "indication": indication(t.indication), "sub_indication": t.sub_indication or None,
                "message": t.message or None,
                "messages": _messages(t.messages, [t.message] if t.message else []),
            }
        sigs.append(d)
    return {
        "kind": resp.kind,
        "overall": indication(resp.overall_indication),
        "verified_at": _time(resp.verified_at_unix) if resp.verified_at_unix else None,
        "trust_anchors": list(resp.trust_anchors),
        "notes": list(resp.notes),
        "note_messages": _messages(resp.note_messages, resp.notes),
        "signatures": sigs,
    }


def _hash_label(name: str) -> str:
    return _HASHES.get(name, name.upper())


def _name(cn: str | None, org: str | None) -> str:
    """``CN (O)``, or whichever of the two there is."""
    if cn and org and org != cn:
        return f"{cn} ({org})"
    return cn or org or ""


def render(resp: Any, lang: str = "vi") -> str:
    """A human report, ``lang`` "vi" (Vietnamese) or "en": a summary per signature, then
    the technical details."""
    r = to_dict(resp)

    def t(key: str, /, **params: object) -> str:
        return text(key, lang, {k: str(v) for k, v in params.items()})

    def say(m: dict[str, Any]) -> str:
        return str(m[lang])

    lines = [f"{t('label.result', kind=r['kind'].upper())}: {t('indication.' + r['overall'])}"]
    if r["verified_at"]:
        lines.append(f"{t('label.verified_at')}: {r['verified_at']}")
    for note in r["note_messages"]:
        lines.append(f"  {t('label.note')}: {say(note)}")
    if not r["signatures"]:
        lines.append(t("label.no_signature"))
    for s in r["signatures"]:
        lines.append("")
        lines += _summary(s, t, say)
    details = _details(r, t, say)
    if details:
        lines += ["", t("label.details"), *details]
    return "\n".join(lines) + "\n"


def _summary(s: dict[str, Any], t: Any, say: Any) -> list[str]:
    ind, sub = s["indication"], s["sub_indication"]
    head = f"{t('label.signature', index=s['index'])}: {t('indication.' + ind)}"
    if sub:
        head += f" ({t('sub.' + sub) if 'sub.' + sub in CATALOGUE else sub}; {sub})"
    fmt = s["format"]
    if fmt == _TIMESTAMP_FORMATS[1]:  # English words on the wire: said in the reader's language
        fmt = t("label.document_timestamp")
    out = [head, f"  {t('label.format')}: {fmt}"]
    if s["field"] and (s["format"].startswith("PAdES") or s["format"] == _TIMESTAMP_FORMATS[1]):
        out.append(f"  {t('label.field')}: {s['field']}")
    c, a = s["signer"], s["agency"]
    if c:
        who = _name(c["common_name"], c["organization"]) or c["serial"]
        if a and a["code"]:
            who += f" — {t('label.agency_code', code=a['code'])}"
        out.append(f"  {t('label.signer')}: {who}")
        issuer = (t("label.self_signed") if c["self_signed"] else
                  _name(c["issuer_common_name"], c["issuer_organization"]))
        if issuer:
            out.append(f"  {t('label.issuer')}: {issuer}")
        out.append(f"  {t('label.validity')}: {c['not_before']} → {c['not_after']}")
    if a:
        name = a["name_on_signing_date"] or a["current_name"]
        out.append(f"  {t('label.agency')}: {name} ({a['code']})")
        if a["current_name"] and a["current_name"] != name:
            out.append(f"  {t('label.name_today')}: {a['current_name']}")
        if a["status"] and f"agency_status.{a['status']}" in CATALOGUE and a["status"] != "active":
            out.append(f"  {t('label.agency_status')}: {t('agency_status.' + a['status'])}")
        succ = [f"{n} ({code})" for code, n in zip(a["successors"], a["successor_names"],
                                                   strict=False) if code != a["code"]]
        if succ:
            out.append(f"  {t('label.successors')}: " + "; ".join(succ))
    elif c:
        out.append(f"  {t('label.agency')}: {t('label.agency_unknown')}")
    if s["format"] in _TIMESTAMP_FORMATS:  # a timestamp's time is the time it asserts
        if s["signing_time"] and not s["timestamp"]:
            out.append(f"  {t('label.timestamp')}: {s['signing_time']}")
    elif s["signing_time"]:
        out.append(f"  {t('label.signing_time')}: {s['signing_time']} ({t('label.claimed')})")
    elif c:
        out.append(f"  {t('label.signing_time')}: {t('label.no_signing_time')}")
    ts = s["timestamp"]
    if ts:
        tsa = _name(ts["tsa_common_name"], ts["tsa_organization"])
        out.append(f"  {t('label.timestamp')}: {ts['time']} ({t('indication.' + ts['indication'])}"
                   + (f"; {tsa})" if tsa else ")"))
    out.append(f"  {t('label.integrity')}: {t('integrity.' + s['integrity_verdict'])}")
    cov = s["coverage"]
    if cov["kind"]:
        kind = t("coverage." + cov["kind"]) if "coverage." + cov["kind"] in CATALOGUE else ""
        if cov["signed_revision"] and cov["total_revisions"]:
            which = t("label.revision_of", signed=cov["signed_revision"],
                      total=cov["total_revisions"])
            kind += f" ({which})"
        if kind:
            out.append(f"  {t('label.coverage')}: {kind}")
    mods = cov["modifications"]
    if mods and f"mod.{mods}" in CATALOGUE:
        out.append(f"  {t('label.changes')}: {t('mod.' + mods)}")
    alg = s["algorithms"]
    if alg["digest"]:
        weak = f" — {t('label.weak')}: {', '.join(alg['weak'])}" if alg["weak"] else ""
        out.append(f"  {t('label.algorithms')}: {_hash_label(alg['digest'])} / "
                   f"{alg['signature']}{weak}")
    if s["trust"]["trusted"]:
        anchor = s["chain"][-1] if s["chain"] else None
        name = _name(anchor["common_name"], anchor["organization"]) if anchor else ""
        out.append(f"  {t('label.chain')}: {t('label.trusted')}" + (f" ({name})" if name else ""))
    else:
        out.append(f"  {t('label.chain')}: {t('label.not_trusted')}")
    rv = s["revocation"]["status"]
    if rv:
        status = t("revocation." + rv) if "revocation." + rv in CATALOGUE else rv
        out.append(f"  {t('label.revocation')}: {status}")
    for m in s["problems"]:
        out.append(f"  {t('label.problem')}: {say(m)}")
    for m in s["warning_messages"]:
        out.append(f"  {t('label.warning')}: {say(m)}")
    return out


def _library(m: dict[str, Any]) -> list[str]:
    """The library words under ``m`` and its causes."""
    out = [m["detail"]] if m["detail"] else []
    for c in m["causes"]:
        out += _library(c)
    return out


def _details(r: dict[str, Any], t: Any, say: Any) -> list[str]:
    """Distinguished names, serials, references, libraries' messages: for whoever
    investigates, not for the summary."""
    out: list[str] = []
    for s in r["signatures"]:
        d: list[str] = []
        c = s["signer"]
        if c:
            d.append(f"{t('label.subject_dn')}: {c['subject']}")
            d.append(f"{t('label.issuer_dn')}: {c['issuer']}")
            d.append(f"{t('label.serial')}: {c['serial']}")
        if s["chain"]:
            d.append(f"{t('label.chain_dn')}: " + " → ".join(x["subject"] for x in s["chain"]))
        if s["trust"]["anchor"]:
            d.append(f"{t('label.anchor_dn')}: {s['trust']['anchor']}")
        if s["timestamp"] and s["timestamp"]["tsa"]:
            d.append(f"{t('label.tsa_dn')}: {s['timestamp']['tsa']}")
        a = s["agency"]
        if a and f"agency_match.{a['matched_by']}" in CATALOGUE:
            d.append(f"{t('label.agency_matched')}: {t('agency_match.' + a['matched_by'])}")
        cov = s["coverage"]
        if cov["references"]:
            d.append(f"{t('label.references')}: "
                     + ", ".join(f'URI="{u}"' for u in cov["references"]))
        if cov["kind"] == "imprint" and cov["detail"]:
            d.append(f"{t('label.imprint')}: {cov['detail']}")
        if s["token"]:
            d.append(f"{t('label.token_serial')}: {s['token']['serial']}")
            d.append(f"{t('label.token_policy')}: {s['token']['policy']}")
        rm = s["revocation"]["message"]
        if rm:
            d.append(f"{t('label.revocation_detail')}: {say(rm)}")
            d += [f"{t('label.revocation_detail')} ({t('label.library')}): {x}"
                  for x in _library(rm)]
        for label, ms in (("label.problem", s["problems"]),
                          ("label.warning", s["warning_messages"])):
            for m in ms:
                d += [f"{t(label)} ({t('label.library')}): {x}" for x in _library(m)]
        if d:
            out.append(f"  {t('label.signature', index=s['index'])}")
            out += [f"    {x}" for x in d]
    for m in r["note_messages"]:
        out += [f"  {t('label.note')} ({t('label.library')}): {x}" for x in _library(m)]
    if r["trust_anchors"]:
        out.append(f"  {t('label.anchors_dn')}:")
        out += [f"    {x}" for x in r["trust_anchors"]]
    return out
