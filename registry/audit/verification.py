"""Checking the audit log: every node's chain, its checkpoints and the HSM's witnesses.

:func:`verify` walks each chain by ``seq`` and reports, per node, the first problem
and how many there are:

* ``edited``: a record's fields no longer give its hash, or a record's hash was
  recomputed after an edit (the next record chains to a different hash);
* ``deleted``: a gap in ``seq``, a record that chains to a record that is nowhere in
  the log (renumbered after a deletion), or a whole chain the HSM witnessed that is
  gone from the database;
* ``reordered``: a record that chains to a record present elsewhere in the chain;
* ``bad-checkpoint``: a checkpoint not signed by a trusted audit key;
* ``rewritten``: a validly signed checkpoint (or the HSM's witness) whose hash is not
  the chain's hash at its ``seq`` (someone recomputed the hashes of a whole suffix);
* ``truncated``: the chain ends before a signed checkpoint or the HSM's witness;
* ``unwitnessed``: records of a node that has neither a trusted checkpoint nor a
  witness in the HSM (a chain no node of this deployment wrote);
* ``unchained``: an administrative change's audit record that was committed with the
  change but never moved into a chain (``registry.audit.actions``).

The nodes come from the database *and* from the HSM's witnesses, and the trusted
keys from the HSM only (``registry.audit.notary``).

Limits, stated plainly: the hashes are unkeyed, so someone who can write the
database can rewrite a chain consistently; only checkpoints and witnesses make that
detectable, up to each node's last checkpoint. Records after a node's last checkpoint
(at most ``audit.checkpoint_every`` records or ``audit.checkpoint_interval_s`` seconds
of them; none after a clean stop) are protected by the hash chain alone: they can be
deleted, or a forged tail appended while the node is down after a crash, undetectably.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from registry.audit.notary import TrustedKeys
from registry.audit.records import ZERO_HASH, Checkpoint, format_time, record_hash
from registry.db.audit import CHECKPOINTS, OUTBOX, RECORDS
from registry.db.models import KeyRow

STALE_OUTBOX = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class AuditProblem:
    node_id: str
    seq: int
    record_id: int | None  # the row where it was found (None: none, e.g. a checkpoint)
    kind: str  # edited | deleted | reordered | bad-checkpoint | rewritten | truncated | …
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


def verify(engine: Engine, *, trusted: TrustedKeys, witnesses: Mapping[str, Checkpoint],
           now: datetime | None = None) -> AuditReport:
    """Check every node's chain, its checkpoints and its witness. Read ``witnesses`` from
    the HSM *before* calling (a witness is written after the records it covers commit).

    Rows are streamed in ``(node_id, seq)`` order, so memory does not grow with the log.
    """
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        nodes = sorted(
            set(conn.execute(select(RECORDS.c.node_id).distinct()).scalars())
            | set(conn.execute(select(CHECKPOINTS.c.node_id).distinct()).scalars())
            | set(witnesses)
        )
        # Advisory (the database says it): checkpoints signed after their key was marked
        # compromised are not trusted.
        compromised: dict[bytes, datetime] = {}
        for k, t in conn.execute(select(KeyRow.key_id, KeyRow.compromised_at).where(
                KeyRow.purpose == "audit", KeyRow.compromised_at.is_not(None))):
            if t is not None:
                compromised[bytes.fromhex(k)] = t if t.tzinfo else t.replace(tzinfo=UTC)
        stale: dict[str, int] = {}
        for node_id, when in conn.execute(select(OUTBOX.c.node_id, OUTBOX.c.time)):
            if (when if when.tzinfo else when.replace(tzinfo=UTC)) < now - STALE_OUTBOX:
                stale[node_id] = stale.get(node_id, 0) + 1
    summaries: list[NodeSummary] = []
    firsts: list[AuditProblem] = []
    total = verified = count = 0
    for node in sorted({*nodes, *stale}):
        walk = _NodeWalk(engine, node, trusted, witnesses.get(node), compromised)
        walk.run()
        if stale.get(node):
            walk.problem(walk.last_seq + 1, None, "unchained",
                         f"{stale[node]} administrative change(s) of node {node} were "
                         "committed with their audit records, which never reached the chain "
                         "(is the node down?)")
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
    def __init__(self, engine: Engine, node: str, trusted: TrustedKeys,
                 witness: Checkpoint | None,
                 compromised: Mapping[bytes, datetime] | None = None) -> None:
        self.engine = engine
        self.compromised = compromised or {}
        self.node = node
        self.trusted = trusted
        self.witness = witness
        self.records = self.verified = self.problems = 0
        self.last_seq = self.last_good_checkpoint = 0
        self.first: AuditProblem | None = None
        self.hash_at_witness: bytes | None = None

    def problem(self, seq: int, record_id: int | None, kind: str, message: str) -> None:
        self.problems += 1
        if self.first is None:
            self.first = AuditProblem(self.node, seq, record_id, kind, message)

    def run(self) -> None:
        # Two connections; checkpoints are read first: a checkpoint is committed with or
        # after the records it covers, so every checkpoint seen has its records visible
        # to the later records query, even while this node keeps writing.
        with self.engine.connect() as cp_conn, self.engine.connect() as rec_conn:
            cps = _stream(cp_conn, select(CHECKPOINTS).where(CHECKPOINTS.c.node_id == self.node)
                          .order_by(CHECKPOINTS.c.seq, CHECKPOINTS.c.id))
            cp = next(cps, None)
            rows = _stream(rec_conn, select(RECORDS).where(RECORDS.c.node_id == self.node)
                           .order_by(RECORDS.c.seq, RECORDS.c.id))
            expected, prev, prev_row = 1, ZERO_HASH, None
            for row in rows:
                self.records += 1
                seq = int(row.seq)
                while cp is not None and cp.seq < seq:  # its record is missing
                    self.check_checkpoint(cp, None)
                    cp = next(cps, None)
                self.check_record(row, expected, prev, prev_row)
                if self.witness is not None and seq == self.witness.seq:
                    self.hash_at_witness = bytes(row.hash)
                while cp is not None and cp.seq == seq:
                    self.check_checkpoint(cp, row)
                    cp = next(cps, None)
                expected, prev, prev_row = max(expected, seq) + 1, bytes(row.hash), row
                self.last_seq = seq
            while cp is not None:
                self.check_checkpoint(cp, None)
                cp = next(cps, None)
        self.check_witness()

    def check_witness(self) -> None:
        """The HSM's witness says how far this chain reached (registry.audit.notary)."""
        w = self.witness
        if w is None:
            if self.records and not self.verified:
                self.problem(1, None, "unwitnessed",
                             f"node {self.node}'s {self.records} records have no checkpoint "
                             "signed by a trusted audit key and the HSM holds no witness of "
                             "this node: no node of this deployment wrote them")
            return
        if not self.trusted.verifies(w):
            self.problem(w.seq, None, "bad-checkpoint",
                         f"the HSM's witness of node {self.node} (seq {w.seq}) is not signed "
                         "by a trusted audit key")
            return
        if w.seq == 0:
            return
        if not self.records:
            self.problem(1, None, "deleted",
                         f"node {self.node}'s chain is gone from the database, but the HSM "
                         f"witnessed it up to seq {w.seq}: the whole chain was deleted")
        elif self.last_seq < w.seq:
            self.problem(self.last_seq + 1, None, "truncated",
                         f"node {self.node}'s chain ends at seq {self.last_seq}, but the HSM "
                         f"witnessed it up to seq {w.seq}: records {self.last_seq + 1} to "
                         f"{w.seq} (and their checkpoints) were deleted")
        elif self.hash_at_witness is None:
            self.problem(w.seq, None, "deleted",
                         f"record {w.seq}, witnessed by the HSM, is missing")
        elif self.hash_at_witness != w.hash:
            self.problem(w.seq, None, "rewritten",
                         f"the chain's hash at seq {w.seq} differs from the HSM's witness: "
                         "the chain was rewritten")

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
        seq = int(cp.seq)
        checkpoint = Checkpoint.from_row(cp)
        if checkpoint.key_id not in self.trusted.keys:
            self.problem(seq, None, "bad-checkpoint",
                         f"checkpoint {cp.id} at seq {seq} is signed by key {cp.key_id}, which "
                         "is not a trusted audit key (the HSM's kyso-audit keys, as pinned)")
            return
        if not self.trusted.verifies(checkpoint):
            self.problem(seq, None, "bad-checkpoint",
                         f"the signature of checkpoint {cp.id} at seq {seq} does not verify")
            return
        since = self.compromised.get(checkpoint.key_id)
        if since is not None and datetime.fromisoformat(checkpoint.time) > since:
            self.problem(seq, None, "bad-checkpoint",
                         f"checkpoint {cp.id} at seq {seq} was signed by audit key "
                         f"{cp.key_id} after it was marked compromised ({since:%Y-%m-%d %H:%M} "
                         "UTC)")
            return
        if seq == 0 and bytes(cp.hash) == ZERO_HASH:  # a node's introduction, before its
            self.verified += 1                         # first record: nothing to compare
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
                select(RECORDS.c.id).where(RECORDS.c.node_id == self.node,
                                            RECORDS.c.hash == h).limit(1)
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
                 actions: Sequence[str] = ()) -> list[AuditRecord]:
    """Records in id order after ``after_id``, optionally of one node and of one action
    (``actions``: the names its records may carry)."""
    q = select(RECORDS).where(RECORDS.c.id > after_id)
    if node_id:
        q = q.where(RECORDS.c.node_id == node_id)
    if actions:
        q = q.where(RECORDS.c.action.in_(list(actions)))
    q = q.order_by(RECORDS.c.id).limit(max(1, min(limit, 1000)))
    with engine.connect() as conn:
        return [AuditRecord(int(r.id), r.node_id, int(r.seq), format_time(r.time), r.actor,
                            r.action, r.target, r.details, bytes(r.prev_hash), bytes(r.hash))
                for r in conn.execute(q)]
