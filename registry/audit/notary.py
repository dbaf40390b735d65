"""Who vouches for the audit log: the HSM, never the database.

* **Trusted checkpoint keys** are the Ed25519 keys the token labels ``kyso-audit``
  (and, for checkpoints made before format v2, the token's legacy P-256
  ``kyso-audit`` key), optionally narrowed to ``[audit] trusted_key_fingerprints``.
  Someone who can write the database can add rows to ``keys`` but not keys to the
  token, so no database row makes a key trusted; key ids are compared as bytes.
* **Witnesses**: after each checkpoint a node keeps the checkpoint, signed, in a
  private data object of the token labelled ``kyso-audit-head:<node_id>``. The set
  of nodes and how far each chain reached therefore come from the token too: a
  chain deleted from the database, cut short together with its checkpoints, or
  rewritten is caught against its witness; a chain with neither a trusted
  checkpoint nor a witness was not written by a node of this deployment.
* The **audit key** is generated in the token by the first node that needs one,
  never exported, and usable only for checkpoints: the key store refuses it to
  every other use (``signer.keys.types.KeyUse``), and Ed25519 keys sign no digests.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy import update

from registry.audit.records import Checkpoint, format_time
from registry.db.models import KeyRow
from registry.db.store import KeyPurpose, KeyRecord, KeyState, RegistryStore
from signer.errors import KysoError, NotFound
from signer.keys.store import Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, KeyInfo, KeyUse

log = logging.getLogger(__name__)

AUDIT_KEY_LABEL = "kyso-audit"
AUDIT_KEY_ALGORITHM = KeyAlgorithm.ED25519
WITNESS_PREFIX = "kyso-audit-head:"
_ECDSA_SHA256 = ec.ECDSA(utils.Prehashed(hashes.SHA256()))


def fingerprint(public_key_der: bytes) -> bytes:
    """SHA-256 of a DER SubjectPublicKeyInfo: how keys are pinned in the configuration."""
    return hashlib.sha256(public_key_der).digest()


@dataclass(frozen=True)
class TrustedKeys:
    """The audit keys whose checkpoints are believed: key id (CKA_ID) → public key."""

    keys: Mapping[bytes, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey]

    @classmethod
    def of(cls, infos: Iterable[KeyInfo], pinned: frozenset[bytes] = frozenset()
           ) -> TrustedKeys:
        keys: dict[bytes, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey] = {}
        for info in infos:
            if not KeyUse.AUDIT.allows(info.label):
                continue
            if pinned and fingerprint(info.public_key_der) not in pinned:
                log.warning("audit key %s is in the HSM but not pinned in "
                            "audit.trusted_key_fingerprints: its checkpoints are not trusted",
                            info.key_id.hex())
                continue
            public = load_der_public_key(info.public_key_der)
            if info.algorithm is KeyAlgorithm.ED25519 and isinstance(
                    public, ed25519.Ed25519PublicKey):
                keys[info.key_id] = public
            elif info.algorithm is KeyAlgorithm.EC_P256 and isinstance(
                    public, ec.EllipticCurvePublicKey):
                keys[info.key_id] = public  # legacy v1 checkpoints
        return cls(keys)

    def verifies(self, cp: Checkpoint) -> bool:
        """Whether ``cp`` is signed by a trusted key, in the format of that key's type."""
        key = self.keys.get(cp.key_id)
        try:
            if isinstance(key, ed25519.Ed25519PublicKey) and not cp.legacy:
                key.verify(cp.signature, cp.message())
                return True
            if isinstance(key, ec.EllipticCurvePublicKey) and cp.algorithm == "ec-p256":
                key.verify(cp.signature, cp.message(), _ECDSA_SHA256)
                return True
        except InvalidSignature:
            return False
        return False


