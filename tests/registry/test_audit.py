"""The audit log in-process: a real HSM key signs the checkpoints, the database is
SQLite or PostgreSQL (``db_url``); tampering is done with plain SQL."""

from __future__ import annotations

import hashlib
import itertools
import json
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from registry.audit import (
    ZERO_HASH,
    AuditLog,
    AuditNotary,
    AuditReport,
    TrustedKeys,
    ensure_audit_key,
    list_records,
    read_witnesses,
    record_hash,
    trusted_keys,
    verify,
)
from registry.db.audit import AuditCheckpointRow, AuditRecordRow
from registry.db.store import KeyPurpose, KeyRecord, KeyState, RegistryStore
from signer.keys.store import Pkcs11KeyStore

R = AuditRecordRow.__table__
C = AuditCheckpointRow.__table__


@pytest.fixture
def audit_key(keystore: Pkcs11KeyStore, store: RegistryStore) -> KeyRecord:
    return ensure_audit_key(keystore, store)


@pytest.fixture
def prefix() -> str:
    """The test session shares one token, and the token witnesses chains by node id:
    each test names its nodes apart (one token serves one deployment)."""
    return f"t{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def node1(prefix: str) -> str:
    return prefix + "node-1"  # the chain the tampering tests damage


@pytest.fixture
def make_log(
    keystore: Pkcs11KeyStore, store: RegistryStore, audit_key: KeyRecord, prefix: str
) -> Iterator[Callable[..., AuditLog]]:
    logs: list[AuditLog] = []

    def make(node: str = "node-1", **kw: float) -> AuditLog:
        log = AuditLog(store.engine, prefix + node, AuditNotary(keystore, store),
                       **kw)  # type: ignore[arg-type]
        logs.append(log)
        return log

    yield make
    for log in logs:
        log.close()


@pytest.fixture
def check(store: RegistryStore, keystore: Pkcs11KeyStore, prefix: str
          ) -> Callable[[], AuditReport]:
    def run() -> AuditReport:
        witnesses = {n: w for n, w in read_witnesses(keystore).items() if n.startswith(prefix)}
        return verify(store.engine, trusted=trusted_keys(keystore), witnesses=witnesses)

    return run


def test_audit_key_is_an_active_ed25519_key_in_the_hsm(
    keystore: Pkcs11KeyStore, store: RegistryStore, audit_key: KeyRecord
) -> None:
    assert audit_key.purpose is KeyPurpose.AUDIT and audit_key.state is KeyState.ACTIVE
    assert audit_key.label == "kyso-audit" and audit_key.algorithm.value == "ed25519"
    assert keystore.public_key(audit_key.key_id).public_key_der == audit_key.public_key_der
    assert ensure_audit_key(keystore, store) == audit_key  # idempotent


def test_record_hash_encoding_is_as_documented() -> None:
    t = datetime.fromisoformat("2026-11-24T08:15:02.000123+00:00")
    details = json.dumps({"b": "Cần Thơ", "a": 1}, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False)
    assert details == '{"a":1,"b":"Cần Thơ"}'

    def s(x: str) -> bytes:
        return struct.pack(">I", len(x.encode())) + x.encode()

    expected = hashlib.sha256(
        b"kyso-audit-record-v1\x00" + s("n1") + (3).to_bytes(8, "big")
        + s("2026-11-24T08:15:02.000123+00:00") + s("alice") + s("sign") + s("000.00.00.H13")
        + s(details) + b"\x11" * 32
    ).digest()
    assert record_hash("n1", 3, t, "alice", "sign", "000.00.00.H13", details,
                       b"\x11" * 32) == expected


def test_chain_continues_across_restarts(
    make_log: Callable[..., AuditLog], store: RegistryStore, check: Callable[[], AuditReport],
    node1: str,
) -> None:
    first = make_log()
    entries = [first.record("system", "agency.create", f"000.00.00.H{i:02d}", {"i": i})
               for i in range(5)]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    first.close()
    second = make_log()
    assert second.head == entries[-1]
    more = second.record("alice", "sign", "000.00.00.H13", {"digest": "ab"})
    assert more.seq == 6
    second.close()
    rows = list_records(store.engine, node_id=node1, limit=100)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].prev_hash == ZERO_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert rows[5].details == '{"digest":"ab"}' and rows[5].actor == "alice"
    report = check()
    assert report.ok and report.records == 6 and report.first_problem is None
    assert report.checkpoints_verified == 3  # the node's introduction, one per close()
    assert report.nodes[0].last_checkpoint_seq == 6


