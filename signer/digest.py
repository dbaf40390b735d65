"""Hash algorithms and the ``Digest`` value object ("digest in" is a type, not a flag).

A ``Digest`` is validated once, at construction: its length must match its
algorithm. Everything after that may trust it.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from signer.errors import InvalidRequest


class HashAlg(enum.Enum):
    """Hash algorithms kyso signs with (Circular 15/2025: SHA-256 or stronger)."""

    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    @property
    def digest_size(self) -> int:
        return _SIZES[self]

    @property
    def oid(self) -> str:
        return _OIDS[self]

    def new(self) -> hashlib._Hash:
        return hashlib.new(self.value)

    @classmethod
    def parse(cls, name: str) -> HashAlg:
        norm = name.strip().lower().replace("-", "").replace("_", "")
        for alg in cls:
            if alg.value == norm:
                return alg
        raise InvalidRequest(
            f"unsupported hash algorithm {name!r}: use one of "
            + ", ".join(a.value for a in cls)
        )


_SIZES = {HashAlg.SHA256: 32, HashAlg.SHA384: 48, HashAlg.SHA512: 64}
_OIDS = {
    HashAlg.SHA256: "2.16.840.1.101.3.4.2.1",
    HashAlg.SHA384: "2.16.840.1.101.3.4.2.2",
    HashAlg.SHA512: "2.16.840.1.101.3.4.2.3",
}


@dataclass(frozen=True, slots=True)
class Digest:
    """A message digest computed by the caller, with its algorithm."""

    alg: HashAlg
    value: bytes

    def __post_init__(self) -> None:
        if len(self.value) != self.alg.digest_size:
            raise InvalidRequest(
                f"a {self.alg.value.upper()} digest is {self.alg.digest_size} bytes, "
                f"got {len(self.value)}: send the raw hash value, not hex or base64, "
                "or name the algorithm that produced it"
            )

    @classmethod
    def of(cls, alg: HashAlg, data: bytes) -> Digest:
        return cls(alg, hashlib.new(alg.value, data).digest())
