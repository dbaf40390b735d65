"""Registry administration in domain terms: agencies, keys in the HSM, dev
certificates. Shared by the registry servicer and the demo bootstrap."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from registry.agencies.codes import parse_code
from registry.agencies.lifecycle import AgencyRegistry
from registry.audit import AuditLog, current_actor
from registry.db.store import Agency, KeyRecord, RegistryStore
from registry.devca import DevCa
from registry.keys import KeyLifecycle, KeyPolicy, refuse_closed
from signer.errors import InvalidRequest, NotFound, NotUsable
from signer.keys.store import Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, Scheme

log = logging.getLogger(__name__)

DEMO_AGENCY_CODE = "000.00.00.H13"
DEMO_AGENCY_NAME = "Ủy ban nhân dân thành phố Cần Thơ"


class RegistryAdmin:
    def __init__(
        self,
        keystore: Pkcs11KeyStore,
        registry: RegistryStore,
        devca: DevCa | None,
        *,
        policy: KeyPolicy | None = None,
    ) -> None:
        self.keystore = keystore
        self.registry = registry
        self.devca = devca
        self.policy = policy or KeyPolicy()
        self.audit: AuditLog | None = None  # set by the server; None: no audit records

    def _action(self, action: str, target: str, details: dict[str, Any]
                ) -> AbstractContextManager[Any]:
        """The change and its audit record commit together (``registry.audit.actions``)."""
        if self.audit is None:
            return nullcontext()
        return self.audit.action(current_actor.get(), action, target, details)

    def create_agency(self, code: str, name: str) -> Agency:
        parsed = parse_code(code)
        with self._action("agency.create", parsed.code, {"name": name}):
            # The lifecycle (name checks, status, validity, "create" event, closed codes
            # never reused, a registered and active parent) is AgencyRegistry's: the same
            # rules as a list import, so that every export imports again.
            a = AgencyRegistry(self.registry.engine).create(parsed, name)
            agency = Agency(a.code, a.name, a.format, a.level, a.parent_code, ())
        log.info("created agency %s", agency.code)
        return agency

    def generate_key(
        self,
        agency_code: str,
        algorithm: KeyAlgorithm = KeyAlgorithm.RSA2048,
        scheme: Scheme | None = None,
    ) -> KeyRecord:
        """A PENDING key in the HSM, refused (InvalidRequest) outside the key policy."""
        lifecycle = KeyLifecycle(self.keystore, self.registry, self.policy, devca=self.devca)
        code = parse_code(agency_code).code
        with self._action("key.generate", code, {
                "agency": code, "algorithm": algorithm.value,
                "scheme": (scheme or algorithm.default_scheme).value}):
            return lifecycle.generate_key(agency_code, algorithm, scheme)  # notes the key id

    def issue_dev_certificate(
        self, agency_code: str, key_id: bytes | None = None, validity_days: int = 365
    ) -> KeyRecord:
        if self.devca is None:
            raise NotUsable(
                "the development CA is disabled on this server: import a certificate "
                "issued by your CA instead"
            )
        agency = self.registry.get_agency(agency_code)
        refuse_closed(self.registry, agency.code)
        key = self.registry.get_key(key_id) if key_id else self.registry.newest_key(agency.code)
        if key.agency_code != agency.code:
            raise InvalidRequest(f"key {key.key_id.hex()} does not belong to agency {agency.code}")
        with self._action("certificate.issue", key.key_id.hex(), {
                "agency": agency.code, "validity_days": validity_days}):
            return self.devca.issue_seal(agency, key, validity_days)  # notes the serial

    def ensure_demo(self) -> KeyRecord:
        """The quick-start demo: agency 000.00.00.H13 (Cần Thơ) with an active key."""
        try:
            agency = self.registry.get_agency(DEMO_AGENCY_CODE)
        except NotFound:
            agency = self.create_agency(DEMO_AGENCY_CODE, DEMO_AGENCY_NAME)
        try:
            return self.registry.signing_key(agency.code)
        except NotUsable:
            self.generate_key(agency.code, KeyAlgorithm.RSA2048)
            return self.issue_dev_certificate(agency.code)
