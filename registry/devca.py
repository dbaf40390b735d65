"""The development CA: a CA whose key lives in the HSM and which issues
organization certificates, so that the embedded default works with no external
CA. Production deployments import certificates from the Government CA instead;
``devca.enabled = false`` turns this off.

It also issues a *person's* certificate from a CSR (``issue_person``), so that the
demo can show Decree 30/2020's leader-then-seal flow end to end: the leader makes a
key and a CSR with their own tools, the development CA certifies it, the leader
signs the PDF, the clerk seals it. In production the leader's certificate comes
from the Government CA and this CA is off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.audit.actions import note
from registry.db.store import Agency, KeyPurpose, KeyRecord, KeyState, RegistryStore
from registry.subjects import seal_subject
from signer.digest import HashAlg
from signer.errors import InvalidRequest, NotUsable
from signer.formats.x509 import issue_certificate
from signer.keys.store import Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, KeyUse, Scheme

log = logging.getLogger(__name__)

CA_ALGORITHM = KeyAlgorithm.RSA3072  # like the Government CA's G2 keys (docs/domain.md)
CA_SCHEME = Scheme.PKCS1V15
CA_HASH = HashAlg.SHA256
MAX_CSR_BYTES = 64 * 1024
MAX_PERSON_DAYS = 3 * 365


@dataclass(frozen=True, slots=True)
class PersonCertificate:
    """A person's certificate issued by the development CA, and its chain (the CA)."""

    der: bytes
    chain: tuple[bytes, ...]
    subject: str  # RFC 4514
    serial_hex: str
    not_after: datetime


class DevCa:
    def __init__(
        self,
        keystore: Pkcs11KeyStore,
        registry: RegistryStore,
        *,
        common_name: str,
        validity_days: int,
    ) -> None:
        self._keystore = keystore
        self._registry = registry
        self._cn = common_name
        self._validity = timedelta(days=validity_days)

    def ensure(self) -> KeyRecord:
        """Create the CA key and self-signed certificate on first use; idempotent."""
        ca = self._registry.active_key(KeyPurpose.DEV_CA)
        if ca is not None:
            return ca
        info = self._keystore.generate_key(CA_ALGORITHM, label="kyso-dev-ca")
        self._registry.add_key(info, scheme=CA_SCHEME, purpose=KeyPurpose.DEV_CA)
        now = datetime.now(UTC)
        subject = {"common_name": self._cn, "organization_name": "kyso", "country_name": "VN"}
        der = issue_certificate(
            subject=subject,
            subject_public_key_der=info.public_key_der,
            issuer=None,
            issuer_key=self._keystore.key(info.key_id, use=KeyUse.CA),
            issuer_public_key_der=info.public_key_der,
            scheme=CA_SCHEME,
            hash_alg=CA_HASH,
            not_before=now - timedelta(minutes=5),
            not_after=now + self._validity,
            profile="ca",
        )
        log.info("created the development CA (key %s)", info.key_id.hex())
        return self._registry.attach_certificate(info.key_id, der)

    def certificate(self) -> bytes:
        ca = self._registry.active_key(KeyPurpose.DEV_CA)
        if ca is None or ca.certificate is None:
            raise NotUsable("the development CA is not set up: start the server with devca enabled")
        return ca.certificate.der

    def ensure_tsa(self, algorithm: KeyAlgorithm = KeyAlgorithm.RSA2048) -> KeyRecord:
        """A TSA key and certificate (critical EKU timeStamping only), created on first use."""
        tsa = self._registry.active_key(KeyPurpose.TSA)
        if tsa is not None:
            return tsa
        info = self._keystore.generate_key(algorithm, label=KeyUse.TSA.label)
        key = self._registry.add_key(info, scheme=algorithm.default_scheme,
                                     purpose=KeyPurpose.TSA)
        return self.issue_tsa(key)

    def issue_tsa(self, key: KeyRecord) -> KeyRecord:
        """Certify a TSA key (critical extendedKeyUsage timeStamping only, RFC 3161 §2.3) and
        make it the active TSA key (the previous one retires in the same transaction)."""
        der, ca_der = self._issue(
            {"common_name": "kyso Development TSA", "organization_name": "kyso",
             "country_name": "VN"}, key.public_key_der, 3 * 365, "tsa")
        log.info("certified the development TSA key %s", key.key_id.hex())
        return self._registry.attach_certificate(key.key_id, der, (ca_der,))

    def _issue(self, subject: dict[str, str] | a_x509.Name, public_key_der: bytes,
               validity_days: int, profile: Literal["seal", "person", "tsa"]
               ) -> tuple[bytes, bytes]:
        """A certificate signed in the HSM by this CA (valid from five minutes ago, never
        beyond the CA's own certificate), and the CA's certificate."""
        ca = self.ensure()
        assert ca.certificate is not None
        now = datetime.now(UTC)
        der = issue_certificate(
            subject=subject,
            subject_public_key_der=public_key_der,
            issuer=ca.certificate.der,
            issuer_key=self._keystore.key(ca.key_id, use=KeyUse.CA),
            issuer_public_key_der=ca.public_key_der,
            scheme=ca.scheme,
            hash_alg=CA_HASH,
            not_before=now - timedelta(minutes=5),
            not_after=min(now + timedelta(days=validity_days), ca.certificate.not_after),
            profile=profile,
        )
        return der, ca.certificate.der

    def issue_seal(self, agency: Agency, key: KeyRecord, validity_days: int = 365) -> KeyRecord:
        """Issue an organization (seal) certificate for ``key`` and activate it."""
        if key.state is KeyState.COMPROMISED or key.state is KeyState.RETIRED:
            raise NotUsable(
                f"key {key.key_id.hex()} is {key.state.value}: generate a new key instead"
            )
        # The subject a Government CA certificate would carry (as `kyso admin cert csr`
        # asks for it): the registry, not the certificate, maps it to the agency code.
        subject = seal_subject(self._registry, agency.code)
        der, ca_der = self._issue(subject, key.public_key_der, validity_days, "seal")
        issued = x509.load_der_x509_certificate(der)
        note(serial=format(issued.serial_number, "x"),
             not_after=issued.not_valid_after_utc.isoformat())
        return self._registry.attach_certificate(key.key_id, der, (ca_der,))

    def issue_person(self, csr: bytes, validity_days: int = 365) -> PersonCertificate:
        """A person's signing certificate for the key and subject of ``csr`` (PKCS#10,
        PEM or DER): a leaf (CA:FALSE) with keyUsage digitalSignature and nonRepudiation
        (the ``person`` profile), issued by this CA.

        Refused (InvalidRequest): a CSR that does not parse, whose own signature does not
        verify (it proves the requester holds the private key, RFC 2986 §3), that asks
        for a CA (basicConstraints CA:TRUE, keyUsage keyCertSign or cRLSign), whose
        subject is empty, has no CN or holds control characters, or whose key is outside
        Circular 15/2025 (RSA >= 2048, ECDSA >= 256), or that is one of kyso's own
        HSM keys. Nothing is stored: the certificate
        and its serial go to the audit record of the request."""
        from registry.agencies.names import control_character_problem

        if not 1 <= validity_days <= MAX_PERSON_DAYS:
            raise InvalidRequest(f"validity_days must be between 1 and {MAX_PERSON_DAYS}")
        request = _load_csr(csr)
        if not request.is_signature_valid:
            raise InvalidRequest(
                "the CSR's signature does not verify with its own public key: it was "
                "altered after it was made (make it again with `openssl req -new`)")
        _refuse_ca_request(request)
        subject_der = request.subject.public_bytes()
        if not request.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
            raise InvalidRequest("the CSR's subject has no CN: put the person's full name "
                                 "in CN (e.g. -subj '/C=VN/CN=Nguyễn Văn An')")
        for attr in request.subject:
            value = attr.value if isinstance(attr.value, str) else ""
            problem = control_character_problem(value)
            if problem:
                raise InvalidRequest(f"the CSR's subject attribute {attr.rfc4514_string()!r} "
                                     f"{problem}")
        spki = request.public_key().public_bytes(Encoding.DER,
                                                 PublicFormat.SubjectPublicKeyInfo)
        if self._registry.has_public_key(spki):
            raise InvalidRequest(
                "the CSR's key is one of kyso's own HSM keys (an agency's, the CA's or the "
                "TSA's): a person's certificate is for the person's own key")
        # the key policy (Circular 15/2025) is checked by issue_certificate
        der, ca_der = self._issue(a_x509.Name.load(subject_der), spki, validity_days, "person")
        issued = x509.load_der_x509_certificate(der)
        serial = format(issued.serial_number, "x")
        subject = issued.subject.rfc4514_string()
        note(serial=serial, subject=subject, not_after=issued.not_valid_after_utc.isoformat())
        log.info("the development CA issued person certificate %s for %s", serial, subject)
        return PersonCertificate(der, (ca_der,), subject, serial,
                                 issued.not_valid_after_utc)


