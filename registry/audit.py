"""The tamper-evident audit log: every admin action, signature, timestamp and
refused call, in an append-only hash chain per node, with checkpoints signed by
an HSM key.

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
Every ``checkpoint_every`` records, every ``checkpoint_interval_s`` seconds while
there are new records, and on ``close()``, the writer signs, with the ECDSA
P-256 key of purpose ``audit`` in the HSM (``CKM_ECDSA`` over the digest)::

    SHA-256( "kyso-audit-checkpoint-v1" 0x00
             || str(node_id) || u64(seq) || hash || str(time) )

(``hash`` is the chain head at ``seq``) and stores it in the same transaction as
the records it covers.

What verification catches
-------------------------
:func:`verify` walks each chain by ``seq`` and reports the first problem:

* ``edited``: a record's fields no longer give its hash, or a record's hash was
  recomputed after an edit (the next record chains to a different hash);
* ``deleted``: a gap in ``seq``, or a record that chains to a record that is
  nowhere in the log (renumbered after a deletion);
* ``reordered``: a record that chains to a record present elsewhere in the
  chain (e.g. two records' ``seq`` swapped);
* ``bad-checkpoint``: a checkpoint whose signature does not verify with a
  trusted audit key, or signed by an unknown key;
* ``rewritten``: a validly signed checkpoint whose hash is not the chain's hash
  at its ``seq`` (someone recomputed the hashes of a whole suffix);
* ``truncated``: a checkpoint beyond the chain's last record.

Limits, stated plainly: the hashes are unkeyed, so someone who can write the
database can rewrite a chain consistently; only checkpoints make that
detectable, up to the last checkpoint. Records after a node's last checkpoint
can be deleted undetectably (the writer checkpoints on ``close()``, so after a
clean stop there is no such tail). Deleting the tail *and* its checkpoints is
not detectable from the database alone: keep the latest checkpoints elsewhere
(e.g. export them) to detect it.

Two processes must never share a node id: each process's writer continues its
node's chain from the database, and two writers of one chain would fork it (the
unique ``(node_id, seq)`` index refuses the second writer's records, which then
fail; the server's node id comes from the ``node_id`` setting).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import queue
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy import (
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from registry.models import Base, KeyRow
from registry.store import BulkWriter, KeyPurpose, KeyRecord, KeyState, RegistryStore
from signer.digest import Digest, HashAlg
from signer.errors import KysoError, NotFound, StoreUnavailable
from signer.keys.store import Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, Scheme

log = logging.getLogger(__name__)
_T = TypeVar("_T")

ZERO_HASH = bytes(32)
AUDIT_KEY_LABEL = "kyso-audit"
AUDIT_KEY_ALGORITHM = KeyAlgorithm.EC_P256
AUDIT_SCHEME = Scheme.ECDSA
RECORD_DOMAIN = b"kyso-audit-record-v1\x00"
CHECKPOINT_DOMAIN = b"kyso-audit-checkpoint-v1\x00"
SYSTEM = "system"

#: Who is acting, for the records made while serving a call. The authentication
#: interceptor sets it to the client's name; outside calls it is "anonymous".
current_actor: contextvars.ContextVar[str] = contextvars.ContextVar(
    "kyso_audit_actor", default="anonymous"
)

_NODE_LEN, _ACTOR_LEN, _ACTION_LEN, _TARGET_LEN = 64, 128, 64, 255


# --- tables ----------------------------------------------------------------------------------


class AuditRecordRow(Base):
    """One audit event; ``hash`` chains it to the node's previous record."""

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(_NODE_LEN))
    seq: Mapped[int] = mapped_column(Integer)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(_ACTOR_LEN))
    action: Mapped[str] = mapped_column(String(_ACTION_LEN))
    target: Mapped[str] = mapped_column(String(_TARGET_LEN))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        UniqueConstraint("node_id", "seq", name="uq_audit_records_node_id_seq"),
        Index("ix_audit_records_action", "action"),
    )


