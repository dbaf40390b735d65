"""A software ``SigningKey`` for the format unit tests ONLY.

kyso's keys live in the HSM; this double lets ``signer.formats`` be tested
without a token. Integration tests against SoftHSM live elsewhere.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from signer.digest import Digest, HashAlg
from signer.keys.types import KeyAlgorithm, Scheme

_HASHES: dict[HashAlg, type[hashes.HashAlgorithm]] = {
    HashAlg.SHA256: hashes.SHA256,
    HashAlg.SHA384: hashes.SHA384,
    HashAlg.SHA512: hashes.SHA512,
}
_RSA_BITS = {KeyAlgorithm.RSA2048: 2048, KeyAlgorithm.RSA3072: 3072, KeyAlgorithm.RSA4096: 4096}
_CURVES = {KeyAlgorithm.EC_P256: ec.SECP256R1, KeyAlgorithm.EC_P384: ec.SECP384R1}


class SoftKey:
    """Implements ``signer.keys.types.SigningKey`` over a ``cryptography`` private key."""

    def __init__(
        self,
        algorithm: KeyAlgorithm,
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    ) -> None:
        self._algorithm = algorithm
        self.private_key = private_key
        self.public_key_der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._key_id = hashlib.sha1(self.public_key_der, usedforsecurity=False).digest()[:8]
        self.calls = 0

    @classmethod
    def generate(cls, algorithm: KeyAlgorithm) -> SoftKey:
        if algorithm.is_rsa:
            private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(
                65537, _RSA_BITS[algorithm]
            )
        else:
            private = ec.generate_private_key(_CURVES[algorithm]())
        return cls(algorithm, private)

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def algorithm(self) -> KeyAlgorithm:
        return self._algorithm

    def sign_digest(self, digest: Digest, scheme: Scheme) -> bytes:
        if not scheme.fits(self._algorithm):
            raise ValueError(f"{scheme} does not fit {self._algorithm}")
        self.calls += 1
        h = _HASHES[digest.alg]()
        pre = Prehashed(h)
        if isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            return self.private_key.sign(digest.value, ec.ECDSA(pre))  # DER ECDSA-Sig-Value
        if scheme is Scheme.PSS:
            pss = padding.PSS(mgf=padding.MGF1(h), salt_length=digest.alg.digest_size)
            return self.private_key.sign(digest.value, pss, pre)
        return self.private_key.sign(digest.value, padding.PKCS1v15(), pre)

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
