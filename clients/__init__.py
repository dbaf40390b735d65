"""The thin kyso client: hash locally, send digests, receive signatures.

Depends on grpcio, protobuf, cryptography, asn1crypto and kyso's shared core
(``signer.errors``, ``signer.formats`` …; no PKCS#11, no SQL): a document system
installs it alone. ``__all__`` is the public surface and is pinned by
``tests/clients/test_client_isolation.py``.
"""

from __future__ import annotations

from clients.client import (
    DEFAULT_ENDPOINT,
    HASHES,
    Aborted,
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    KysoClient,
    KysoClientError,
    Limits,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    SignedDigest,
    Status,
    Unauthenticated,
    Unavailable,
    hash_file,
    write_output,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "HASHES",
    "Aborted",
    "AlreadyExists",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "KysoClient",
    "KysoClientError",
    "Limits",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "SignedDigest",
    "Status",
    "Unauthenticated",
    "Unavailable",
    "hash_file",
    "write_output",
]
