"""The development CA: a CA whose key lives in the HSM and which issues
organization certificates, so that the embedded default works with no external
CA. Production deployments import certificates from the Government CA instead
(issue 4); ``devca.enabled = false`` turns this off.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from cryptography import x509

from registry.audit.actions import note
from registry.store import Agency, KeyPurpose, KeyRecord, KeyState, RegistryStore
from signer.digest import HashAlg
from signer.errors import NotUsable
from signer.formats.x509 import issue_certificate
from signer.keys.store import Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, KeyUse, Scheme

log = logging.getLogger(__name__)

CA_ALGORITHM = KeyAlgorithm.RSA3072  # like the Government CA's G2 keys (DOMAIN.md)
CA_SCHEME = Scheme.PKCS1V15
CA_HASH = HashAlg.SHA256


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
        ca = self.ensure()
        assert ca.certificate is not None
        now = datetime.now(UTC)
        der = issue_certificate(
            subject={"common_name": "kyso Development TSA", "organization_name": "kyso",
                     "country_name": "VN"},
            subject_public_key_der=key.public_key_der,
            issuer=ca.certificate.der,
            issuer_key=self._keystore.key(ca.key_id, use=KeyUse.CA),
            issuer_public_key_der=ca.public_key_der,
            scheme=ca.scheme,
            hash_alg=CA_HASH,
            not_before=now - timedelta(minutes=5),
            not_after=min(now + timedelta(days=3 * 365), ca.certificate.not_after),
            profile="tsa",
        )
        log.info("certified the development TSA key %s", key.key_id.hex())
        return self._registry.attach_certificate(key.key_id, der, (ca.certificate.der,))

    def issue_seal(self, agency: Agency, key: KeyRecord, validity_days: int = 365) -> KeyRecord:
        """Issue an organization (seal) certificate for ``key`` and activate it."""
        if key.state is KeyState.COMPROMISED or key.state is KeyState.RETIRED:
            raise NotUsable(
                f"key {key.key_id.hex()} is {key.state.value}: generate a new key instead"
            )
        ca = self.ensure()
        assert ca.certificate is not None
        now = datetime.now(UTC)
        not_after = min(now + timedelta(days=validity_days), ca.certificate.not_after)
        subject = {"common_name": agency.name, "organization_name": agency.name,
                   "organizational_unit_name": agency.code, "country_name": "VN"}
        der = issue_certificate(
            subject=subject,
            subject_public_key_der=key.public_key_der,
            issuer=ca.certificate.der,
            issuer_key=self._keystore.key(ca.key_id, use=KeyUse.CA),
            issuer_public_key_der=ca.public_key_der,
            scheme=ca.scheme,
            hash_alg=CA_HASH,
            not_before=now - timedelta(minutes=5),
            not_after=not_after,
            profile="seal",
        )
        issued = x509.load_der_x509_certificate(der)
        note(serial=format(issued.serial_number, "x"),
             not_after=issued.not_valid_after_utc.isoformat())
        return self._registry.attach_certificate(key.key_id, der, (ca.certificate.der,))
