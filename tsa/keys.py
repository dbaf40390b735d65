"""The TSA's signing key, resolved from the registry with its state checked per request.

Like an agency's key (``signer.core``), the TSA key's builder (certificate, chain and
pre-encoded token parts) is cached for ``cache_ttl_s`` seconds, but its *state* is read
again before every token (one indexed SELECT, ~5 µs): marking the TSA key compromised or
retired stops its use at the next request of every node, and rotating to a new key
(``kyso admin tsa rotate``) takes effect within ``cache_ttl_s`` without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from registry.db.store import KeyPurpose, KeyRecord, RegistryStore, compromised_message
from signer.digest import HashAlg
from signer.errors import NotUsable
from signer.keys.store import Pkcs11KeyStore
from signer.keys.types import KeyUse
from tsa.token import TokenBuilder, TsaPolicy

log = logging.getLogger(__name__)


@dataclass
class _Current:
    key: KeyRecord
    builder: TokenBuilder
    loaded_at: float


class TsaKeys:
    """The active TSA key's :class:`TokenBuilder`, or ``NotUsable`` saying why none."""

    def __init__(self, keystore: Pkcs11KeyStore, registry: RegistryStore, policy: TsaPolicy,
                 *, cache_ttl_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._keystore = keystore
        self._registry = registry
        self._policy = policy
        self._ttl = cache_ttl_s
        self._clock = clock
        self._current: _Current | None = None
        self._lock = threading.Lock()

    def current(self) -> tuple[KeyRecord, TokenBuilder]:
        now = self._clock()
        c = self._current
        if c is not None and now - c.loaded_at < self._ttl:
            if self._registry.key_active(c.key.key_id):
                return c.key, c.builder
            self._current = None  # retired or compromised since cached: look again now
        with self._lock:
            key = self._registry.active_key(KeyPurpose.TSA)
            if key is None or key.certificate is None:
                raise NotUsable(self._why_none())
            c = self._current
            if c is not None and c.key.key_id == key.key_id:
                c.loaded_at = now
                return c.key, c.builder
            builder = self.builder_for(key)
            if c is not None:
                log.warning("the TSA signs with key %s from now on (was %s)",
                            key.key_id.hex(), c.key.key_id.hex())
            self._current = _Current(key, builder, now)
            return key, builder

    def builder_for(self, key: KeyRecord) -> TokenBuilder:
        """A builder for ``key``; NotUsable if its certificate is unfit for a TSA."""
        assert key.certificate is not None
        return TokenBuilder(
            certificate_der=key.certificate.der,
            chain_der=list(key.certificate.chain),
            key=self._keystore.key(key.key_id, use=KeyUse.TSA),
            public_key_der=key.public_key_der,
            scheme=key.scheme,
            hash_alg=HashAlg.SHA256,
            policy=self._policy,
        )

    def _why_none(self) -> str:
        last = self._registry.newest_of(KeyPurpose.TSA)
        if last is not None and last.compromised_at is not None:
            return ("the TSA key " + compromised_message(last.key_id, last.compromised_at,
                                                         last.state_reason)
                    .removeprefix("key ").replace(": rotate to a new key", "")
                    + ": no timestamps until a new TSA key is active "
                    "(`kyso admin tsa rotate`)")
        return ("the TSA has no active key with a certificate: rotate to a new one "
                "(`kyso admin tsa rotate`)")