class AuditNotary:
    """Signs this node's checkpoints with the active audit key and keeps its witness.

    Before every checkpoint the key's state is read again (one indexed SELECT): an
    administrator retiring or marking the audit key compromised stops its use at the
    next checkpoint of every node, which then signs with the active audit key (made in
    the token if there is none)."""

    def __init__(self, keystore: Pkcs11KeyStore, registry: RegistryStore,
                 pinned: frozenset[bytes] = frozenset()) -> None:
        self._keystore = keystore
        self._registry = registry
        self._pinned = pinned
        self._key = ensure_audit_key(keystore, registry)

    @property
    def key(self) -> KeyRecord:
        return self._key

    def trusted(self) -> TrustedKeys:
        return trusted_keys(self._keystore, self._pinned)

    def ready(self) -> None:
        """Make sure the key to sign with is still active, switching to (or making) the
        active audit key if not. It may write to the database: call it outside any open
        write transaction (SQLite has one write lock)."""
        if not self._registry.key_active(self._key.key_id):
            old = self._key
            self._key = ensure_audit_key(self._keystore, self._registry)
            log.warning("audit key %s is no longer active: checkpoints are signed with %s",
                        old.key_id.hex(), self._key.key_id.hex())

    def sign(self, node_id: str, seq: int, head: bytes, when: datetime) -> Checkpoint:
        """Sign a checkpoint with the current key (see :meth:`ready`)."""
        unsigned = Checkpoint(node_id, seq, head, format_time(when), self._key.key_id,
                              self._key.algorithm.value, b"")
        signature = self._keystore.sign_message(self._key.key_id, unsigned.message(),
                                                use=KeyUse.AUDIT)
        return Checkpoint(node_id, seq, head, unsigned.time, self._key.key_id,
                          unsigned.algorithm, signature)

    def read_witness(self, node_id: str) -> Checkpoint | None:
        return read_witnesses(self._keystore).get(node_id)

    def write_witness(self, cp: Checkpoint) -> None:
        self._keystore.put_data(WITNESS_PREFIX + cp.node_id, cp.encode())


def trusted_keys(keystore: Pkcs11KeyStore, pinned: frozenset[bytes] = frozenset()
                 ) -> TrustedKeys:
    """The trusted audit keys, as the token lists them (see the module docstring)."""
    return TrustedKeys.of(keystore.find_keys(label=AUDIT_KEY_LABEL), pinned)


def read_witnesses(keystore: Pkcs11KeyStore) -> dict[str, Checkpoint]:
    """Each node's last witnessed checkpoint (the furthest, if a crash left two)."""
    out: dict[str, Checkpoint] = {}
    for label, blobs in keystore.get_data(WITNESS_PREFIX).items():
        node = label.removeprefix(WITNESS_PREFIX)
        for blob in blobs:
            try:
                cp = Checkpoint.decode(blob)
            except (ValueError, KeyError, TypeError):
                log.error("the HSM's audit witness of node %s cannot be read", node)
                continue
            if cp.node_id == node and (node not in out or cp.seq > out[node].seq):
                out[node] = cp
    return out


def ensure_audit_key(keystore: Pkcs11KeyStore, registry: RegistryStore) -> KeyRecord:
    """The active audit key: Ed25519, labelled ``kyso-audit`` in the HSM, generated there
    when there is none (or only a legacy P-256 one, which is retired: its checkpoints stay
    verifiable). It has no certificate: verifiers trust the token's public key."""
    key = registry.active_key(KeyPurpose.AUDIT)
    if key is not None and key.algorithm is AUDIT_KEY_ALGORITHM:
        try:
            keystore.public_key(key.key_id)
            return key
        except NotFound:
            log.error("the active audit key %s is not in the HSM: making a new one",
                      key.key_id.hex())
    info = keystore.generate_key(AUDIT_KEY_ALGORITHM, label=AUDIT_KEY_LABEL)
    registry.add_key(info, scheme=AUDIT_KEY_ALGORITHM.default_scheme, purpose=KeyPurpose.AUDIT)
    now = datetime.now(UTC)
    with registry.engine.begin() as conn:
        conn.execute(update(KeyRow).where(KeyRow.purpose == KeyPurpose.AUDIT.value,
                                          KeyRow.state == KeyState.ACTIVE.value)
                     .values(state=KeyState.RETIRED.value, state_changed_at=now,
                             state_reason=f"superseded by audit key {info.key_id.hex()}"))
        conn.execute(update(KeyRow).where(KeyRow.key_id == info.key_id.hex())
                     .values(state=KeyState.ACTIVE.value, activated_at=now,
                             state_changed_at=now))
    log.info("created the audit key %s (fingerprint sha256:%s)", info.key_id.hex(),
             fingerprint(info.public_key_der).hex())
    return registry.get_key(info.key_id)


__all__ = ["AUDIT_KEY_LABEL", "AuditNotary", "KysoError", "TrustedKeys", "ensure_audit_key",
           "fingerprint", "read_witnesses", "trusted_keys"]
