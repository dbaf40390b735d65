"""The client installs alone: importing it (and its CLI) pulls in no server-only
dependency, and its public surface is deliberate."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

# grpc_health / grpc_reflection are left out: grpcio's own __init__ imports them
# whenever they are installed, whatever the application imports.
SERVER_ONLY = ("pkcs11", "sqlalchemy", "alembic", "psycopg", "pydantic_settings",
               "registry", "tsa")
# The shared core (docs/architecture.md): what both sides need, importable by a client.
SHARED_CORE = ("signer", "signer.catalogue", "signer.errors", "signer.digest", "signer.keys",
               "signer.keys.types")
SHARED_PACKAGES = ("signer.formats",)  # and everything in them


def test_client_imports_no_server_module() -> None:
    # Every module of the client package (the CLI's commands included, however the
    # package is laid out), not only what `import clients, clients.cli` happens to load.
    code = (
        "import importlib, pkgutil, sys, clients, clients.cli\n"
        "for m in pkgutil.walk_packages(clients.__path__, 'clients.'):\n"
        "    importlib.import_module(m.name)\n"
        "assert len([m for m in sys.modules if m.startswith('clients.')]) > 5, sys.modules\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {SERVER_ONLY!r}\n"
        f"       or (m.split('.')[0] == 'signer' and m not in {SHARED_CORE!r}\n"
        f"           and not m.startswith({tuple(p + '.' for p in SHARED_PACKAGES)!r})\n"
        f"           and m not in {SHARED_PACKAGES!r})]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"client imported server-only modules: {out.stdout}"


def test_public_api_is_pinned() -> None:
    import clients

    assert sorted(clients.__all__) == [
        "Aborted", "AlreadyExists", "DEFAULT_ENDPOINT", "DeadlineExceeded",
        "FailedPrecondition", "HASHES", "Internal", "InvalidArgument", "KysoClient",
        "KysoClientError", "Limits", "NotFound",
        "PermissionDenied", "ResourceExhausted", "SignedDigest", "Status", "Unauthenticated",
        "Unavailable", "hash_file", "write_output",
    ]


def test_hash_file_streams_in_constant_memory(tmp_path) -> None:
    import hashlib

    from clients import hash_file

    f = tmp_path / "big.bin"
    block = bytes(range(256)) * 4096  # 1 MiB
    with f.open("wb") as fh:
        for _ in range(9):
            fh.write(block)
        fh.write(b"tail")
    assert hash_file(f) == hashlib.sha256(block * 9 + b"tail").digest()
    assert hash_file(f, "sha512") == hashlib.sha512(block * 9 + b"tail").digest()