def _load_csr(data: bytes) -> x509.CertificateSigningRequest:
    pem = data.lstrip().startswith(b"-----BEGIN")
    blob = data.strip() if pem else data  # DER may end in a byte that looks like a space
    if not blob.strip():
        raise InvalidRequest("the CSR is empty")
    if len(blob) > MAX_CSR_BYTES:
        raise InvalidRequest(f"the CSR is {len(blob):,} bytes; a PKCS#10 request is a few "
                             f"kilobytes (limit {MAX_CSR_BYTES:,})")
    try:
        if pem:
            return x509.load_pem_x509_csr(blob)
        return x509.load_der_x509_csr(blob)
    except ValueError as exc:
        raise InvalidRequest(f"not a PKCS#10 certificate request (PEM or DER): {exc}") from None


def _refuse_ca_request(request: x509.CertificateSigningRequest) -> None:
    """A person's certificate is never a CA, whatever the request asks for."""
    try:
        extensions = request.extensions
    except (ValueError, x509.DuplicateExtension) as exc:
        raise InvalidRequest(f"the CSR's requested extensions cannot be read: {exc}") from None
    for ext in extensions:
        value = ext.value
        if isinstance(value, x509.BasicConstraints) and value.ca:
            raise InvalidRequest(
                "the CSR asks for a CA certificate (basicConstraints CA:TRUE): the "
                "development CA issues only personal signing certificates (not a CA)")
        if isinstance(value, x509.KeyUsage) and (value.key_cert_sign or value.crl_sign):
            raise InvalidRequest(
                "the CSR asks for keyCertSign/cRLSign (a CA's key usage): a person's "
                "certificate gets digitalSignature and nonRepudiation only")
