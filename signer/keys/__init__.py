"""Keys: the narrow signing interface and its PKCS#11 backend.

``signer.keys.types`` holds the interface and imports nothing from ``pkcs11``;
``signer.keys.store`` is the only module of kyso that does.
"""

from signer.digest import Digest, HashAlg
from signer.keys.store import HsmConfig, Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, KeyInfo, Scheme, SigningKey

__all__ = [
    "Digest",
    "HashAlg",
    "HsmConfig",
    "KeyAlgorithm",
    "KeyInfo",
    "Pkcs11KeyStore",
    "Scheme",
    "SigningKey",
]
