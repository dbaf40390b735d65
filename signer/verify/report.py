"""Verification results as plain data, in ETSI EN 319 102-1 terms.

An indication is PASSED, FAILED (TOTAL-FAILED) or INDETERMINATE; anything but
PASSED carries a sub-indication (``HASH_FAILURE``, ``NO_CERTIFICATE_CHAIN_FOUND``,
``TRY_LATER``, ``CRYPTO_CONSTRAINTS_FAILURE`` ...). A signature's indication is the
worst of its checks: integrity, trust path, revocation, algorithm strength.

Problems, warnings and notes are ``signer.catalogue.Message`` values — a code and its
parameters, the library's own words apart as ``detail`` — never sentences: the client
says them in the reader's language (Circular 15/2025 asks for Vietnamese). ``legacy``
English sentences are derived from them for the wire's old string fields.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from signer.catalogue import Message, legacy
from signer.errors import InvalidRequest


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
REVOKED_NO_POE = "REVOKED_NO_POE"
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

# Problems after which the signed data was not compared with anything.
_DATA_NOT_COMPARED = frozenset({"cms.content_missing", "cms.digest_alg_mismatch",
                                "tsr.data_not_given", "tsr.alg_mismatch"})

# Hash algorithms Circular 15/2025 no longer accepts.
WEAK_HASHES = {"sha1": "SHA-1", "md5": "MD5", "md2": "MD2", "sha224": "SHA-224"}


def refusal(code: str, *, detail: str = "", **params: object) -> InvalidRequest:
    """INVALID_ARGUMENT for a document that cannot be verified at all, named by its
    catalogue ``code`` (the message is the English text, for older clients)."""
    msg = Message(code, tuple(sorted((k, str(v)) for k, v in params.items())), detail)
    return InvalidRequest(legacy(msg), code=code, params=msg.args, detail=msg.detail)


def name_part(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    """The values of ``oid`` in ``name`` (e.g. its CN), joined, or ""."""
    return ", ".join(str(a.value) for a in name.get_attributes_for_oid(oid))


@dataclass(frozen=True, slots=True)
class CertSummary:
    """A certificate as the report shows it: the names people read (CN, O) in the summary,
    the distinguished names (RFC 4514) among the technical details."""

    subject: str
    issuer: str
    serial_hex: str
    not_before: datetime
    not_after: datetime
    common_name: str = ""
    organization: str = ""
    issuer_common_name: str = ""
    issuer_organization: str = ""
    self_signed: bool = False

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertSummary:
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial_hex=format(cert.serial_number, "x"),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            common_name=name_part(cert.subject, NameOID.COMMON_NAME),
            organization=name_part(cert.subject, NameOID.ORGANIZATION_NAME),
            issuer_common_name=name_part(cert.issuer, NameOID.COMMON_NAME),
            issuer_organization=name_part(cert.issuer, NameOID.ORGANIZATION_NAME),
            self_signed=cert.issuer == cert.subject,
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
class KeyCompromise:
    """This registry marked the signer's key compromised (``kyso admin key compromise``)."""

    key_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TimestampReport:
    time: datetime
    tsa_subject: str
    indication: Indication
    sub_indication: str = ""
    messages: tuple[Message, ...] = ()
    hash_algorithm: str = ""
    tsa_common_name: str = ""
    tsa_organization: str = ""

    @property
    def message(self) -> str:
        """The English sentence of the old ``message`` field."""
        return "; ".join(legacy(m) for m in self.messages)


@dataclass
class Check:
    """One signature's result being assembled: ``fail``/``indeterminate`` only worsen it."""

    indication: Indication = Indication.PASSED
    sub_indication: str = ""
    problems: list[Message] = field(default_factory=list)
    warnings: list[Message] = field(default_factory=list)

    def fail(self, sub: str, why: Message) -> None:
        self._worsen(Indication.FAILED, sub)
        self.problems.append(why)

    def indeterminate(self, sub: str, why: Message) -> None:
        self._worsen(Indication.INDETERMINATE, sub)
        self.problems.append(why)

    def warn(self, why: Message) -> None:
        self.warnings.append(why)

    @property
    def errors(self) -> list[str]:
        """The problems as English sentences (the wire's old ``errors`` field)."""
        return [legacy(m) for m in self.problems]

    @property
    def warning_texts(self) -> list[str]:
        return [legacy(m) for m in self.warnings]

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
    changes_disallowed: bool = False  # PDF: changed after signing beyond what it allows
    revocation_message: Message | None = None
    signed_revision: int = 0  # PDF, 1-based; 0: not a PDF revision
    total_revisions: int = 0
    references: list[str] = field(default_factory=list)  # XML: each Reference's URI
    token_serial_hex: str = ""  # RFC 3161
    token_policy: str = ""
    key_compromise: KeyCompromise | None = None

    @property
    def indication(self) -> Indication:
        return self.check.indication

    @property
    def integrity(self) -> str:
        """What the integrity line says (``integrity.*`` in the catalogue), consistent with
        the indication: a PDF whose signed bytes are intact but which was changed after
        signing in a way the signature does not allow is ``disallowed-changes``, not
        ``changed``."""
        if any(m.code in _DATA_NOT_COMPARED for m in self.check.problems):
            return "not-checked"
        if self.intact and self.signature_valid:
            if self.changes_disallowed:
                return "disallowed-changes"
            if self.modifications not in ("", "none"):
                return "allowed-changes"
            return "intact"
        if self.signature_valid and not self.intact:
            return "changed"
        if not self.signature_valid and self.check.sub_indication == SIG_CRYPTO_FAILURE:
            return "signature-invalid"
        if not self.signature_valid and self.check.sub_indication == HASH_FAILURE:
            return "changed"
        return "unchecked"

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
    notes: list[Message] = field(default_factory=list)
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
