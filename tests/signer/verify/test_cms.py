"""``signer.verify.cms``: CAdES signatures made by kyso's CadesSigner with software keys,
verified in-process against a trust anchor made here (EN 319 102-1 indications and the
catalogue codes of their problems)."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import cms

from signer.digest import Digest, HashAlg
from signer.verify.engine import Verifier
from signer.verify.report import Indication, SignatureReport
from signer.verify.trust import Anchor
from tests.signer.verify.world import (
    AGENCY_CODE,
    AGENCY_NAME,
    CONTENT,
    SEAL_CN,
    SEAL_O,
    SELF_CN,
    World,
    sha1_cms,
)

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

CA_DN = "CN=kyso CA kiểm thử,O=kyso,C=VN"


def _one(v: Verifier, der: bytes, **kw: object) -> SignatureReport:
    r = v.verify(der, **kw)  # type: ignore[arg-type]
    assert r.kind == "cms" and len(r.signatures) == 1
    return r.signatures[0]


def _outcome(s: SignatureReport) -> tuple[str, str, list[str]]:
    return s.indication.name, s.check.sub_indication, [m.code for m in s.check.problems]


@pytest.fixture(scope="module")
def p7s(w: World) -> bytes:
    return w.seal.sign_cms()


def test_valid_signature_passes_with_signer_and_agency(agency_verifier: Verifier,
                                                       p7s: bytes) -> None:
    s = _one(agency_verifier, p7s, content=CONTENT)
    assert _outcome(s) == ("PASSED", "", [])
    assert s.check.warnings == []
    assert s.format == "CAdES-B-B" and s.coverage == "detached-content"
    assert s.intact and s.signature_valid and s.integrity == "intact"
    assert s.signer is not None
    assert (s.signer.common_name, s.signer.organization) == (SEAL_CN, SEAL_O)
    assert s.signer.issuer_common_name == "kyso CA kiểm thử" and not s.signer.self_signed
    assert s.trusted and s.trust_anchor == CA_DN
    assert [c.subject for c in s.chain] == [s.signer.subject, CA_DN]
    assert s.revocation == "not-required"
    assert s.revocation_message is not None
    assert s.revocation_message.code == "revinfo.free-anchor"
    assert (s.digest_algorithm, s.signature_algorithm) == ("sha256", "RSA 2048 bit PKCS#1 v1.5")
    assert s.weak_algorithms == [] and s.signing_time is not None
    assert s.agency is not None
    assert (s.agency.code, s.agency.name_on_signing_date, s.agency.current_name,
            s.agency.matched_by) == (AGENCY_CODE, AGENCY_NAME, AGENCY_NAME, "certificate")


def test_the_agency_is_found_by_key_for_another_certificate(w: World,
                                                            agency_verifier: Verifier) -> None:
    """The expired certificate certifies the same seal key: the key finds the agency."""
    s = _one(agency_verifier, w.expired.sign_cms(), content=CONTENT)
    assert s.agency is not None
    assert (s.agency.code, s.agency.matched_by) == (AGENCY_CODE, "public-key")


def test_without_a_registry_there_is_no_agency(verifier: Verifier, p7s: bytes) -> None:
    s = _one(verifier, p7s, content=CONTENT)
    assert s.indication is Indication.PASSED and s.agency is None


def test_valid_with_only_the_digest(verifier: Verifier, p7s: bytes) -> None:
    d = Digest(HashAlg.SHA256, hashlib.sha256(CONTENT).digest())
    s = _one(verifier, p7s, digest=d)
    assert _outcome(s) == ("PASSED", "", [])
    assert s.integrity == "intact"


def test_content_changed_after_signing(verifier: Verifier, p7s: bytes) -> None:
    s = _one(verifier, p7s, content=CONTENT + b"!")
    assert _outcome(s) == ("FAILED", "HASH_FAILURE", ["cms.content_changed"])
    assert s.signature_valid and not s.intact and s.integrity == "changed"


def test_another_digest(verifier: Verifier, p7s: bytes) -> None:
    d = Digest(HashAlg.SHA256, hashlib.sha256(CONTENT + b"!").digest())
    assert _outcome(_one(verifier, p7s, digest=d)) == (
        "FAILED", "HASH_FAILURE", ["cms.content_changed"])


def test_a_digest_of_another_algorithm_is_not_compared(verifier: Verifier, p7s: bytes) -> None:
    d = Digest(HashAlg.SHA384, hashlib.sha384(CONTENT).digest())
    s = _one(verifier, p7s, digest=d)
    assert _outcome(s) == ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND",
                           ["cms.digest_alg_mismatch"])
    assert s.integrity == "not-checked"
    assert s.check.problems[0].args == {"signature_alg": "sha256", "digest_alg": "sha384"}


def test_detached_signature_without_content(verifier: Verifier, p7s: bytes) -> None:
    s = _one(verifier, p7s)
    assert _outcome(s) == ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND", ["cms.content_missing"])
    assert s.integrity == "not-checked"


def test_signature_value_changed(verifier: Verifier, p7s: bytes) -> None:
    ci = cms.ContentInfo.load(p7s)
    si = ci["content"]["signer_infos"][0]
    value = bytearray(si["signature"].native)
    value[10] ^= 0x01
    si["signature"] = bytes(value)
    s = _one(verifier, ci.dump(force=True), content=CONTENT)
    assert _outcome(s) == ("FAILED", "SIG_CRYPTO_FAILURE", ["sig.value_invalid"])
    assert not s.signature_valid and s.integrity == "signature-invalid"


def test_self_signed_signer(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.self_signed.sign_cms(), content=CONTENT)
    assert _outcome(s) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND", ["trust.self_signed"])
    assert s.intact and s.signature_valid and not s.trusted and s.revocation == "not-checked"
    assert s.signer is not None and s.signer.self_signed and s.signer.common_name == SELF_CN
    assert s.check.problems[0].args["what"] == "signer"


def test_chain_to_a_root_that_is_no_anchor(w: World, p7s: bytes) -> None:
    from asn1crypto import x509 as a_x509

    from signer.keys.types import KeyAlgorithm, Scheme
    from tests.tsa.pki import make_ca

    _, other = make_ca(KeyAlgorithm.RSA2048, Scheme.PKCS1V15, 7)
    v = w.verifier(anchors=[Anchor(a_x509.Certificate.load(other), True, "another CA")])
    s = _one(v, p7s, content=CONTENT)
    assert _outcome(s) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                           ["trust.root_not_anchor"])
    assert s.check.problems[0].args["root"] == "kyso CA kiểm thử"


def test_expired_signer_certificate(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.expired.sign_cms(), content=CONTENT)
    assert _outcome(s) == ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE", ["trust.expired"])
    assert s.intact and s.signature_valid and not s.trusted


def test_not_yet_valid_signer_certificate(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.not_yet_valid.sign_cms(), content=CONTENT)
    assert _outcome(s) == ("INDETERMINATE", "NOT_YET_VALID", ["trust.not_yet_valid"])


def test_sha1_is_weak(w: World, verifier: Verifier) -> None:
    """Circular 15/2025: SHA-1 is no longer accepted; the signature is intact and trusted,
    the algorithm caps it at INDETERMINATE."""
    s = _one(verifier, sha1_cms(w.seal), content=CONTENT)
    assert _outcome(s) == ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE", ["algo.weak"])
    assert s.weak_algorithms == ["SHA-1"] and s.digest_algorithm == "sha1"
    assert s.check.problems[0].args == {"algorithms": "SHA-1"}
    assert s.intact and s.signature_valid and s.trusted
    # a weak hash does not hide a change
    s = _one(verifier, sha1_cms(w.seal), content=CONTENT + b"!")
    assert _outcome(s) == ("FAILED", "HASH_FAILURE", ["cms.content_changed"])


def test_no_signer_certificate(verifier: Verifier, p7s: bytes) -> None:
    sd = cms.ContentInfo.load(p7s)["content"]
    bare = cms.SignedData({k: sd[k] for k in (
        "version", "digest_algorithms", "encap_content_info", "signer_infos")})
    der = cms.ContentInfo({"content_type": "signed_data", "content": bare}).dump()
    s = _one(verifier, der, content=CONTENT)
    assert _outcome(s) == ("INDETERMINATE", "NO_SIGNING_CERTIFICATE_FOUND",
                           ["cms.no_signer_cert"])


def test_no_signer_info(verifier: Verifier, p7s: bytes) -> None:
    sd = cms.ContentInfo.load(p7s)["content"]
    sd["signer_infos"] = []
    r = verifier.verify(cms.ContentInfo({"content_type": "signed_data",
                                         "content": sd}).dump(force=True), content=CONTENT)
    assert r.signatures == [] and r.overall is Indication.FAILED
    assert [m.code for m in r.notes] == ["cms.no_signer_info"]


def test_enveloping_signature_ignores_the_content_given(w: World, verifier: Verifier,
                                                        p7s: bytes) -> None:
    ci = cms.ContentInfo.load(p7s)
    ci["content"]["encap_content_info"] = {"content_type": "data", "content": CONTENT}
    der = ci.dump(force=True)
    r = verifier.verify(der, content=b"something else")
    assert [m.code for m in r.notes] == ["cms.content_ignored"]
    s = r.signatures[0]
    assert _outcome(s) == ("PASSED", "", []) and s.coverage == "enveloped-content"


def test_signature_timestamp(w: World, verifier: Verifier) -> None:
    s = _one(verifier, w.seal.sign_cms(timestamper=w.token), content=CONTENT)
    assert _outcome(s) == ("PASSED", "", []) and s.format == "CAdES-B-T"
    ts = s.timestamp
    assert ts is not None
    assert (ts.indication, ts.sub_indication, [m.code for m in ts.messages]) == (
        Indication.PASSED, "", ["tsr.valid"])
    assert ts.tsa_common_name == "kyso TSA thử nghiệm" and ts.hash_algorithm == "sha256"
    assert s.best_time() == ts.time


def test_a_timestamp_over_something_else_is_a_warning(w: World, verifier: Verifier) -> None:
    """The token stamps another value than the signature's: the timestamp FAILS, the
    signature itself stays as it is, with a warning naming why."""
    other = Digest(HashAlg.SHA256, hashlib.sha256(b"another signature").digest())
    s = _one(verifier, w.seal.sign_cms(timestamper=lambda _d: w.token(other)),
             content=CONTENT)
    assert _outcome(s) == ("PASSED", "", [])
    ts = s.timestamp
    assert ts is not None
    assert (ts.indication, ts.sub_indication, [m.code for m in ts.messages]) == (
        Indication.FAILED, "HASH_FAILURE", ["tsr.imprint_mismatch"])
    assert [m.code for m in s.check.warnings] == ["sig.timestamp_not_passed"]
    assert [c.code for c in s.check.warnings[0].causes] == ["tsr.imprint_mismatch"]
    assert s.best_time() == s.signing_time  # a failed timestamp proves nothing



def test_a_timestamped_signature_is_parsed_once(w: World, verifier: Verifier,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the full parse of a CAdES-B-T SignedData (asn1crypto's ``native`` of the
    whole structure) re-encoded the embedded token's subtree over and over — about 280 000
    SEQUENCE re-encodings and seconds per verification of a 5 KB signature. Counted rather
    than timed, so a loaded machine cannot make it flaky."""
    from asn1crypto import core

    p7s = w.seal.sign_cms(timestamper=w.token)
    calls = 0
    encode = core.Sequence._set_contents

    def counting(self: core.Sequence, *args: object, **kw: object) -> None:
        nonlocal calls
        calls += 1
        encode(self, *args, **kw)

    monkeypatch.setattr(core.Sequence, "_set_contents", counting)
    s = _one(verifier, p7s, content=CONTENT)
    assert _outcome(s) == ("PASSED", "", []) and s.format == "CAdES-B-T"
    assert calls < 100_000, calls