class AuditCheckpointRow(Base):
    """A signed chain head: ``signature`` over the checkpoint digest (module docstring)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(_NODE_LEN))
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[str] = mapped_column(String(64))  # hex CKA_ID
    algorithm: Mapped[str] = mapped_column(String(16))  # ec-p256
    scheme: Mapped[str] = mapped_column(String(16))  # ecdsa (over SHA-256)
    signature: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_audit_checkpoints_node_id_seq", "node_id", "seq"),)


_RECORDS = cast(Table, AuditRecordRow.__table__)
_CHECKPOINTS = cast(Table, AuditCheckpointRow.__table__)


# --- encoding --------------------------------------------------------------------------------


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


def checkpoint_digest(node_id: str, seq: int, head: bytes, time: datetime | str) -> Digest:
    """What a checkpoint signs (encoding in the module docstring)."""
    t = time if isinstance(time, str) else format_time(time)
    return Digest.of(HashAlg.SHA256, CHECKPOINT_DOMAIN + _str(node_id) + struct.pack(">Q", seq)
                     + bytes(head) + _str(t))


def _clean(s: str, limit: int) -> str:
    # PostgreSQL refuses NUL in text, and an over-long value would fail the whole group
    # commit; callers may pass what clients sent (a refused call's agency code).
    s = s.replace("\x00", "\ufffd")
    return s if len(s) <= limit else s[: limit - 1] + "…"


# --- the writer ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckpointSigner:
    """Signs checkpoint digests (SHA-256) with key ``key_id``; ECDSA DER signatures."""

    key_id: bytes
    sign: Callable[[Digest], bytes]
    algorithm: str = AUDIT_KEY_ALGORITHM.value
    scheme: str = AUDIT_SCHEME.value

    @classmethod
    def from_keystore(cls, keystore: Pkcs11KeyStore, key: KeyRecord) -> CheckpointSigner:
        key_id = key.key_id
        return cls(key_id, lambda d: keystore.sign_digest(key_id, d, key.scheme),
                   key.algorithm.value, key.scheme.value)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A committed record's place in its chain."""

    node_id: str
    seq: int
    hash: bytes


@dataclass(slots=True)
class _Pending:
    actor: str
    action: str
    target: str
    details: str
    rows: Sequence[tuple[Table, Mapping[str, Any]]] = ()
    future: Future[AuditEntry] = field(default_factory=Future)


_STOP = object()
_MAX_GROUP = 1000
CHECKPOINT_RETRY_S = 10.0


