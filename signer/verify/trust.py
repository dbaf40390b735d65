"""Trust: a path from the signer certificate to a configured anchor, and revocation.

Path building, validity and revocation are pyhanko-certvalidator's
(RFC 5280 path validation); this module decides the policy and maps its errors
to EN 319 102-1 sub-indications, once.

Revocation policy (documented in the README):

* A certificate that names a CRL distribution point or an OCSP responder is
  checked against it (``hard-fail``). If none of those answers, the signature is
  INDETERMINATE/TRY_LATER — never PASSED.
* A certificate that names no revocation source at all is accepted only under a
  *revocation-free* anchor: the development CA (it publishes no CRL/OCSP) and
  ``[verify] revocation_free_anchor_files``. Under any other anchor (e.g. the
  Government CA, which publishes both) it is INDETERMINATE/
  CERTIFICATE_CHAIN_GENERAL_FAILURE, unless ``[verify] revocation = "soft"``.
* Weak hashes in certificate signatures (MD5, SHA-1) give
  INDETERMINATE/CRYPTO_CONSTRAINTS_FAILURE.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
    PathValidationError,
    RevokedError,
    ValidationError,
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


class TrustStore:
    """The anchors a verifier trusts and how it treats revocation. Immutable; one per node."""

    def __init__(
        self, anchors: Sequence[Anchor], *, revocation: str = "require",
        fetch_timeout_s: float = 10.0,
    ) -> None:
        self.anchors = tuple(anchors)
        self.revocation = revocation
        self.fetch_timeout_s = fetch_timeout_s

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
        what: str = "the signer certificate",
        extended_key_usage: set[str] | None = None,
    ) -> None:
        """Walk ``signer`` to an anchor now, checking revocation; record the outcome in
        ``report`` (trusted, chain, revocation, and the check's indication)."""
        check = report.check
        if not self.anchors:
            report.revocation = "not-checked"
            check.indeterminate(NO_CERTIFICATE_CHAIN_FOUND,
                                "no trust anchor is configured on this server")
            return
        from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

        backend = AIOHttpFetcherBackend(per_request_timeout=self.fetch_timeout_s)
        vc = ValidationContext(
            trust_roots=[a.cert for a in self.anchors],
            other_certs=list(others),
            moment=datetime.now(UTC),
            allow_fetching=True,
            revocation_mode="hard-fail",
            fetcher_backend=backend,
        )
        validator = CertificateValidator(signer, validation_context=vc)
        try:
            path = await validator.async_validate_usage(  # type: ignore[no-untyped-call]
                set(), extended_key_usage=extended_key_usage
            )
        except PathBuildingError as exc:
            report.revocation = "not-checked"
            check.indeterminate(
                NO_CERTIFICATE_CHAIN_FOUND,
                f"{what} does not chain to a trusted anchor ({_msg(exc)})",
            )
            return
        except RevokedError as exc:
            report.revocation = "revoked"
            report.revocation_detail = _msg(exc)
            check.fail(REVOKED, f"{what} is revoked: {_msg(exc)}")
            return
        except InsufficientRevinfoError as exc:
            report.revocation = "unavailable"
            report.revocation_detail = _msg(exc)
            check.indeterminate(
                TRY_LATER,
                f"the revocation status of {what} could not be obtained from its CRL/OCSP "
                f"service: {_msg(exc)}",
            )
            return
        except ExpiredError as exc:
            report.revocation = "not-checked"
            check.indeterminate(OUT_OF_BOUNDS_NO_POE, f"{what} has expired: {_msg(exc)}")
            return
        except NotYetValidError as exc:
            report.revocation = "not-checked"
            check.indeterminate(NOT_YET_VALID, f"{what} is not yet valid: {_msg(exc)}")
            return
        except DisallowedAlgorithmError as exc:
            report.revocation = "not-checked"
            check.indeterminate(
                CRYPTO_CONSTRAINTS_FAILURE, f"the certificate path uses a weak algorithm: "
                f"{_msg(exc)}")
            return
        except InvalidCertificateError as exc:
            report.revocation = "not-checked"
            check.indeterminate(SIG_CONSTRAINTS_FAILURE, f"{what} is not usable: {_msg(exc)}")
            return
        except (PathValidationError, ValidationError) as exc:
            report.revocation = "not-checked"
            check.indeterminate(CERTIFICATE_CHAIN_GENERAL_FAILURE,
                                f"the certificate path of {what} is invalid: {_msg(exc)}")
            return
        finally:
            try:
                await backend.close()  # type: ignore[no-untyped-call]
            except Exception:  # closing a never-opened session is harmless
                log.debug("closing the fetcher session failed", exc_info=True)

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
        if not without:
            report.revocation = "good"
            report.revocation_detail = "checked by CRL/OCSP: not revoked"
            return
        free = anchor is not None and anchor.revocation_free
        if free or self.revocation == "soft":
            report.revocation = "good" if with_source else "not-required"
            why = (
                f"issued under {anchor.label if anchor else 'a trusted anchor'}, which "
                "publishes no CRL/OCSP (revocation-free anchor)"
                if free else "the policy accepts certificates without a revocation source"
            )
            report.revocation_detail = why
            return
        report.revocation = "no-source"
        report.revocation_detail = "a certificate in the path names no CRL or OCSP service"
        check.indeterminate(
            CERTIFICATE_CHAIN_GENERAL_FAILURE,
            "the revocation status cannot be checked: "
            + ", ".join(repr(c.subject.human_friendly) for c in without)
            + " names no CRL or OCSP service",
        )


def _msg(exc: Exception) -> str:
    text = getattr(exc, "failure_msg", None) or str(exc) or type(exc).__name__
    return str(text)
