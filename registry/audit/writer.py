"""The node's audit writer: one thread appends to this node's chain, group-commits the
records of signatures and timestamps with them, chains administrative changes staged
in the outbox, signs checkpoints and keeps the HSM's witness up to date.

It never continues a chain it cannot vouch for. At start, and again after any failed
commit, it checks the chain in the database against the last checkpoint it can trust
(the HSM's witness of this node, or the newest checkpoint a trusted key signed): the
record at that checkpoint must have the signed hash, and every record after it must
recompute to its stored hash and link to the one before. After a failed commit the
head must also be the head this writer itself left (or the records of its own last,
uncertain, commit). When any of this fails the chain is *damaged*: the writer signs no
checkpoint and refuses every record (:class:`~signer.errors.AuditLogDamaged`), so the
node signs, timestamps and administers nothing until someone has looked.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from registry.audit.actions import AdminAction, current_action
from registry.audit.actions import install as install_outbox_hooks
from registry.audit.notary import AuditNotary
from registry.audit.records import (
    ZERO_HASH,
    Checkpoint,
    canonical_json,
    clean,
    format_time,
    record_hash,
)
from registry.db.audit import (
    ACTION_LEN,
    ACTOR_LEN,
    CHECKPOINTS,
    NODE_LEN,
    OUTBOX,
    RECORDS,
    TARGET_LEN,
)
from registry.db.store import BulkTransaction, BulkWriter
from signer.errors import (
    AuditLogDamaged,
    InvalidRequest,
    KysoError,
    StoreUnavailable,
    Unavailable,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_STOP = object()
_MAX_GROUP = 1000
CHECKPOINT_RETRY_S = 10.0
OUTBOX_SWEEP_S = 5.0
_CHECKPOINT_SCAN = 100  # how many untrusted checkpoints to skip looking for a trusted one


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


@dataclass(slots=True)
class _Adopt:
    """Chain outbox rows: these ids, or (``None``) every row of this node."""

    ids: tuple[str, ...] | None
    future: Future[list[AuditEntry]] = field(default_factory=Future)


@dataclass(slots=True)
class _Checkpoint:
    future: Future[AuditEntry] = field(default_factory=Future)


_Item = _Pending | _Adopt


class _Damaged(Exception):
    pass


class AuditLog:
    """Appends to this node's chain with one writer thread (the chain order is the
    commit order), and is the node's one durable writer: an audit record may carry
    rows of other tables (a signature's or a token's record), committed in the same
    transaction.

    Group commit: a caller's record is durable before its reply leaves, at the cost of
    one commit per *group* of requests. The writer takes everything queued since its
    last commit and commits it at once. Under load groups grow by themselves; idle, a
    lone record is committed at once. One writer for every table matters on SQLite:
    two writer connections contend for its single write lock (measured here: 835 and
    896 signatures/s with either writer alone, 481/s with both; docs/benchmarks.md).

    One request's bad data never fails the others: when a group's commit is refused
    for its data (a uniqueness check, a value the database will not store), each of
    its requests is committed on its own and only the one at fault gets the error —
    ``InvalidRequest`` for data, ``Unavailable`` for an idempotency key another node
    answered at the same instant (its retry gets that first reply). An outage fails
    the group with ``StoreUnavailable``: nothing acknowledged is ever unrecorded.
    """

    def __init__(
        self,
        engine: Engine,
        node_id: str,
        notary: AuditNotary,
        *,
        checkpoint_every: int = 1000,
        checkpoint_interval_s: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not node_id or len(node_id) > NODE_LEN:
            raise ValueError(f"a node id is 1 to {NODE_LEN} characters")
        if checkpoint_every < 1 or checkpoint_interval_s <= 0:
            raise ValueError("checkpoint_every and checkpoint_interval_s must be positive")
        self.node_id = node_id
        self._engine = engine
        self._writer = BulkWriter(engine)
        self._notary = notary
        self._every = checkpoint_every
        self._interval = checkpoint_interval_s
        self._clock = clock
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._close_lock = threading.Lock()
        self.commits = 0
        self.checkpoints = 0
        self._checkpoint_retry_at = 0.0
        self._next_sweep = 0.0
        self._damage: str | None = None
        self._uncertain: dict[int, bytes] = {}  # seq -> hash of a commit that may have landed
        self._seq, self._hash, self._signed_seq = 0, ZERO_HASH, 0
        self._witnessed = False
        install_outbox_hooks(engine)
        self._check_head(initial=True)
        self._last_checkpoint = time.monotonic()  # an unsigned tail is signed within _interval
        if self._damage is None and not self._witnessed:
            self._introduce()
        self._thread = threading.Thread(target=self._run, name=f"kyso-audit-{node_id}",
                                        daemon=True)
        self._thread.start()

    # -- public ------------------------------------------------------------------------------

    @property
    def head(self) -> AuditEntry:
        """The last committed record of this node (seq 0 before the first)."""
        return AuditEntry(self.node_id, self._seq, self._hash)

    @property
    def damage(self) -> str | None:
        """Why this node's chain cannot be vouched for; None while it is sound."""
        return self._damage

    @property
    def healthy(self) -> bool:
        return self._damage is None

    def append(self, actor: str, action: str, target: str,
               details: Mapping[str, Any] | None = None, *,
               rows: Sequence[tuple[Table, Mapping[str, Any]]] = ()) -> Future[AuditEntry]:
        """Queue a record, and ``rows`` (``(table, values)`` pairs) to insert in the
        same transaction; the future completes once they are committed."""
        self._refuse_if_damaged()
        item = _Pending(clean(actor, ACTOR_LEN), clean(action, ACTION_LEN),
                        clean(target, TARGET_LEN), canonical_json(details or {}), rows)
        self._put(item)
        return item.future

    def record(self, actor: str, action: str, target: str,
               details: Mapping[str, Any] | None = None, timeout: float = 30.0) -> AuditEntry:
        """Append a record and return once it is committed."""
        return wait_all([self.append(actor, action, target, details)], timeout)[0]

    @contextmanager
    def action(self, actor: str, action: str, target: str,
               details: Mapping[str, Any] | None = None, *,
               timeout: float = 10.0) -> Iterator[AdminAction]:
        """Run an administrative change whose every committed write carries its audit
        record (``registry.audit.actions``); on leaving, the records are on the chain.
        A change that wrote nothing is recorded plainly (it changed nothing to lose).
        Inside another action, the outer one records (nothing is recorded twice)."""
        outer = current_action.get()
        if outer is not None:
            yield outer
            return
        self._refuse_if_damaged()
        act = AdminAction(self.node_id, actor, action, target, dict(details or {}))
        token = current_action.set(act)
        done = False
        try:
            yield act
            done = True
        finally:
            current_action.reset(token)
            if act.staged:
                try:
                    wait_all([self._adopt(tuple(act.staged))], timeout)
                except KysoError as exc:  # durable in the outbox: chained by a later sweep
                    log.warning("the audit records of %s %s are committed with the change "
                                "but not yet on the chain (%s); the writer retries",
                                action, target, exc.message)
        if done and not act.staged:
            self.record(actor, action, target, act.details)

    def checkpoint(self, timeout: float = 30.0) -> None:
        """Sign the current head now (if there is anything new) and wait for it."""
        item = _Checkpoint()
        with self._close_lock:
            if self._closed:
                return
            self._queue.put(item)
        wait_all([item.future], timeout)

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

    # -- helpers for callers -----------------------------------------------------------------

    def _refuse_if_damaged(self) -> None:
        if self._damage is not None:
            raise AuditLogDamaged(
                f"the audit log of node {self.node_id} is damaged ({self._damage}); this "
                "node signs and changes nothing until an administrator has checked it with "
                "`kyso admin audit verify`. The damaged chain stays as evidence: to go on, "
                "start the node under a new node_id")

    def _put(self, item: Any) -> None:
        with self._close_lock:
            if self._closed:
                raise StoreUnavailable("the server is shutting down; retry on another node")
            self._queue.put(item)

    def _adopt(self, ids: tuple[str, ...] | None) -> Future[list[AuditEntry]]:
        item = _Adopt(ids)
        self._put(item)
        return item.future

    def _introduce(self) -> None:
        """A node the HSM has no witness of yet makes itself known before it writes: the
        token then vouches for the node's existence from its first record on, so a chain
        in the database without a witness is one no node of this deployment wrote."""
        self._notary.ready()
        checkpoint = self._notary.sign(self.node_id, self._seq, self._hash, self._clock())
        # In the database too: a second process reading the token may not see a data
        # object another process just made (SoftHSM's file store re-reads the token only
        # when its generation counter moved, and concurrent writers can mask each other),
        # so a trusted checkpoint row also vouches for the node.
        with self._engine.begin() as conn:
            conn.execute(CHECKPOINTS.insert().values(**checkpoint.row()))
        self._notary.write_witness(checkpoint)
        self._signed_seq = self._seq
        self._witnessed = True
        log.info("the HSM now witnesses node %s's audit chain (from seq %d)", self.node_id,
                 self._seq)

    # -- the head check ----------------------------------------------------------------------

    def _check_head(self, *, initial: bool) -> None:
        """Load the chain head, or mark the chain damaged (module docstring)."""
        try:
            seq, head, signed = self._verified_head()
            if not initial and seq != self._seq:
                mine = all(self._uncertain.get(s) == h for s, h in self._tail(self._seq, seq))
                if seq < self._seq or not mine:
                    raise _Damaged(
                        f"its chain ends at seq {seq} in the database, but this node wrote "
                        f"up to seq {self._seq}: records were "
                        + ("deleted" if seq < self._seq else "appended by someone else"))
                log.info("the audit commit of seq %d to %d had landed after all",
                         self._seq + 1, seq)
        except _Damaged as exc:
            self._damage = str(exc)
            log.critical("audit chain of node %s is DAMAGED: %s. This node signs and changes "
                         "nothing until an administrator has checked it (`kyso admin audit "
                         "verify`)", self.node_id, self._damage)
            return
        self._seq, self._hash, self._signed_seq = seq, head, max(signed, self._signed_seq)
        self._uncertain = {}

    def _verified_head(self) -> tuple[int, bytes, int]:
        """(head seq, head hash, seq of the anchoring checkpoint), after checking the chain
        from its last trusted checkpoint; raises _Damaged."""
        trusted = self._notary.trusted()
        witness = self._notary.read_witness(self.node_id)
        self._witnessed = witness is not None
        if witness is not None and not trusted.verifies(witness):
            raise _Damaged("the HSM's witness of this node's chain is not signed by a trusted "
                           "audit key")
        anchor = witness
        with self._engine.connect() as conn:
            rows = conn.execute(select(CHECKPOINTS).where(CHECKPOINTS.c.node_id == self.node_id)
                                .order_by(CHECKPOINTS.c.seq.desc()).limit(_CHECKPOINT_SCAN))
            for row in rows:
                cp = Checkpoint.from_row(row)
                if anchor is not None and cp.seq <= anchor.seq:
                    break
                if trusted.verifies(cp):
                    anchor = cp
                    break
            start, prev = (anchor.seq, anchor.hash) if anchor is not None else (0, ZERO_HASH)
            last_seq, last_hash = start, prev
            anchored = anchor is None or anchor.seq == 0
            records = conn.execute(select(RECORDS).where(RECORDS.c.node_id == self.node_id,
                                                         RECORDS.c.seq >= max(start, 1))
                                   .order_by(RECORDS.c.seq))
            for r in records:
                seq = int(r.seq)
                if anchor is not None and seq == anchor.seq:
                    if bytes(r.hash) != anchor.hash:
                        raise _Damaged(f"record {seq} no longer has the hash its signed "
                                       "checkpoint covers: the chain was rewritten")
                    anchored = True
                    continue
                if seq != last_seq + 1:
                    raise _Damaged(f"record {last_seq + 1} is missing")
                if bytes(r.prev_hash) != last_hash or record_hash(
                        self.node_id, seq, r.time, r.actor, r.action, r.target, r.details,
                        last_hash) != bytes(r.hash):
                    raise _Damaged(f"record {seq} was edited or does not follow record "
                                   f"{seq - 1}")
                last_seq, last_hash = seq, bytes(r.hash)
        if anchor is not None and not anchored:
            raise _Damaged(f"record {anchor.seq}, which a signed checkpoint covers, is not in "
                           "the database: records were deleted")
        if anchor is None and last_seq:
            log.warning("node %s's audit chain has %d records and no trusted checkpoint or "
                        "witness yet (a crash before its first checkpoint?): it is signed at "
                        "the next checkpoint", self.node_id, last_seq)
        return last_seq, last_hash, anchor.seq if anchor is not None else 0

    def _tail(self, after: int, upto: int) -> list[tuple[int, bytes]]:
        with self._engine.connect() as conn:
            return [(int(r.seq), bytes(r.hash)) for r in conn.execute(
                select(RECORDS.c.seq, RECORDS.c.hash).where(
                    RECORDS.c.node_id == self.node_id, RECORDS.c.seq > after,
                    RECORDS.c.seq <= upto))]

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        self._sweep()  # outbox rows a crash or an outage left behind
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self._idle_wait())
            except queue.Empty:
                if self._seq > self._signed_seq and self._checkpoint_due():
                    self._write([], force_checkpoint=False)
                if time.monotonic() >= self._next_sweep:
                    self._sweep()
                continue
            items: list[_Item] = []
            waiters: list[_Checkpoint] = []
            item = first
            while True:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _Checkpoint):
                    waiters.append(item)
                else:
                    items.append(item)
                if stopping or len(items) >= _MAX_GROUP:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                self._write(items, force_checkpoint=stopping or bool(waiters))
            except Exception as exc:  # never let the writer thread die (_write's own net)
                log.exception("audit writer: a group of %d items failed", len(items))
                error = KysoError(f"audit recording failed ({type(exc).__name__})")
                self._fail(items, error)
                for w in waiters:
                    if not w.future.done():
                        w.future.set_exception(error)
                continue
            for w in waiters:
                w.future.set_result(self.head)

    def _idle_wait(self) -> float:
        now = time.monotonic()
        wait = max(0.0, self._next_sweep - now)
        if self._seq > self._signed_seq:
            due = max(self._last_checkpoint + self._interval, self._checkpoint_retry_at)
            wait = min(wait, max(0.0, due - now))
        return wait

    def _checkpoint_due(self, seq: int | None = None) -> bool:
        """Whether a checkpoint is due at head ``seq`` (default: the committed head) and
        may be tried now (after a failure, not before CHECKPOINT_RETRY_S)."""
        now = time.monotonic()
        due = ((self._seq if seq is None else seq) - self._signed_seq >= self._every
               or now - self._last_checkpoint >= self._interval)
        return due and now >= self._checkpoint_retry_at

    def _sweep(self) -> None:
        self._next_sweep = time.monotonic() + OUTBOX_SWEEP_S
        if self._damage is not None:
            return
        try:
            with self._engine.connect() as conn:
                waiting = conn.execute(select(OUTBOX.c.id).where(
                    OUTBOX.c.node_id == self.node_id).limit(1)).first()
        except DBAPIError:
            return
        if waiting is not None:
            self._write([_Adopt(None)], force_checkpoint=False)

    def _write(self, items: list[_Item], *, force_checkpoint: bool) -> None:
        """Commit ``items`` as one group; on a data error, each on its own."""
        if self._damage is not None:
            self._fail(items, AuditLogDamaged(f"the audit log of node {self.node_id} is "
                                              f"damaged ({self._damage})"))
            return
        try:
            self._commit(items, force_checkpoint)
            return
        except (IntegrityError, DataError) as exc:
            if _names(exc, "audit_records", "audit_checkpoints"):
                log.error("node %s's audit chain clashed with records it did not write (%s); "
                          "does another process use node id %r? Two processes must never "
                          "share a node id", self.node_id, exc.orig, self.node_id)
                self._fail(items, KysoError("recording failed: this node's audit chain "
                                            "clashed with records it did not write; nothing "
                                            "was done or issued"))
                self._recheck()
                return
            if len(items) > 1:  # find the one at fault; the others commit
                for item in items:
                    self._write([item], force_checkpoint=False)
                if force_checkpoint:
                    self._write([], force_checkpoint=True)
                return
            self._fail(items, _data_error(exc, items))
        except DBAPIError as exc:
            log.error("audit commit of %d items failed: %s", len(items), exc)
            self._fail(items, StoreUnavailable("the database is unavailable; the request was "
                                               "not recorded and nothing was done or issued: "
                                               "retry later"))
            self._recheck()
        except Unavailable as exc:  # the HSM, for a checkpoint that had to be signed now
            self._fail(items, exc)
        except Exception as exc:  # never let the writer thread die
            log.exception("audit commit of %d items failed", len(items))
            self._fail(items, KysoError(f"audit recording failed ({type(exc).__name__})"))

    def _recheck(self) -> None:
        """The head check after an error. Whatever makes it fail, the writer thread lives
        on (its callers would otherwise wait out their timeouts, and a stopping node
        would hang on them): the check runs again after the next failure, and until it
        succeeds a write collides again rather than carry on from an unchecked head."""
        try:
            self._check_head(initial=False)
        except (DBAPIError, KysoError) as exc:
            log.warning("cannot re-check node %s's audit chain now: %s", self.node_id, exc)
        except Exception:
            log.exception("cannot re-check node %s's audit chain now", self.node_id)

    @staticmethod
    def _fail(items: Sequence[_Item], error: Exception) -> None:
        for item in items:
            if not item.future.done():
                item.future.set_exception(error)

    def _commit(self, items: Sequence[_Item], force_checkpoint: bool) -> None:
        self._uncertain = {}
        pending = [i for i in items if isinstance(i, _Pending)]
        adopts = [i for i in items if isinstance(i, _Adopt)]
        if not pending and not adopts and not (
                self._seq > self._signed_seq and (force_checkpoint or self._checkpoint_due())):
            return
        if force_checkpoint or self._checkpoint_due(self._seq + len(pending)):
            self._prepare_signing()  # before the write transaction: it may itself write
        now = self._clock()
        seq, prev = self._seq, self._hash
        records: list[dict[str, Any]] = []
        extra: dict[Table, list[Mapping[str, Any]]] = {}
        results: list[tuple[_Item, Any]] = []
        checkpoint: Checkpoint | None = None

        def chain(actor: str, action: str, target: str, details: str,
                  when: datetime) -> AuditEntry:
            nonlocal seq, prev
            seq += 1
            h = record_hash(self.node_id, seq, when, actor, action, target, details, prev)
            records.append({"node_id": self.node_id, "seq": seq, "time": when, "actor": actor,
                            "action": action, "target": target, "details": details,
                            "prev_hash": prev, "hash": h})
            prev = h
            return AuditEntry(self.node_id, seq, h)

        with self._writer.transaction() as tx:
            for p in pending:
                for table, values in p.rows:
                    extra.setdefault(table, []).append(values)
                results.append((p, chain(p.actor, p.action, p.target, p.details, now)))
            for a in adopts:
                taken = self._take_outbox(tx, a.ids)
                results.append((a, [chain(r["actor"], r["action"], r["target"], r["details"],
                                          r["time"]) for r in taken]))
            for table, values_list in extra.items():
                tx.insert(table, values_list)
            tx.insert(RECORDS, records)
            if seq > self._signed_seq and (force_checkpoint or self._checkpoint_due(seq)):
                checkpoint = self._sign(seq, prev, now)
                if checkpoint is not None:
                    tx.insert(CHECKPOINTS, [checkpoint.row()])
            self._uncertain = {r["seq"]: r["hash"] for r in records}
        self._uncertain = {}
        self.commits += 1
        self._seq, self._hash = seq, prev
        for item, result in results:
            item.future.set_result(result)
        if checkpoint is not None:
            self.checkpoints += 1
            self._signed_seq = seq
            self._last_checkpoint = time.monotonic()
            try:
                self._notary.write_witness(checkpoint)
            except KysoError as exc:  # the database has it; the next checkpoint tries again
                log.error("cannot update the HSM's witness of node %s at seq %d: %s",
                          self.node_id, seq, exc.message)

    def _take_outbox(self, tx: BulkTransaction, ids: tuple[str, ...] | None
                     ) -> list[dict[str, Any]]:
        """Delete and return staged records of this node (``ids``, or all), oldest first."""
        cols = ("id", "time", "actor", "action", "target", "details")
        sql = f"DELETE FROM {OUTBOX.name} WHERE node_id = ?"
        params: list[Any] = [self.node_id]
        if ids is not None:
            sql += f" AND id IN ({', '.join('?' * len(ids))})"
            params += list(ids)
        rows = tx.execute(sql + f" RETURNING {', '.join(cols)}", params)
        dialect = self._engine.dialect
        to_time = OUTBOX.c.time.type.dialect_impl(dialect).result_processor(dialect, None)
        out = []
        for r in rows:
            d = dict(zip(cols, r, strict=True))
            if to_time is not None:
                d["time"] = to_time(d["time"])
            if d["time"].tzinfo is None:
                d["time"] = d["time"].replace(tzinfo=UTC)
            out.append(d)
        return sorted(out, key=lambda d: (d["time"], d["id"]))

    def _prepare_signing(self) -> None:
        try:
            self._notary.ready()
        except (KysoError, DBAPIError) as exc:  # signing will fail and be retried later
            log.error("cannot check node %s's audit key: %s", self.node_id, exc)

    def _sign(self, seq: int, head: bytes, now: datetime) -> Checkpoint | None:
        try:
            return self._notary.sign(self.node_id, seq, head, now)
        except KysoError as exc:  # the HSM may be away: records go on, checkpoint later
            log.error("cannot sign the audit checkpoint of node %s at seq %d: %s",
                      self.node_id, seq, exc.message)
            self._checkpoint_retry_at = time.monotonic() + CHECKPOINT_RETRY_S
            return None