class AuditLog:
    """Appends to this node's chain with one writer thread (the chain order is the
    commit order), and is the node's one durable writer: an audit record may carry
    rows of other tables (a signature's or a token's record), committed in the same
    transaction.

    Group commit: a caller's record is durable before its reply leaves, at the cost
    of one commit per *group* of requests. The writer takes everything queued since
    its last commit and commits it at once. Under load groups grow by themselves (no
    timer: while one commit runs, the next group queues up); idle, a lone record is
    committed at once. One writer for every table matters on SQLite: two writer
    connections contend for its single write lock, and the loser sleeps in SQLite's
    busy handler (measured here: 835 and 896 signatures/s with either writer alone,
    481/s with both; docs/benchmarks.md).

    ``append`` returns a future that completes once the record is committed;
    ``record`` waits for it. A failed commit fails its whole group with
    ``StoreUnavailable`` (or ``KysoError`` when a uniqueness check refuses a row):
    the caller must not send its reply, so nothing acknowledged is lost; the chain
    continues from the last committed record. A checkpoint that cannot be signed
    (HSM away) is logged and retried with the next group: records are never held
    back for it.
    """

    def __init__(
        self,
        engine: Engine,
        node_id: str,
        signer: CheckpointSigner,
        *,
        checkpoint_every: int = 1000,
        checkpoint_interval_s: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not node_id or len(node_id) > _NODE_LEN:
            raise ValueError(f"a node id is 1 to {_NODE_LEN} characters")
        if checkpoint_every < 1 or checkpoint_interval_s <= 0:
            raise ValueError("checkpoint_every and checkpoint_interval_s must be positive")
        self.node_id = node_id
        self._engine = engine
        self._writer = BulkWriter(engine)
        self._signer = signer
        self._every = checkpoint_every
        self._interval = checkpoint_interval_s
        self._clock = clock
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._close_lock = threading.Lock()
        self.commits = 0
        self.checkpoints = 0
        self._checkpoint_retry_at = 0.0
        self._load_head()
        self._thread = threading.Thread(target=self._run, name=f"kyso-audit-{node_id}",
                                        daemon=True)
        self._thread.start()

    # -- public ------------------------------------------------------------------------------

    @property
    def head(self) -> AuditEntry:
        """The last committed record of this node (seq 0 before the first)."""
        return AuditEntry(self.node_id, self._seq, self._hash)

    def append(self, actor: str, action: str, target: str,
               details: Mapping[str, Any] | None = None, *,
               rows: Sequence[tuple[Table, Mapping[str, Any]]] = ()) -> Future[AuditEntry]:
        """Queue a record, and ``rows`` (``(table, values)`` pairs) to insert in the
        same transaction; the future completes once they are committed."""
        item = _Pending(_clean(actor, _ACTOR_LEN), _clean(action, _ACTION_LEN),
                        _clean(target, _TARGET_LEN), canonical_json(details or {}), rows)
        with self._close_lock:
            if self._closed:
                raise StoreUnavailable("the server is shutting down; retry on another node")
            self._queue.put(item)
        return item.future

    def record(self, actor: str, action: str, target: str,
               details: Mapping[str, Any] | None = None, timeout: float = 30.0) -> AuditEntry:
        """Append a record and return once it is committed."""
        return wait_all([self.append(actor, action, target, details)], timeout)[0]

    def checkpoint(self, timeout: float = 30.0) -> None:
        """Sign the current head now (if there is anything new) and wait for it."""
        fut: Future[AuditEntry] = Future()
        with self._close_lock:
            if self._closed:
                return
            self._queue.put(fut)
        wait_all([fut], timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, checkpoint the head, stop the writer."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._writer.close()

    # -- writer ------------------------------------------------------------------------------

    def _load_head(self) -> None:
        with self._engine.connect() as conn:
            last = conn.execute(
                select(_RECORDS.c.seq, _RECORDS.c.hash)
                .where(_RECORDS.c.node_id == self.node_id)
                .order_by(_RECORDS.c.seq.desc()).limit(1)
            ).first()
            signed = conn.execute(
                select(_CHECKPOINTS.c.seq).where(_CHECKPOINTS.c.node_id == self.node_id)
                .order_by(_CHECKPOINTS.c.seq.desc()).limit(1)
            ).scalar()
        self._seq, self._hash = (int(last[0]), bytes(last[1])) if last else (0, ZERO_HASH)
        self._signed_seq = int(signed or 0)
        # A tail left unsigned by a crash is signed by the first checkpoint of this run.
        self._last_checkpoint = time.monotonic()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            wait: float | None = None
            if self._seq > self._signed_seq:
                wait = max(0.0, self._last_checkpoint + self._interval - time.monotonic())
            try:
                first = self._queue.get(timeout=wait)
            except queue.Empty:
                self._commit([], force_checkpoint=True)
                continue
            group: list[_Pending] = []
            waiters: list[Future[AuditEntry]] = []
            item = first
            while True:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, Future):
                    waiters.append(item)
                else:
                    group.append(item)
                if stopping or len(group) >= _MAX_GROUP:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._commit(group, force_checkpoint=stopping or bool(waiters))
            for w in waiters:
                w.set_result(self.head)

    def _commit(self, group: list[_Pending], *, force_checkpoint: bool) -> None:
        seq, prev = self._seq, self._hash
        now = self._clock()
        t = format_time(now)
        rows: list[dict[str, Any]] = []
        extra: dict[Table, list[Mapping[str, Any]]] = {}
        for p in group:
            for table, values in p.rows:
                extra.setdefault(table, []).append(values)
            seq += 1
            h = record_hash(self.node_id, seq, t, p.actor, p.action, p.target, p.details, prev)
            rows.append({"node_id": self.node_id, "seq": seq, "time": now, "actor": p.actor,
                         "action": p.action, "target": p.target, "details": p.details,
                         "prev_hash": prev, "hash": h})
            prev = h
        checkpoint = None
        due = (seq - self._signed_seq >= self._every
               or time.monotonic() - self._last_checkpoint >= self._interval)
        if seq > self._signed_seq and (due or force_checkpoint) and (
                force_checkpoint or time.monotonic() >= self._checkpoint_retry_at):
            checkpoint = self._sign_checkpoint(seq, prev, now)
            if checkpoint is None:  # HSM away: records go on; try again in a while, not
                # with every group (one error logged per try)
                self._checkpoint_retry_at = time.monotonic() + CHECKPOINT_RETRY_S
        if not rows and checkpoint is None:
            return
        error: KysoError | None = None
        try:
            with self._writer.transaction() as insert_rows:
                for table, values_list in extra.items():
                    insert_rows(table, values_list)
                insert_rows(_RECORDS, rows)
                if checkpoint is not None:
                    insert_rows(_CHECKPOINTS, [checkpoint])
        except IntegrityError as exc:
            # A reused serial in a companion row, or two processes sharing a node id.
            log.error("a uniqueness check refused %d records of node %s (%s); if the audit "
                      "chain clashed, does another process use node id %r? Two processes "
                      "must never share a node id", len(rows) + sum(map(len, extra.values())),
                      self.node_id, exc.orig, self.node_id)
            error = KysoError("recording failed (a uniqueness check refused it); nothing was "
                              "done or issued")
            try:
                self._load_head()  # continue from what the database holds
            except DBAPIError:
                log.exception("cannot re-read the head of node %s's audit chain", self.node_id)
        except DBAPIError as exc:
            log.error("audit commit of %d records failed: %s", len(rows), exc)
            error = StoreUnavailable("the database is unavailable; the request was not "
                                     "recorded and nothing was done or issued: retry later")
        except Exception as exc:  # never let the writer thread die
            log.exception("audit commit of %d records failed", len(rows))
            error = KysoError(f"audit recording failed ({type(exc).__name__})")
        else:
            self.commits += 1
            self._seq, self._hash = seq, prev
            if checkpoint is not None:
                self.checkpoints += 1
                self._signed_seq = seq
                self._last_checkpoint = time.monotonic()
        for i, p in enumerate(group):
            if error is None:
                p.future.set_result(AuditEntry(self.node_id, rows[i]["seq"], rows[i]["hash"]))
            else:
                p.future.set_exception(error)

    def _sign_checkpoint(self, seq: int, head: bytes, now: datetime) -> dict[str, Any] | None:
        try:
            signature = self._signer.sign(checkpoint_digest(self.node_id, seq, head, now))
        except Exception as exc:  # the HSM may be away: records go on, checkpoint later
            log.error("cannot sign the audit checkpoint of node %s at seq %d: %s",
                      self.node_id, seq, exc)
            return None
        return {"node_id": self.node_id, "seq": seq, "hash": head, "time": now,
                "key_id": self._signer.key_id.hex(), "algorithm": self._signer.algorithm,
                "scheme": self._signer.scheme, "signature": signature}


def wait_all(futures: Sequence[Future[_T]], timeout: float = 30.0) -> list[_T]:
    """Wait for durable writes (audit entries, group-committed records) under one deadline."""
    deadline = time.monotonic() + timeout
    try:
        return [f.result(max(0.0, deadline - time.monotonic())) for f in futures]
    except TimeoutError:
        raise StoreUnavailable(
            f"the audit log did not commit within {timeout:.0f} s; retry later"
        ) from None


# --- the audit key ---------------------------------------------------------------------------


def ensure_audit_key(keystore: Pkcs11KeyStore, registry: RegistryStore) -> KeyRecord:
    """The active audit key (EC P-256, label ``kyso-audit``), generated in the HSM on
    first use. It has no certificate: verifiers trust the HSM's public key."""
    key = registry.active_key(KeyPurpose.AUDIT)
    if key is not None:
        return key
    info = keystore.generate_key(AUDIT_KEY_ALGORITHM, label=AUDIT_KEY_LABEL)
    registry.add_key(info, scheme=AUDIT_SCHEME, purpose=KeyPurpose.AUDIT)
    with registry.engine.begin() as conn:
        conn.execute(update(KeyRow).where(KeyRow.key_id == info.key_id.hex())
                     .values(state=KeyState.ACTIVE.value, activated_at=datetime.now(UTC)))
    log.info("created the audit key %s", info.key_id.hex())
    return registry.get_key(info.key_id)


def audit_public_keys(keystore: Pkcs11KeyStore, engine: Engine) -> dict[str, bytes]:
    """Public keys of every registered audit key, read from the HSM (not from the
    database, which someone rewriting the log could also rewrite)."""
    with engine.connect() as conn:
        ids = conn.execute(
            select(KeyRow.key_id).where(KeyRow.purpose == KeyPurpose.AUDIT.value)
        ).scalars().all()
    keys: dict[str, bytes] = {}
    for hex_id in ids:
        try:
            keys[hex_id] = keystore.public_key(bytes.fromhex(hex_id)).public_key_der
        except NotFound:
            log.warning("audit key %s is not in the HSM: its checkpoints cannot be trusted",
                        hex_id)
    return keys


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditProblem:
    node_id: str
    seq: int
    record_id: int | None  # the row where it was found (None: none, e.g. a checkpoint)
    kind: str  # edited | deleted | reordered | bad-checkpoint | rewritten | truncated
    message: str


@dataclass(frozen=True, slots=True)
class NodeSummary:
    node_id: str
    records: int
    last_seq: int
    checkpoints: int  # verified
    last_checkpoint_seq: int  # 0: none verified
    problems: int


@dataclass(frozen=True, slots=True)
class AuditReport:
    ok: bool
    records: int
    checkpoints_verified: int
    nodes: tuple[NodeSummary, ...]
    first_problem: AuditProblem | None
    problems: tuple[AuditProblem, ...]  # the first of each damaged node
    problem_count: int


_SEARCH_WINDOW = 4096  # how far from its place a moved record's original seq is looked for
_FETCH = 1000
_ECDSA_SHA256 = ec.ECDSA(utils.Prehashed(hashes.SHA256()))


def verify(engine: Engine, *, public_keys: Mapping[str, bytes]) -> AuditReport:
    """Check every node's chain and checkpoints; ``public_keys``: hex key id → SPKI DER.

    Rows are streamed in ``(node_id, seq)`` order, so memory does not grow with the log.
    """
    loaded: dict[str, ec.EllipticCurvePublicKey | None] = {}
    for kid, der in public_keys.items():
        pub = load_der_public_key(der)
        loaded[kid] = pub if isinstance(pub, ec.EllipticCurvePublicKey) else None
    with engine.connect() as conn:
        nodes = sorted(
            set(conn.execute(select(_RECORDS.c.node_id).distinct()).scalars())
            | set(conn.execute(select(_CHECKPOINTS.c.node_id).distinct()).scalars())
        )
    summaries: list[NodeSummary] = []
    firsts: list[AuditProblem] = []
    total = verified = count = 0
    for node in nodes:
        walk = _NodeWalk(engine, node, loaded)
        walk.run()
        summaries.append(NodeSummary(node, walk.records, walk.last_seq, walk.verified,
                                     walk.last_good_checkpoint, walk.problems))
        total += walk.records
        verified += walk.verified
        count += walk.problems
        if walk.first is not None:
            firsts.append(walk.first)
    return AuditReport(
        ok=count == 0, records=total, checkpoints_verified=verified, nodes=tuple(summaries),
        first_problem=firsts[0] if firsts else None, problems=tuple(firsts),
        problem_count=count,
    )


class _NodeWalk:
    def __init__(self, engine: Engine, node: str,
                 keys: Mapping[str, ec.EllipticCurvePublicKey | None]) -> None:
        self.engine = engine
        self.node = node
        self.keys = keys
        self.records = self.verified = self.problems = 0
        self.last_seq = self.last_good_checkpoint = 0
        self.first: AuditProblem | None = None

    def problem(self, seq: int, record_id: int | None, kind: str, message: str) -> None:
        self.problems += 1
        if self.first is None:
            self.first = AuditProblem(self.node, seq, record_id, kind, message)

    def run(self) -> None:
        # Two connections; checkpoints are read first: a checkpoint is committed with or
        # after the records it covers, so every checkpoint seen has its records visible
        # to the later records query, even while this node keeps writing.
        with self.engine.connect() as cp_conn, self.engine.connect() as rec_conn:
            cps = _stream(cp_conn, select(_CHECKPOINTS).where(_CHECKPOINTS.c.node_id == self.node)
                          .order_by(_CHECKPOINTS.c.seq, _CHECKPOINTS.c.id))
            cp = next(cps, None)
            rows = _stream(rec_conn, select(_RECORDS).where(_RECORDS.c.node_id == self.node)
                           .order_by(_RECORDS.c.seq, _RECORDS.c.id))
            expected, prev, prev_row = 1, ZERO_HASH, None
            for row in rows:
                self.records += 1
                seq = int(row.seq)
                while cp is not None and cp.seq < seq:  # its record is missing
                    self.check_checkpoint(cp, None)
                    cp = next(cps, None)
                self.check_record(row, expected, prev, prev_row)
                while cp is not None and cp.seq == seq:
                    self.check_checkpoint(cp, row)
                    cp = next(cps, None)
                expected, prev, prev_row = max(expected, seq) + 1, bytes(row.hash), row
                self.last_seq = seq
            while cp is not None:
                self.check_checkpoint(cp, None)
                cp = next(cps, None)

    def check_record(self, row: Any, expected: int, prev: bytes, prev_row: Any) -> None:
        seq, rid = int(row.seq), int(row.id)
        stored, link = bytes(row.hash), bytes(row.prev_hash)
        if seq < expected:
            self.problem(seq, rid, "reordered", f"seq {seq} appears twice (record id {rid})")
            return
        if seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
            self.problem(expected, rid, "deleted",
                         f"record(s) {missing} are missing before record id {rid} (seq {seq})")
            return
        intact = self.hash_at(row, seq) == stored
        if link == prev:
            if not intact:
                self.problem(seq, rid, "edited",
                             f"record {seq} (id {rid}) was edited: its fields no longer "
                             "give its hash")
            return
        if self.first is not None:  # the chain is already broken here: count, don't explain
            self.problem(seq, rid, "edited", f"record {seq} does not follow record {seq - 1}")
            return
        known = self.has_hash(link)
        if intact:
            if known:
                self.problem(seq, rid, "reordered",
                             f"record {seq} (id {rid}) chains to a record elsewhere in the "
                             "chain: records were moved")
            else:
                prev_id = int(prev_row.id) if prev_row is not None else None
                self.problem(seq - 1, prev_id, "edited",
                             f"record {seq - 1} (id {prev_id}) was edited and its hash "
                             f"recomputed: record {seq} chains to a different hash")
            return
        original = self.original_seq(row)
        if original is None:
            self.problem(seq, rid, "edited",
                         f"record {seq} (id {rid}) was edited: its fields and link no "
                         "longer give its hash")
        elif known:
            self.problem(seq, rid, "reordered",
                         f"record id {rid} was written as seq {original} but now has seq {seq}")
        else:
            self.problem(seq, rid, "deleted",
                         f"the record before record id {rid} (written as seq {original}, now "
                         f"seq {seq}) is missing: records were deleted and renumbered")

    def check_checkpoint(self, cp: Any, row: Any) -> None:
        seq, node = int(cp.seq), self.node
        key = self.keys.get(cp.key_id)
        digest = checkpoint_digest(node, seq, bytes(cp.hash), cp.time)
        if key is None:
            self.problem(seq, None, "bad-checkpoint",
                         f"checkpoint {cp.id} at seq {seq} is signed by key {cp.key_id}, which "
                         "is not a trusted audit key")
            return
        try:
            key.verify(bytes(cp.signature), digest.value, _ECDSA_SHA256)
        except InvalidSignature:
            self.problem(seq, None, "bad-checkpoint",
                         f"the signature of checkpoint {cp.id} at seq {seq} does not verify")
            return
        if row is None:
            if seq > self.last_seq and self.first is None:
                self.problem(self.last_seq + 1, None, "truncated",
                             f"records {self.last_seq + 1} to {seq} are missing: the signed "
                             f"checkpoint {cp.id} covers seq {seq}, the chain ends at "
                             f"{self.last_seq}")
            else:
                self.problem(seq, None, "deleted",
                             f"record {seq}, covered by checkpoint {cp.id}, is missing")
            return
        if bytes(row.hash) != bytes(cp.hash):
            self.problem(max(self.last_good_checkpoint + 1, 1), int(row.id), "rewritten",
                         f"the chain's hash at seq {seq} differs from signed checkpoint "
                         f"{cp.id}: records {self.last_good_checkpoint + 1} to {seq} were "
                         "rewritten")
            return
        self.verified += 1
        self.last_good_checkpoint = seq

    def hash_at(self, row: Any, seq: int) -> bytes:
        return record_hash(self.node, seq, row.time, row.actor, row.action, row.target,
                           row.details, bytes(row.prev_hash))

    def original_seq(self, row: Any) -> int | None:
        """The seq a moved record was written with (its hash covers it), if near."""
        stored, seq = bytes(row.hash), int(row.seq)
        for delta in range(1, _SEARCH_WINDOW):
            for s in (seq + delta, seq - delta):
                if s >= 1 and self.hash_at(row, s) == stored:
                    return s
        return None

    def has_hash(self, h: bytes) -> bool:
        if h == ZERO_HASH:
            return True
        with self.engine.connect() as conn:
            return conn.execute(
                select(_RECORDS.c.id).where(_RECORDS.c.node_id == self.node,
                                            _RECORDS.c.hash == h).limit(1)
            ).first() is not None


def _stream(conn: Connection, query: Any) -> Iterator[Any]:
    result = conn.execution_options(stream_results=True, yield_per=_FETCH).execute(query)
    yield from result


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    node_id: str
    seq: int
    time: str  # as hashed
    actor: str
    action: str
    target: str
    details: str  # canonical JSON
    prev_hash: bytes
    hash: bytes


def list_records(engine: Engine, *, node_id: str = "", after_id: int = 0, limit: int = 100,
                 action: str = "") -> list[AuditRecord]:
    """Records in id order after ``after_id``, optionally of one node and one action."""
    q = select(_RECORDS).where(_RECORDS.c.id > after_id)
    if node_id:
        q = q.where(_RECORDS.c.node_id == node_id)
    if action:
        q = q.where(_RECORDS.c.action == action)
    q = q.order_by(_RECORDS.c.id).limit(max(1, min(limit, 1000)))
    with engine.connect() as conn:
        return [AuditRecord(int(r.id), r.node_id, int(r.seq), format_time(r.time), r.actor,
                            r.action, r.target, r.details, bytes(r.prev_hash), bytes(r.hash))
                for r in conn.execute(q)]
