"""``signer.verify.tsr``: RFC 3161 tokens and granted replies from a software TSA, verified
in-process — valid, stamping other data, altered, signature invalid, without the TSA
certificate, from an untrusted TSA — and ``_classify``'s mapping of ``TimestampError``
reasons to indications and catalogue codes."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import cms
from asn1crypto import x509 as a_x509

from signer.catalogue import CATALOGUE
from signer.digest import Digest, HashAlg
from signer.errors import InvalidRequest
from signer.formats.tsp import (
    FailureInfo,
    TimestampError,
    granted_response,
    make_request,
    parse_request,
    rejection_response,
)
from signer.verify.engine import Kind, Verifier
from signer.verify.report import Indication, SignatureReport
from signer.verify.trust import Anchor
from signer.verify.tsr import _classify
from tests.signer.verify.world import CONTENT, NOW, World
from tests.tsa.pki import DEFAULT_POLICY, POLICY

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

DIGEST = Digest(HashAlg.SHA256, hashlib.sha256(CONTENT).digest())


@pytest.fixture(scope="module")
def token(w: World) -> bytes:
    return w.token(DIGEST)


def _one(v: Verifier, der: bytes, **kw: object) -> SignatureReport:
    r = v.verify(der, **kw)  # type: ignore[arg-type]
    assert r.kind == "tsr" and len(r.signatures) == 1
    return r.signatures[0]


def _outcome(s: SignatureReport) -> tuple[str, str, list[str]]:
    return s.indication.name, s.check.sub_indication, [m.code for m in s.check.problems]


def _tst_info_offset(token: bytes) -> int:
    """Where the DER of the TSTInfo's genTime value starts in ``token``."""
    i = token.find(NOW.strftime("%Y%m%d%H%M%S").encode())
    assert i > 0
    return i


def test_valid_token_over_the_content(verifier: Verifier, token: bytes) -> None:
    s = _one(verifier, token, content=CONTENT)
    assert _outcome(s) == ("PASSED", "", [])
    assert (s.format, s.coverage, s.integrity) == ("RFC 3161", "imprint", "intact")
    assert s.signer is not None and s.signer.common_name == "kyso TSA thử nghiệm"
    assert s.trusted and s.trust_anchor == "CN=kyso CA kiểm thử,O=kyso,C=VN"
    assert s.signing_time == NOW and s.token_policy == DEFAULT_POLICY
    assert s.coverage_detail == f"sha256 {DIGEST.value.hex()}"
    ts = s.timestamp
    assert ts is not None
    assert (ts.indication, ts.time, ts.hash_algorithm, [m.code for m in ts.messages]) == (
        Indication.PASSED, NOW, "sha256", ["tsr.valid"])


def test_granted_reply_over_the_digest(verifier: Verifier, token: bytes) -> None:
    s = _one(verifier, granted_response(token), digest=DIGEST)
    assert _outcome(s) == ("PASSED", "", [])


def test_token_over_other_content(verifier: Verifier, token: bytes) -> None:
    s = _one(verifier, token, content=CONTENT + b"!")
    assert _outcome(s) == ("FAILED", "HASH_FAILURE", ["tsr.imprint_mismatch"])
    assert s.signature_valid and not s.intact and s.integrity == "changed"
    d = Digest(HashAlg.SHA256, hashlib.sha256(b"other").digest())
    assert _outcome(_one(verifier, token, digest=d)) == (
        "FAILED", "HASH_FAILURE", ["tsr.imprint_mismatch"])


def test_token_alone_is_not_compared_with_anything(verifier: Verifier, token: bytes) -> None:
    s = _one(verifier, token)
    assert _outcome(s) == ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND", ["tsr.data_not_given"])
    assert s.integrity == "not-checked"


def test_altered_token(verifier: Verifier, token: bytes) -> None:
    """The TSTInfo changed (one digit of genTime): its message-digest attribute no longer
    matches (TimestampError.ALTERED)."""
    altered = bytearray(token)
    altered[_tst_info_offset(token) + 3] ^= 0x01
    s = _one(verifier, bytes(altered), content=CONTENT)
    assert _outcome(s) == ("FAILED", "HASH_FAILURE", ["tsr.altered"])
    assert not s.intact and s.timestamp is None
    # the TSA's certificate is still read and its path checked
    assert s.signer is not None and s.trusted