def test_concurrent_appends_make_a_gapless_chain(
    make_log: Callable[..., AuditLog], store: RegistryStore, check: Callable[[], AuditReport],
) -> None:
    log = make_log(checkpoint_every=50)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            futs = [log.append(f"client-{n}", "sign", "000.00.00.H13", {"n": n, "i": i})
                    for i in range(60)]
            for f in futs:
                f.result(30)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    log.close()
    with store.engine.connect() as conn:
        seqs = conn.execute(select(R.c.seq).order_by(R.c.seq)).scalars().all()
        checkpoints = conn.execute(select(C.c.seq)).scalars().all()
    assert seqs == list(range(1, 481))
    assert max(checkpoints) == 480  # groups may exceed checkpoint_every: one per group
    report = check()
    assert report.ok, report.first_problem
    assert report.records == 480 and report.checkpoints_verified == len(checkpoints)


def test_several_nodes_share_one_database(
    make_log: Callable[..., AuditLog], check: Callable[[], AuditReport], prefix: str
) -> None:
    logs = [make_log(f"node-{c}") for c in "abc"]
    for i in range(4):
        for n, log in enumerate(logs):
            if i <= n + 1:
                log.record("system", "timestamp", f"{i:x}", {})
    for log in logs:
        log.close()
    report = check()
    assert report.ok
    assert [(n.node_id, n.records, n.last_seq, n.checkpoints) for n in report.nodes] == [
        (prefix + "node-a", 2, 2, 2), (prefix + "node-b", 3, 3, 2), (prefix + "node-c", 4, 4, 2)]


def _message(node: str, seq: int, head: bytes, when: str) -> bytes:
    n, w = node.encode(), when.encode()
    return (b"kyso-audit-checkpoint-v2\x00" + struct.pack(">I", len(n)) + n
            + seq.to_bytes(8, "big") + head + struct.pack(">I", len(w)) + w)


def test_checkpoints_verify_with_cryptography(
    make_log: Callable[..., AuditLog], store: RegistryStore, keystore: Pkcs11KeyStore,
    audit_key: KeyRecord, node1: str,
) -> None:
    log = make_log(checkpoint_every=3)
    for i in range(7):
        log.record("system", "key.generate", f"k{i}", {})
    log.close()
    public = load_der_public_key(keystore.public_key(audit_key.key_id).public_key_der)
    assert isinstance(public, Ed25519PublicKey)
    with store.engine.connect() as conn:
        heads = {r.seq: bytes(r.hash) for r in conn.execute(select(R))}
        cps = conn.execute(select(C).order_by(C.c.seq)).all()
    heads[0] = bytes(32)  # the node's introduction: signed before its first record
    assert [c.seq for c in cps] == [0, 3, 6, 7]
    for cp in cps:
        assert cp.key_id == audit_key.key_id.hex() and cp.algorithm == "ed25519"
        assert bytes(cp.hash) == heads[cp.seq]
        # SQLite gives naive datetimes (stored as UTC), PostgreSQL aware ones.
        t = cp.time.replace(tzinfo=UTC) if cp.time.tzinfo is None else cp.time
        when = t.astimezone(UTC).isoformat(timespec="microseconds")
        message = _message(node1, cp.seq, bytes(cp.hash), when)
        public.verify(bytes(cp.signature), message)  # pure Ed25519 over the whole message
        with pytest.raises(InvalidSignature):  # never over its digest
            public.verify(bytes(cp.signature), hashlib.sha256(message).digest())
    # the HSM witnesses the head, signed the same way
    witness = read_witnesses(keystore)[node1]
    assert (witness.seq, witness.hash) == (7, heads[7])
    public.verify(witness.signature, _message(node1, 7, heads[7], witness.time))


def test_the_audit_key_signs_nothing_but_checkpoints(
    keystore: Pkcs11KeyStore, audit_key: KeyRecord
) -> None:
    """An Ed25519 key signs no digest, and its kyso-audit label keeps it from every
    other use (signer/keys/types.py: KeyUse)."""
    from signer.digest import Digest, HashAlg
    from signer.errors import NotUsable
    from signer.keys.types import KeyUse, Scheme

    d = Digest(HashAlg.SHA256, bytes(32))
    for scheme in (Scheme.EDDSA, Scheme.ECDSA):
        with pytest.raises(NotUsable):
            keystore.sign_digest(audit_key.key_id, d, scheme)
    with pytest.raises(NotUsable, match="kyso-audit"):
        keystore.sign_message(audit_key.key_id, b"x", use=KeyUse.SEAL)
    assert len(keystore.sign_message(audit_key.key_id, b"x", use=KeyUse.AUDIT)) == 64


def test_interval_checkpoint_while_idle(
    make_log: Callable[..., AuditLog], store: RegistryStore
) -> None:
    log = make_log(checkpoint_every=1000, checkpoint_interval_s=0.3)
    log.record("system", "agency.create", "000.00.00.H13", {})
    deadline = time.monotonic() + 10
    while log.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.checkpoints == 1
    with store.engine.connect() as conn:
        assert sorted(conn.execute(select(C.c.seq)).scalars().all()) == [0, 1]


