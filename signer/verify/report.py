"""Verification results as plain data, in ETSI EN 319 102-1 terms.

An indication is PASSED, FAILED (TOTAL-FAILED) or INDETERMINATE; anything but
PASSED carries a sub-indication (``HASH_FAILURE``, ``NO_CERTIFICATE_CHAIN_FOUND``,
``TRY_LATER``, ``CRYPTO_CONSTRAINTS_FAILURE`` ...). A signature's indication is the
worst of its checks: integrity, trust path, revocation, algorithm strength.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509


class Indication(enum.IntEnum):
    """Ordered from best to worst, so ``max`` combines checks."""

    PASSED = 1
    INDETERMINATE = 2
    FAILED = 3


# EN 319 102-1 sub-indications used here.
FORMAT_FAILURE = "FORMAT_FAILURE"
HASH_FAILURE = "HASH_FAILURE"
SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
REVOKED = "REVOKED"
NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
NOT_YET_VALID = "NOT_YET_VALID"
TRY_LATER = "TRY_LATER"
SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"

# Hash algorithms Circular 15/2025 no longer accepts.
WEAK_HASHES = {"sha1": "SHA-1", "md5": "MD5", "md2": "MD2", "sha224": "SHA-224"}


@dataclass(frozen=True, slots=True)
class CertSummary:
    subject: str
    issuer: str
    serial_hex: str
    not_before: datetime
    not_after: datetime

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertSummary:
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial_hex=format(cert.serial_number, "x"),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )


@dataclass(frozen=True, slots=True)
class AgencyMatch:
    code: str
    name_on_signing_date: str
    signing_date: str  # YYYY-MM-DD
    current_name: str
    status: str
    successors: tuple[str, ...]
    successor_names: tuple[str, ...]
    matched_by: str  # certificate | public-key


@dataclass(frozen=True, slots=True)
class TimestampReport:
    time: datetime
    tsa_subject: str
    indication: Indication
    sub_indication: str = ""
    message: str = ""
    hash_algorithm: str = ""


@dataclass
class Check:
    """One signature's result being assembled: ``fail``/``indeterminate`` only worsen it."""

    indication: Indication = Indication.PASSED
    sub_indication: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def fail(self, sub: str, why: str) -> None:
        self._worsen(Indication.FAILED, sub)
        self.errors.append(why)

    def indeterminate(self, sub: str, why: str) -> None:
        self._worsen(Indication.INDETERMINATE, sub)
        self.errors.append(why)

    def warn(self, why: str) -> None:
        self.warnings.append(why)

    def _worsen(self, to: Indication, sub: str) -> None:
        if to > self.indication:
            self.indication, self.sub_indication = to, sub
        elif to == self.indication and not self.sub_indication:
            self.sub_indication = sub


@dataclass
class SignatureReport:
    index: int
    format: str
    check: Check = field(default_factory=Check)
    signer: CertSummary | None = None
    chain: list[CertSummary] = field(default_factory=list)
    intact: bool = False
    signature_valid: bool = False
    trusted: bool = False
    trust_anchor: str = ""
    revocation: str = ""
    revocation_detail: str = ""
    agency: AgencyMatch | None = None
    signing_time: datetime | None = None
    timestamp: TimestampReport | None = None
    digest_algorithm: str = ""
    signature_algorithm: str = ""
    weak_algorithms: list[str] = field(default_factory=list)
    coverage: str = ""
    coverage_detail: str = ""
    modifications: str = ""
    field_name: str = ""

    @property
    def indication(self) -> Indication:
        return self.check.indication

    def best_time(self) -> datetime | None:
        """When the signature existed at the latest: the timestamp if it is sound, else the
        signer's own claim."""
        if self.timestamp is not None and self.timestamp.indication is Indication.PASSED:
            return self.timestamp.time
        return self.signing_time


@dataclass
class VerifyReport:
    kind: str
    signatures: list[SignatureReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verified_at: datetime | None = None
    trust_anchors: list[str] = field(default_factory=list)

    @property
    def overall(self) -> Indication:
        if not self.signatures:
            return Indication.FAILED
        return max(s.indication for s in self.signatures)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["overall"] = self.overall.name
        return d