def test_signature_invalid(verifier: Verifier, token: bytes) -> None:
    ci = cms.ContentInfo.load(token)
    si = ci["content"]["signer_infos"][0]
    value = bytearray(si["signature"].native)
    value[-1] ^= 0x01
    si["signature"] = bytes(value)
    s = _one(verifier, ci.dump(force=True), content=CONTENT)
    assert _outcome(s) == ("FAILED", "SIG_CRYPTO_FAILURE", ["tsr.signature_invalid"])
    assert s.integrity == "signature-invalid"


def test_token_without_the_tsa_certificate(w: World, verifier: Verifier) -> None:
    req = parse_request(make_request(DIGEST.value, "sha256", cert_req=False)[0], POLICY)
    bare = w.tsa.builder().build_token(req, serial=9, gen_time=NOW)
    s = _one(verifier, bare, content=CONTENT)
    assert _outcome(s) == ("INDETERMINATE", "NO_SIGNING_CERTIFICATE_FOUND",
                           ["tsr.no_certificate"])
    assert s.signer is None


def test_untrusted_tsa(w: World, token: bytes) -> None:
    from signer.keys.types import KeyAlgorithm, Scheme
    from tests.tsa.pki import make_ca

    _, other = make_ca(KeyAlgorithm.RSA2048, Scheme.PKCS1V15, 7)
    v = w.verifier(anchors=[Anchor(a_x509.Certificate.load(other), True, "another CA")])
    s = _one(v, token, content=CONTENT)
    assert _outcome(s) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND",
                           ["trust.root_not_anchor"])
    assert s.check.problems[0].args["what"] == "tsa"


def test_refused_reply_and_garbage(verifier: Verifier) -> None:
    with pytest.raises(InvalidRequest) as e:
        verifier.verify(rejection_response(FailureInfo.BAD_ALG, "no"), kind=Kind.TSR)
    assert e.value.code == "tsr.reply_without_token"
    with pytest.raises(InvalidRequest) as e:
        verifier.verify(b"\x30\x03\x02\x01\x01", kind=Kind.TSR)
    assert e.value.code == "tsr.not_der"


@pytest.mark.parametrize(("reason", "expected"), [
    (TimestampError.WEAK, (Indication.INDETERMINATE, "CRYPTO_CONSTRAINTS_FAILURE", "tsr.weak")),
    (TimestampError.ALTERED, (Indication.FAILED, "HASH_FAILURE", "tsr.altered")),
    (TimestampError.SIGNATURE, (Indication.FAILED, "SIG_CRYPTO_FAILURE",
                                "tsr.signature_invalid")),
    (TimestampError.NO_CERTIFICATE, (Indication.INDETERMINATE, "NO_SIGNING_CERTIFICATE_FOUND",
                                     "tsr.no_certificate")),
    (TimestampError.INVALID, (Indication.FAILED, "FORMAT_FAILURE", "tsr.malformed")),
    ("a reason added later", (Indication.FAILED, "FORMAT_FAILURE", "tsr.malformed")),
])
def test_classify(reason: str, expected: tuple[Indication, str, str]) -> None:
    assert _classify(TimestampError("why", reason=reason)) == expected
    assert expected[2] in CATALOGUE


def test_a_digest_of_another_algorithm_is_not_compared(verifier: Verifier,
                                                       token: bytes) -> None:
    """A SHA-384 digest cannot be compared with a SHA-256 imprint: the data was not
    checked (INDETERMINATE/SIGNED_DATA_NOT_FOUND, as for CMS), not found changed."""
    d = Digest(HashAlg.SHA384, hashlib.sha384(CONTENT).digest())
    s = _one(verifier, token, digest=d)
    assert _outcome(s) == ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND", ["tsr.alg_mismatch"])
    assert s.check.problems[0].args == {"token_alg": "sha256", "digest_alg": "sha384"}
    assert s.integrity == "not-checked"
