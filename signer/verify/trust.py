"""Trust: a path from the signer certificate to a configured anchor, and revocation.

Path building, validity and revocation are pyhanko-certvalidator's
(RFC 5280 path validation); this module decides the policy and maps its errors
to EN 319 102-1 sub-indications, once.

Two steps, so that nothing a document names is fetched before it is trusted
(issue 12, item 5; the fetch rules are ``fetch``'s):

1. **Trust, offline.** The path is built and validated (signatures, validity, key
   usage) from the anchors and the certificates the document carries, with no
   network access and no revocation check. A missing intermediate is
   NO_CERTIFICATE_CHAIN_FOUND: issuer certificates are never downloaded.
2. **Revocation, for that path only.** Revocation data embedded in the document
   (a PDF's DSS, a CMS's ``crls``) is used first. Only if more is needed and
   ``[verify] fetch = "revocation"`` are CRLs/OCSP responses downloaded, through a
   ``GuardedFetcherBackend``: allow-listed hosts, the call's request cap and time
   budget.

Revocation policy (documented in the README):

* A certificate that names a CRL distribution point or an OCSP responder is
  checked against it (``hard-fail``). If no answer is at hand (not embedded, not
  fetched: fetching off, host not allowed, cap or budget spent, service down),
  the signature is INDETERMINATE/TRY_LATER, with the reason and the setting to
  change — never PASSED.
* A certificate that names no revocation source at all is accepted only under a
  *revocation-free* anchor: the development CA (it publishes no CRL/OCSP) and
  ``[verify] revocation_free_anchor_files``. Under any other anchor (e.g. the
  Government CA, which publishes both) it is INDETERMINATE/
  CERTIFICATE_CHAIN_GENERAL_FAILURE, unless ``[verify] revocation = "soft"``.
* Weak hashes in certificate signatures (MD5, SHA-1) give
  INDETERMINATE/CRYPTO_CONSTRAINTS_FAILURE.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms as a_cms
from asn1crypto import crl as a_crl
from asn1crypto import ocsp as a_ocsp
from asn1crypto import pem
from asn1crypto import x509 as a_x509
from cryptography import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.validate import async_validate_path

from signer.catalogue import Message, legacy
from signer.verify.fetch import (
    FetchAllowance,
    FetchPolicy,
    GuardedFetcherBackend,
)
from signer.verify.report import (
    CERTIFICATE_CHAIN_GENERAL_FAILURE,
    CRYPTO_CONSTRAINTS_FAILURE,
    NO_CERTIFICATE_CHAIN_FOUND,
    NOT_YET_VALID,
    OUT_OF_BOUNDS_NO_POE,
    REVOKED,
    SIG_CONSTRAINTS_FAILURE,
    TRY_LATER,
    CertSummary,
    SignatureReport,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Anchor:
    cert: a_x509.Certificate
    revocation_free: bool
    label: str  # where it came from: "development CA", a file name


def load_pem_anchors(path: Path, *, revocation_free: bool) -> list[Anchor]:
    data = path.read_bytes()
    out = []
    blobs = [der for _, _, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
    for der in blobs:
        out.append(Anchor(a_x509.Certificate.load(der), revocation_free, path.name))
    return out


def has_revocation_source(cert: a_x509.Certificate) -> bool:
    return bool(cert.crl_distribution_points or cert.ocsp_urls)


@dataclass(frozen=True, slots=True)
class EmbeddedRevinfo:
    """Revocation data a document carries: a PDF's DSS, a CMS's ``crls`` field."""

    crls: tuple[a_crl.CertificateList, ...] = ()
    ocsps: tuple[a_ocsp.OCSPResponse, ...] = ()


NO_REVINFO = EmbeddedRevinfo()
# The budget bounds every download already (FetchAllowance.bounded); this is only the
# safety net for the rest of the revocation step (parsing, signatures), never reached
# in practice.
_REVOCATION_GRACE_S = 5.0


class TrustStore:
    """The anchors a verifier trusts, how it treats revocation and what it may fetch.
    Immutable; one per node."""

    def __init__(
        self, anchors: Sequence[Anchor], *, revocation: str = "require",
        fetch: FetchPolicy | None = None,
    ) -> None:
        self.anchors = tuple(anchors)
        self.revocation = revocation
        self.fetch = fetch if fetch is not None else FetchPolicy()

    def allowance(self) -> FetchAllowance:
        """A fresh allowance: the download cap and time budget of one Verify call."""
        return FetchAllowance(self.fetch)

    def subjects(self) -> list[str]:
        return [
            x509.load_der_x509_certificate(a.cert.dump()).subject.rfc4514_string()
            for a in self.anchors
        ]

    def _anchor_of(self, cert: a_x509.Certificate) -> Anchor | None:
        for a in self.anchors:
            if a.cert.dump() == cert.dump() or (
                a.cert.subject == cert.subject and a.cert.public_key == cert.public_key
            ):
                return a
        return None

    async def check(
        self,
        report: SignatureReport,
        signer: a_x509.Certificate,
        others: Iterable[a_x509.Certificate],
        *,
        what: str = "signer",
        extended_key_usage: set[str] | None = None,
        revinfo: EmbeddedRevinfo = NO_REVINFO,
        fetches: FetchAllowance | None = None,
    ) -> None:
        """Walk ``signer`` to an anchor now, offline; then check the revocation of that
        path (embedded data first, downloads only as ``fetches`` allows: one allowance is
        shared by every check of a Verify call). Record the outcome in ``report``
        (trusted, chain, revocation, and the check's indication). ``what`` names the
        certificate in messages: ``signer`` or ``tsa`` (``what.*`` in the catalogue)."""
        check = report.check
        if not self.anchors:
            report.revocation = "not-checked"
            check.indeterminate(NO_CERTIFICATE_CHAIN_FOUND, Message.of("trust.no_anchor"))
            return
        others = list(others)
        path = await self._trusted_path(report, signer, others, what, extended_key_usage)
        if path is None:
            return
        certs = list(path.iter_certs(include_root=True))
        report.chain = [
            CertSummary.of(x509.load_der_x509_certificate(c.dump())) for c in reversed(certs)
        ]
        root = certs[0]
        anchor = self._anchor_of(root)
        report.trusted = True
        report.trust_anchor = x509.load_der_x509_certificate(root.dump()).subject.rfc4514_string()
        below = [c for c in certs if self._anchor_of(c) is None]
        without = [c for c in below if not has_revocation_source(c)]
        with_source = [c for c in below if has_revocation_source(c)]
        if with_source and not await self._revocation(
            report, path, others, what, revinfo,
            fetches if fetches is not None else self.allowance(),
        ):
            return
        if not without:
            _revocation(report, "good", Message.of("revinfo.checked"))
            return
        free = anchor is not None and anchor.revocation_free
        if free or self.revocation == "soft":
            anchor_name = _name(root)
            _revocation(report, "good" if with_source else "not-required",
                        Message.of("revinfo.free-anchor", anchor=anchor_name) if free
                        else Message.of("revinfo.soft-policy"))
            return
        _revocation(report, "no-source", Message.of("revinfo.no-source"))
        check.indeterminate(CERTIFICATE_CHAIN_GENERAL_FAILURE, Message.of(
            "trust.no_revocation_source", names=", ".join(_name(c) for c in without)))

    async def _trusted_path(
        self, report: SignatureReport, signer: a_x509.Certificate,
        others: list[a_x509.Certificate], what: str, extended_key_usage: set[str] | None,
    ) -> ValidationPath | None:
        """Step 1, offline: the path to an anchor from what is at hand, validated (signatures,
        validity, usage) without revocation. None, with the reason in ``report``, if none."""
        vc = ValidationContext(
            trust_roots=[a.cert for a in self.anchors],
            other_certs=others,
            moment=datetime.now(UTC),
            allow_fetching=False,  # nothing is fetched before the trust decision
            revocation_mode="none",  # step 2's business
        )
        validator = CertificateValidator(signer, validation_context=vc)
        try:
            path: ValidationPath = await validator.async_validate_usage(  # type: ignore[no-untyped-call]
                set(), extended_key_usage=extended_key_usage
            )
        except PathBuildingError as exc:
            report.revocation = "not-checked"
            report.check.indeterminate(NO_CERTIFICATE_CHAIN_FOUND,
                                       self._why_no_path(signer, others, what, _msg(exc)))
            return None
        except ValidationError as exc:
            report.revocation = "not-checked"
            if _self_signed(signer) and self._anchor_of(signer) is None:
                # pyhanko-certvalidator calls a self-signed leaf that is no anchor an
                # invalid certificate; EN 319 102-1 §5.2.6: no chain to a trust anchor
                # could be built, so INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND.
                report.check.indeterminate(NO_CERTIFICATE_CHAIN_FOUND, Message.of(
                    "trust.self_signed", what=what, detail=_msg(exc)))
            else:
                _record_path_error(report, exc, what)
            return None
        return path

    def _why_no_path(self, signer: a_x509.Certificate, others: list[a_x509.Certificate],
                     what: str, detail: str) -> Message:
        """Where the walk up from ``signer`` stops, and what to do about it."""
        by_subject = {c.subject.dump(): c for c in others}
        cert, seen = signer, set()
        while cert.issuer.dump() in by_subject and cert.issuer != cert.subject:
            key = cert.dump()
            if key in seen:
                break
            seen.add(key)
            cert = by_subject[cert.issuer.dump()]
        issuer = _common_name(cert.issuer)
        if cert is signer and _self_signed(cert):
            return Message.of("trust.self_signed", what=what, detail=detail)
        if _self_signed(cert):
            return Message.of("trust.root_not_anchor", what=what, root=issuer, detail=detail)
        return Message.of("trust.issuer_missing", what=what, issuer=issuer, detail=detail)

    async def _revocation(
        self, report: SignatureReport, path: ValidationPath,
        others: list[a_x509.Certificate], what: str, revinfo: EmbeddedRevinfo,
        fetches: FetchAllowance,
    ) -> bool:
        """Step 2: the revocation status of the trusted ``path``, from the embedded data and,
        if allowed, downloads. False, with the reason in ``report``, unless every certificate
        that names a CRL/OCSP service is known not to be revoked."""
        check = report.check
        backend = GuardedFetcherBackend(fetches) if fetches.policy.enabled else None
        vc = ValidationContext(
            trust_roots=[a.cert for a in self.anchors],
            other_certs=others,
            moment=datetime.now(UTC),
            allow_fetching=backend is not None,
            revocation_mode="hard-fail",
            fetcher_backend=backend,
            crls=list(revinfo.crls),
            ocsps=list(revinfo.ocsps),
        )
        mark = len(fetches.reasons)
        try:
            async with asyncio.timeout(max(fetches.remaining_s(), 0.0) + _REVOCATION_GRACE_S):
                await async_validate_path(vc, path)
        except RevokedError as exc:
            why = Message.of("trust.revoked", what=what, detail=_msg(exc))
            _revocation(report, "revoked", why)
            check.fail(REVOKED, why)
            return False
        except (InsufficientRevinfoError, TimeoutError) as exc:
            if isinstance(exc, TimeoutError):
                fetches.note(fetches.budget_reason())
            why = _unavailable(what, fetches, mark, exc)
            _revocation(report, "unavailable", why)
            check.indeterminate(TRY_LATER, why)
            return False
        except ValidationError as exc:
            _record_path_error(report, exc, what)
            return False
        finally:
            if backend is not None:
                try:
                    await backend.close()
                except Exception:  # closing a half-opened session is harmless
                    log.debug("closing the fetcher session failed", exc_info=True)
        return True


def _revocation(report: SignatureReport, status: str, why: Message) -> None:
    report.revocation = status
    report.revocation_message = why
    report.revocation_detail = legacy(why)


def _self_signed(cert: a_x509.Certificate) -> bool:
    return bool(cert.self_signed != "no" or cert.issuer == cert.subject)


def _common_name(name: a_x509.Name) -> str:
    """A name's CN (else its O, else the whole name), as people read it."""
    native = name.native
    for key in ("common_name", "organization_name"):
        value = native.get(key)
        if value:
            return ", ".join(value) if isinstance(value, list) else str(value)
    return str(name.human_friendly)


def _name(cert: a_x509.Certificate) -> str:
    """A certificate's CN (else its O, else its whole subject), as people read it."""
    return _common_name(cert.subject)


def _unavailable(what: str, fetches: FetchAllowance, mark: int, exc: Exception) -> Message:
    """Why the revocation status of ``what`` is unknown, for the person who can fix it."""
    if not fetches.policy.enabled:
        return Message.of("trust.revocation_fetch_off", what=what)
    reasons = fetches.reasons_since(mark)
    if reasons:
        return Message.of("trust.revocation_unobtained", what=what, causes=tuple(reasons))
    return Message.of("trust.revocation_service_failed", what=what, detail=_msg(exc))


def _record_path_error(report: SignatureReport, exc: Exception, what: str) -> None:
    """EN 319 102-1 sub-indication for a path validation error (other than revocation)."""
    check = report.check
    detail = _msg(exc)
    if isinstance(exc, ExpiredError):
        check.indeterminate(OUT_OF_BOUNDS_NO_POE,
                            Message.of("trust.expired", what=what, detail=detail))
    elif isinstance(exc, NotYetValidError):
        check.indeterminate(NOT_YET_VALID,
                            Message.of("trust.not_yet_valid", what=what, detail=detail))
    elif isinstance(exc, DisallowedAlgorithmError):
        check.indeterminate(CRYPTO_CONSTRAINTS_FAILURE,
                            Message.of("trust.weak_path", detail=detail))
    elif isinstance(exc, InvalidCertificateError):
        check.indeterminate(SIG_CONSTRAINTS_FAILURE,
                            Message.of("trust.cert_not_usable", what=what, detail=detail))
    else:
        check.indeterminate(CERTIFICATE_CHAIN_GENERAL_FAILURE,
                            Message.of("trust.path_invalid", what=what, detail=detail))


def _msg(exc: Exception) -> str:
    text = getattr(exc, "failure_msg", None) or str(exc) or type(exc).__name__
    return str(text)


def revinfo_of_signed_data(signed_data: Any) -> EmbeddedRevinfo:
    """The CRLs and OCSP responses in a CMS SignedData's ``crls`` field (RFC 5652 §10.2.1,
    OCSP as ``id-ri-ocsp-response`` per RFC 5940)."""
    crls: list[a_crl.CertificateList] = []
    ocsps: list[a_ocsp.OCSPResponse] = []
    try:
        choices = signed_data["crls"]
        for choice in choices if isinstance(choices, a_cms.RevocationInfoChoices) else ():
            if choice.name == "crl":
                crls.append(choice.chosen)
            elif (choice.name == "other"
                  and choice.chosen["other_rev_info_format"].native == "ocsp_response"):
                ocsps.append(choice.chosen["other_rev_info"])
    except Exception:  # malformed revocation data is no revocation data
        log.debug("unreadable revocation data in SignedData", exc_info=True)
    return EmbeddedRevinfo(tuple(crls), tuple(ocsps))
