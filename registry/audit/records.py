"""What the audit log stores and how each piece is hashed and signed.

Chain
-----
Each node (``node_id``) writes its own chain; several nodes share one database.
Records are numbered ``seq = 1, 2, 3 …`` per node, and each carries the hash of
the record before it (32 zero bytes for ``seq = 1``)::

    hash = SHA-256( "kyso-audit-record-v1" 0x00
                    || str(node_id) || u64(seq) || str(time) || str(actor)
                    || str(action) || str(target) || str(details) || prev_hash )

where ``u64(n)`` is 8 bytes big-endian, ``str(s)`` is ``u32(len(b)) || b`` with
``b`` the UTF-8 bytes of ``s`` and ``u32`` 4 bytes big-endian (length-prefixed,
so no field can bleed into the next), ``prev_hash`` is the 32 raw bytes,
``time`` is ISO-8601 in UTC with microseconds (``2026-11-24T08:15:02.123456+00:00``)
and ``details`` is canonical JSON: keys sorted, no spaces, UTF-8 (not
``\\u``-escaped).

Checkpoints
-----------
A checkpoint signs a chain head with an Ed25519 key of the HSM (pure EdDSA, RFC 8032:
the token signs the whole message, not a digest)::

    message = "kyso-audit-checkpoint-v2" 0x00
              || str(node_id) || u64(seq) || hash || str(time)

``hash`` is the chain's hash at ``seq``. The message starts with a fixed prefix and is
longer than any digest, and kyso's document signing (``SignDigests``, CMS, PAdES,
XML-DSig) only ever signs digests with RSA or ECDSA keys: no document signature can be
a checkpoint signature. Checkpoints made before this format (``v1``) are ECDSA P-256
signatures over SHA-256 of the same fields with the prefix
``"kyso-audit-checkpoint-v1" 0x00``; they are still verified, with the legacy key.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ZERO_HASH = bytes(32)
RECORD_DOMAIN = b"kyso-audit-record-v1\x00"
CHECKPOINT_DOMAIN = b"kyso-audit-checkpoint-v2\x00"
CHECKPOINT_V1_DOMAIN = b"kyso-audit-checkpoint-v1\x00"


def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def format_time(t: datetime) -> str:
    """The time as hashed: UTC ISO-8601 with microseconds."""
    if t.tzinfo is None:  # SQLite returns naive datetimes; we store UTC
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(details: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces, UTF-8 characters as they are."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def record_hash(
    node_id: str, seq: int, time: datetime | str, actor: str, action: str, target: str,
    details: str, prev_hash: bytes,
) -> bytes:
    """The chain hash of one record (encoding in the module docstring)."""
    t = time if isinstance(time, str) else format_time(time)
    h = hashlib.sha256(RECORD_DOMAIN)
    h.update(_str(node_id) + struct.pack(">Q", seq) + _str(t) + _str(actor) + _str(action)
             + _str(target) + _str(details) + bytes(prev_hash))
    return h.digest()


def clean(s: str, limit: int) -> str:
    """A value fit for its column: PostgreSQL refuses NUL in text, and an over-long
    value would fail its whole commit group; callers may pass what clients sent."""
    s = s.replace("\x00", "\ufffd")
    return s if len(s) <= limit else s[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed chain head, as stored in ``audit_checkpoints`` and in the HSM's witness."""

    node_id: str
    seq: int
    hash: bytes
    time: str  # as signed: format_time()
    key_id: bytes
    algorithm: str  # "ed25519"; legacy v1: "ec-p256"
    signature: bytes

    @property
    def legacy(self) -> bool:
        return self.algorithm != "ed25519"

    def message(self) -> bytes:
        """What the signature covers: the v2 message, or the v1 SHA-256 digest."""
        body = (_str(self.node_id) + struct.pack(">Q", self.seq) + bytes(self.hash)
                + _str(self.time))
        if self.legacy:
            return hashlib.sha256(CHECKPOINT_V1_DOMAIN + body).digest()
        return CHECKPOINT_DOMAIN + body

    def row(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "seq": self.seq, "hash": self.hash,
                "time": datetime.fromisoformat(self.time), "key_id": self.key_id.hex(),
                "algorithm": self.algorithm,
                "scheme": "eddsa" if not self.legacy else "ecdsa",
                "signature": self.signature}

    @classmethod
    def from_row(cls, row: Any) -> Checkpoint:
        try:
            key_id = bytes.fromhex(row.key_id)
        except ValueError:
            key_id = b""
        return cls(row.node_id, int(row.seq), bytes(row.hash), format_time(row.time), key_id,
                   row.algorithm, bytes(row.signature))

    def encode(self) -> bytes:
        """The witness kept in the HSM: canonical JSON."""
        return canonical_json({"v": 2, "node": self.node_id, "seq": self.seq,
                               "hash": self.hash.hex(), "time": self.time,
                               "key_id": self.key_id.hex(), "algorithm": self.algorithm,
                               "signature": self.signature.hex()}).encode()

    @classmethod
    def decode(cls, blob: bytes) -> Checkpoint:
        d = json.loads(blob)
        return cls(d["node"], int(d["seq"]), bytes.fromhex(d["hash"]), d["time"],
                   bytes.fromhex(d["key_id"]), d["algorithm"], bytes.fromhex(d["signature"]))
