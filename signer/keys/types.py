"""The narrow key interface of kyso. Nothing here imports ``pkcs11``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from signer.digest import Digest
from signer.errors import InvalidRequest


class KeyAlgorithm(enum.Enum):
    """Key types kyso generates in the HSM (Circular 15/2025: RSA >= 2048, ECDSA >= 256)."""

    RSA2048 = "rsa-2048"
    RSA3072 = "rsa-3072"
    RSA4096 = "rsa-4096"
    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"

    @property
    def is_rsa(self) -> bool:
        return self.value.startswith("rsa-")

    @property
    def default_scheme(self) -> Scheme:
        # Government CA practice is RSA PKCS#1 v1.5 (DOMAIN.md); PSS is configurable per key.
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
        return (self is Scheme.ECDSA) != algorithm.is_rsa


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