# --- tampering -------------------------------------------------------------------------------


def _rehash_from(engine: Engine, node: str, start: int) -> None:
    """What a careful forger does: recompute every hash from ``start`` on."""
    with engine.begin() as conn:
        rows = conn.execute(select(R).where(R.c.node_id == node).order_by(R.c.seq)).all()
        prev = bytes(rows[start - 2].hash) if start > 1 else ZERO_HASH
        for r in rows[start - 1:]:
            h = record_hash(node, r.seq, r.time, r.actor, r.action, r.target, r.details, prev)
            conn.execute(update(R).where(R.c.id == r.id).values(prev_hash=prev, hash=h))
            prev = h


def _swap_seq(engine: Engine, node: str, a: int, b: int) -> None:
    n = R.c.node_id == node
    with engine.begin() as conn:
        conn.execute(update(R).where(n, R.c.seq == a).values(seq=-1))
        conn.execute(update(R).where(n, R.c.seq == b).values(seq=a))
        conn.execute(update(R).where(n, R.c.seq == -1).values(seq=b))


def _edit(engine: Engine, node: str, seq: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(R).where(R.c.node_id == node, R.c.seq == seq).values(**values))


def _delete_renumber(engine: Engine, node: str) -> None:
    n = R.c.node_id == node
    with engine.begin() as conn:
        conn.execute(delete(R).where(n, R.c.seq == 7))
        for s in range(8, 21):
            conn.execute(update(R).where(n, R.c.seq == s).values(seq=s - 1))


def _forge_signature(engine: Engine, node: str) -> None:
    cn = C.c.node_id == node
    with engine.begin() as conn:
        sig = conn.execute(select(C.c.signature).where(cn, C.c.seq == 10)).scalar_one()
        forged = bytes(sig[:-1]) + bytes([sig[-1] ^ 1])
        conn.execute(update(C).where(cn, C.c.seq == 10).values(signature=forged))


def _edit_and_rehash_one(engine: Engine, node: str) -> None:
    _edit(engine, node, 7, details='{"n":70}')
    with engine.begin() as conn:
        r = conn.execute(select(R).where(R.c.node_id == node, R.c.seq == 7)).one()
        h = record_hash(r.node_id, 7, r.time, r.actor, r.action, r.target, r.details,
                        bytes(r.prev_hash))
        conn.execute(update(R).where(R.c.node_id == node, R.c.seq == 7).values(hash=h))


def _edit_and_rehash_suffix(engine: Engine, node: str) -> None:
    _edit(engine, node, 7, details='{"n":70}')
    _rehash_from(engine, node, 7)


def _delete(engine: Engine, node: str, where: Any) -> None:
    with engine.begin() as conn:
        conn.execute(delete(R).where(R.c.node_id == node, where))


