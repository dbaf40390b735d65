"""The development CA reads a leader's CSR in PEM or DER, whatever its last byte is."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from registry.devca import _load_csr

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


def test_a_der_csr_ending_in_a_whitespace_byte_is_read_whole() -> None:
    """A DER CSR's last byte is part of its signature; 6 of 256 values are ASCII white
    space, which stripping the input as if it were PEM used to cut off."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Nguyễn Văn A")])
    for _ in range(2000):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(
            key, hashes.SHA256())
        der = csr.public_bytes(serialization.Encoding.DER)
        if der[-1:].isspace():
            break
    else:  # pragma: no cover - (250/256)^2000 < 1e-20
        raise AssertionError("no CSR ending in white space")
    assert _load_csr(der).public_bytes(serialization.Encoding.DER) == der
    pem = csr.public_bytes(serialization.Encoding.PEM)
    assert _load_csr(b"\n" + pem + b"\n\n").subject == name