def _names(exc: DBAPIError, *tables: str) -> bool:
    text = str(exc.orig)
    return any(t in text for t in tables)


def _data_error(exc: DBAPIError, items: Sequence[_Item]) -> KysoError:
    """The error of the one request whose own data the database refused."""
    if isinstance(exc, IntegrityError) and _names(exc, "idempotent_replies"):
        return Unavailable("another node answered this idempotency key at the same instant; "
                           "nothing was issued to this call: retry it to get that first reply")
    if isinstance(exc, IntegrityError):
        log.error("a uniqueness check refused a record: %s", exc.orig)
        return KysoError("recording failed (a uniqueness check refused it); nothing was done "
                         "or issued")
    log.warning("the database refused a request's data: %s", exc.orig)
    return InvalidRequest("the request carries a value the database cannot store (too long "
                          "or malformed); nothing was done or issued")


def wait_all(futures: Sequence[Future[_T]], timeout: float = 30.0) -> list[_T]:
    """Wait for durable writes (audit entries, group-committed records) under one deadline."""
    deadline = time.monotonic() + timeout
    try:
        return [f.result(max(0.0, deadline - time.monotonic())) for f in futures]
    except TimeoutError:
        raise StoreUnavailable(
            f"the audit log did not commit within {timeout:.0f} s; retry later"
        ) from None


__all__ = ["AuditEntry", "AuditLog", "format_time", "wait_all"]
