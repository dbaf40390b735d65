"""The narrow key interface of kyso. Nothing here imports ``pkcs11``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from signer.digest import Digest
from signer.errors import InvalidRequest


class KeyAlgorithm(enum.Enum):
    """Key types kyso generates in the HSM. Documents are signed with RSA >= 2048 or
    ECDSA >= 256 (Circular 15/2025); Ed25519 is only the audit checkpoint key's type
    (pure EdDSA signs a whole message, never a digest: see ``registry.audit``)."""

    RSA2048 = "rsa-2048"
    RSA3072 = "rsa-3072"
    RSA4096 = "rsa-4096"
    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    ED25519 = "ed25519"

    @property
    def is_rsa(self) -> bool:
        return self.value.startswith("rsa-")

    @property
    def signs_digests(self) -> bool:
        """Whether keys of this type sign digests (documents, certificates, tokens)."""
        return self is not KeyAlgorithm.ED25519

    @property
    def default_scheme(self) -> Scheme:
        # Government CA practice is RSA PKCS#1 v1.5 (docs/domain.md); PSS is configurable per key.
        if self is KeyAlgorithm.ED25519:
            return Scheme.EDDSA
        return Scheme.PKCS1V15 if self.is_rsa else Scheme.ECDSA

    @classmethod
    def parse(cls, name: str) -> KeyAlgorithm:
        norm = name.strip().lower().replace("_", "-")
        aliases = {"p256": "ec-p256", "p-256": "ec-p256", "ec-p-256": "ec-p256",
                   "p384": "ec-p384", "p-384": "ec-p384", "ec-p-384": "ec-p384",
                   "rsa2048": "rsa-2048", "rsa3072": "rsa-3072", "rsa4096": "rsa-4096"}
        norm = aliases.get(norm, norm)
        for alg in cls:
            if alg.value == norm:
                return alg
        raise InvalidRequest(
            f"unsupported key algorithm {name!r}: use one of " + ", ".join(a.value for a in cls)
        )


class Scheme(enum.Enum):
    """Signature schemes over a digest."""

    PKCS1V15 = "pkcs1v15"  # RSASSA-PKCS1-v1_5 over a DER DigestInfo (CKM_RSA_PKCS)
    PSS = "pss"  # RSASSA-PSS, MGF1 with the same hash, salt = hash length (CKM_RSA_PKCS_PSS)
    ECDSA = "ecdsa"  # CKM_ECDSA over the digest, r||s re-encoded as DER ECDSA-Sig-Value
    EDDSA = "eddsa"  # CKM_EDDSA over a whole message (Ed25519, RFC 8032): never a digest

    @classmethod
    def parse(cls, name: str) -> Scheme:
        norm = name.strip().lower().replace("-", "").replace("_", "")
        for s in cls:
            if s.value == norm:
                return s
        raise InvalidRequest(
            f"unsupported signature scheme {name!r}: use one of " + ", ".join(s.value for s in cls)
        )

    def fits(self, algorithm: KeyAlgorithm) -> bool:
        if algorithm is KeyAlgorithm.ED25519 or self is Scheme.EDDSA:
            return algorithm is KeyAlgorithm.ED25519 and self is Scheme.EDDSA
        return (self is Scheme.ECDSA) != algorithm.is_rsa


class KeyUse(enum.Enum):
    """What a key in the token is for, as the token itself says (its ``CKA_LABEL``).

    The database maps agencies to key ids, and someone who can write the database could
    map an agency to the CA, TSA or audit key; the key store therefore checks the
    token's own label before every use. Keys kyso makes for its own use carry a label
    starting ``kyso-`` (never given to an agency key); an agency key may never carry one.
    """

    SEAL = "seal"  # an agency's organization key: any label but the reserved ones
    CA = "ca"  # the development CA: "kyso-dev-ca"
    TSA = "tsa"  # the time-stamp authority: "kyso-dev-tsa", "kyso-tsa", "kyso-tsa-2" …
    AUDIT = "audit"  # audit checkpoints: "kyso-audit", "kyso-audit-2" …

    def allows(self, label: str) -> bool:
        """Whether a key labelled ``label`` in the token may be used for this."""
        if self is KeyUse.SEAL:
            return not label.startswith(RESERVED_LABEL_PREFIX)
        return any(label == base or label.startswith(base + "-") for base in _LABELS[self])

    @property
    def label(self) -> str:
        """The label kyso gives a new key of this use (SEAL keys are named per agency)."""
        return _LABELS[self][-1] if self is not KeyUse.SEAL else "seal"


RESERVED_LABEL_PREFIX = "kyso-"
_LABELS: dict[KeyUse, tuple[str, ...]] = {
    KeyUse.SEAL: (),
    KeyUse.CA: ("kyso-dev-ca",),
    KeyUse.TSA: ("kyso-dev-tsa", "kyso-tsa"),
    KeyUse.AUDIT: ("kyso-audit",),
}


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What kyso knows about a key in the token (never its private bytes)."""

    key_id: bytes  # CKA_ID
    label: str  # CKA_LABEL
    algorithm: KeyAlgorithm
    public_key_der: bytes  # DER SubjectPublicKeyInfo


class SigningKey(Protocol):
    """One private key that signs digests. Implemented by the PKCS#11 key store."""

    @property
    def key_id(self) -> bytes: ...

    @property
    def algorithm(self) -> KeyAlgorithm: ...

    def sign_digest(self, digest: Digest, scheme: Scheme) -> bytes:
        """Sign ``digest``; RSA returns the raw signature, ECDSA a DER ECDSA-Sig-Value."""
        ...