Tamper = Callable[[Engine, str], None]
TAMPERING: dict[str, tuple[Tamper, str, int]] = {
    "edit details": (lambda e, n: _edit(e, n, 7, details='{"n":70}'), "edited", 7),
    "edit actor": (lambda e, n: _edit(e, n, 7, actor="mallory"), "edited", 7),
    "edit time": (lambda e, n: _edit(e, n, 7, time=datetime.fromisoformat(
        "2020-01-01T00:00:00+00:00")), "edited", 7),
    "edit and rehash one record": (_edit_and_rehash_one, "edited", 7),
    "delete a record": (lambda e, n: _delete(e, n, R.c.seq == 7), "deleted", 7),
    "delete and renumber": (_delete_renumber, "deleted", 7),
    "swap two records": (lambda e, n: _swap_seq(e, n, 7, 8), "reordered", 7),
    "swap distant records": (lambda e, n: _swap_seq(e, n, 7, 18), "reordered", 7),
    "truncate the tail": (lambda e, n: _delete(e, n, R.c.seq >= 13), "truncated", 13),
    "forge a checkpoint signature": (_forge_signature, "bad-checkpoint", 10),
    "rewrite a suffix": (_edit_and_rehash_suffix, "rewritten", 6),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_reported(
    case: str, make_log: Callable[..., AuditLog], store: RegistryStore,
    check: Callable[[], AuditReport], node1: str,
) -> None:
    other = make_log("node-0")  # an intact chain beside the damaged one
    log = make_log(checkpoint_every=5)
    for n in range(1, 21):
        log.record("system", "sign", "000.00.00.H13", {"n": n})
        other.record("system", "sign", "000.00.00.H13", {"n": n})
    log.close()
    other.close()
    assert check().ok
    tamper, kind, seq = TAMPERING[case]
    tamper(store.engine, node1)
    report = check()
    assert not report.ok
    p = report.first_problem
    assert p is not None
    assert (p.node_id, p.kind, p.seq) == (node1, kind, seq), p
    assert next(n.problems for n in report.nodes) == 0  # node-0 is intact
    assert report.problem_count >= 1 and report.problems == (p,)


def test_a_chain_the_writer_cannot_vouch_for_is_refused(
    make_log: Callable[..., AuditLog], store: RegistryStore, node1: str,
) -> None:
    """At start the writer checks its head against the last trusted checkpoint (or the
    HSM's witness) and takes no records on a chain it cannot connect to it."""
    log = make_log(checkpoint_every=5)
    for n in range(1, 9):
        log.record("system", "sign", "000.00.00.H13", {"n": n})
    log.close()
    _edit_and_rehash_suffix(store.engine, node1)  # before the checkpoint at seq 5
    again = make_log()
    assert again.damage is not None and "rewritten" in again.damage
    from signer.errors import AuditLogDamaged

    with pytest.raises(AuditLogDamaged, match="kyso admin audit verify"):
        again.append("system", "sign", "000.00.00.H13", {})
    with store.engine.connect() as conn:
        assert max(conn.execute(select(C.c.seq).where(C.c.node_id == node1)).scalars()) == 8


def test_unknown_checkpoint_key_is_reported(
    make_log: Callable[..., AuditLog], store: RegistryStore
) -> None:
    log = make_log()
    log.record("system", "sign", "x", {})
    log.close()
    report = verify(store.engine, trusted=TrustedKeys({}), witnesses={})
    assert not report.ok and report.first_problem is not None
    assert report.first_problem.kind == "bad-checkpoint"


def test_hostile_text_cannot_break_a_group(
    make_log: Callable[..., AuditLog], check: Callable[[], AuditReport]
) -> None:
    log = make_log()
    futs = [log.append("anonymous", "permission.denied", "x\x00" * 500, {"why": "\x00"}),
            log.append("alice", "sign", "000.00.00.H13", {})]
    assert [f.result(30).seq for f in futs] == [1, 2]
    log.close()
    assert check().ok


def test_the_writer_survives_a_failing_recheck_and_closes_promptly(
    make_log: Callable[..., AuditLog], store: RegistryStore, node1: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Someone appends a record to the running node's chain, and the re-check that
    follows the collision fails in an unforeseen way (here: reading the HSM witness
    raises RuntimeError). The writer thread must live on: later calls are answered (not
    left to time out) and close() returns at once. Before, the exception escaped the
    writer thread, later calls waited out their 30 s, and a node stopping with such a
    call in flight was killed."""
    log = make_log()
    log.record("system", "sign", "000.00.00.H13", {"n": 1})
    with store.engine.connect() as conn:
        last = conn.execute(select(R).where(R.c.node_id == node1)
                            .order_by(R.c.seq.desc())).first()
    assert last is not None
    now = datetime.now(UTC)
    details = json.dumps({"count": 1}, separators=(",", ":"))
    with store.engine.begin() as conn:
        conn.execute(R.insert().values(
            node_id=node1, seq=last.seq + 1, time=now, actor="nobody", action="sign",
            target="000.00.00.H13", details=details, prev_hash=bytes(last.hash),
            hash=record_hash(node1, last.seq + 1, now, "nobody", "sign", "000.00.00.H13",
                             details, bytes(last.hash))))

    def broken(_node: str) -> None:
        raise RuntimeError("injected: the witness cannot be read")

    monkeypatch.setattr(log._notary, "read_witness", broken)
    from signer.errors import KysoError

    for _ in range(2):  # the collision, then whatever state the failed re-check left
        with pytest.raises(KysoError) as refused:
            log.record("system", "sign", "000.00.00.H13", {"n": 2}, timeout=20)
        assert "did not commit within" not in refused.value.message, \
            "the call was left to time out: the writer thread is gone"
        assert log._thread.is_alive(), "the writer thread died"
    log.close(timeout=20)
    assert not log._thread.is_alive(), "the writer thread did not stop"


def test_the_audit_service_says_unavailable_when_the_database_is_away(tmp_path) -> None:
    """A database outage while reading the log is UNAVAILABLE (retry), as every other
    read says it, not INTERNAL (found while documenting the RPCs' statuses)."""
    from sqlalchemy import create_engine

    from kyso.registry.v1 import audit_pb2
    from registry.audit_service import AuditServicer
    from signer.errors import StoreUnavailable

    away = create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'kyso.db'}")
    servicer = AuditServicer(away, None, None)  # type: ignore[arg-type]
    with pytest.raises(StoreUnavailable):
        servicer.ListAuditRecords(audit_pb2.ListAuditRecordsRequest(), None)  # type: ignore[arg-type]
