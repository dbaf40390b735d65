"""The audit log in-process: a real HSM key signs the checkpoints, the database is
SQLite or PostgreSQL (``db_url``); tampering is done with plain SQL."""

from __future__ import annotations

import hashlib
import itertools
import json
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from registry.audit import (
    ZERO_HASH,
    AuditCheckpointRow,
    AuditLog,
    AuditRecordRow,
    AuditReport,
    CheckpointSigner,
    audit_public_keys,
    ensure_audit_key,
    list_records,
    record_hash,
    verify,
)
from registry.store import KeyPurpose, KeyRecord, KeyState, RegistryStore
from signer.keys.store import Pkcs11KeyStore

R = AuditRecordRow.__table__
C = AuditCheckpointRow.__table__
N = R.c.node_id == "node-1"  # the chain the tampering tests damage
CN = C.c.node_id == "node-1"


@pytest.fixture
def store(db_url: str) -> Iterator[RegistryStore]:
    s = RegistryStore(db_url)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def audit_key(keystore: Pkcs11KeyStore, store: RegistryStore) -> KeyRecord:
    return ensure_audit_key(keystore, store)


@pytest.fixture
def make_log(
    keystore: Pkcs11KeyStore, store: RegistryStore, audit_key: KeyRecord
) -> Iterator[Callable[..., AuditLog]]:
    logs: list[AuditLog] = []

    def make(node: str = "node-1", **kw: float) -> AuditLog:
        log = AuditLog(store.engine, node, CheckpointSigner.from_keystore(keystore, audit_key),
                       **kw)  # type: ignore[arg-type]
        logs.append(log)
        return log

    yield make
    for log in logs:
        log.close()


def check(store: RegistryStore, keystore: Pkcs11KeyStore) -> AuditReport:
    return verify(store.engine, public_keys=audit_public_keys(keystore, store.engine))


def test_audit_key_is_active_ec_p256_in_the_hsm(
    keystore: Pkcs11KeyStore, store: RegistryStore, audit_key: KeyRecord
) -> None:
    assert audit_key.purpose is KeyPurpose.AUDIT and audit_key.state is KeyState.ACTIVE
    assert audit_key.label == "kyso-audit" and audit_key.algorithm.value == "ec-p256"
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
    make_log: Callable[..., AuditLog], store: RegistryStore, keystore: Pkcs11KeyStore
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
    rows = list_records(store.engine, node_id="node-1", limit=100)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].prev_hash == ZERO_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert rows[5].details == '{"digest":"ab"}' and rows[5].actor == "alice"
    report = check(store, keystore)
    assert report.ok and report.records == 6 and report.first_problem is None
    assert report.checkpoints_verified == 2  # one per close()
    assert report.nodes[0].last_checkpoint_seq == 6


def test_concurrent_appends_make_a_gapless_chain(
    make_log: Callable[..., AuditLog], store: RegistryStore, keystore: Pkcs11KeyStore
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
    report = check(store, keystore)
    assert report.ok, report.first_problem
    assert report.records == 480 and report.checkpoints_verified == len(checkpoints)


def test_several_nodes_share_one_database(
    make_log: Callable[..., AuditLog], store: RegistryStore, keystore: Pkcs11KeyStore
) -> None:
    logs = [make_log(f"node-{c}") for c in "abc"]
    for i in range(4):
        for n, log in enumerate(logs):
            if i <= n + 1:
                log.record("system", "timestamp", f"{i:x}", {})
    for log in logs:
        log.close()
    report = check(store, keystore)
    assert report.ok
    assert [(n.node_id, n.records, n.last_seq, n.checkpoints) for n in report.nodes] == [
        ("node-a", 2, 2, 1), ("node-b", 3, 3, 1), ("node-c", 4, 4, 1)]


def test_checkpoints_verify_with_cryptography(
    make_log: Callable[..., AuditLog], store: RegistryStore, keystore: Pkcs11KeyStore,
    audit_key: KeyRecord,
) -> None:
    log = make_log(checkpoint_every=3)
    for i in range(7):
        log.record("system", "key.generate", f"k{i}", {})
    log.close()
    public = load_der_public_key(keystore.public_key(audit_key.key_id).public_key_der)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    with store.engine.connect() as conn:
        heads = {r.seq: bytes(r.hash) for r in conn.execute(select(R))}
        cps = conn.execute(select(C).order_by(C.c.seq)).all()
    assert [c.seq for c in cps] == [3, 6, 7]
    for cp in cps:
        assert cp.key_id == audit_key.key_id.hex() and cp.algorithm == "ec-p256"
        assert bytes(cp.hash) == heads[cp.seq]
        # SQLite gives naive datetimes (stored as UTC), PostgreSQL aware ones.
        t = cp.time.replace(tzinfo=UTC) if cp.time.tzinfo is None else cp.time
        when = t.astimezone(UTC).isoformat(timespec="microseconds")
        node, w = b"node-1", when.encode()
        message = (b"kyso-audit-checkpoint-v1\x00" + struct.pack(">I", len(node)) + node
                   + cp.seq.to_bytes(8, "big") + bytes(cp.hash) + struct.pack(">I", len(w)) + w)
        digest = hashlib.sha256(message).digest()
        public.verify(bytes(cp.signature), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        with pytest.raises(InvalidSignature):
            public.verify(bytes(cp.signature), bytes(32), ec.ECDSA(utils.Prehashed(
                hashes.SHA256())))


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
        assert conn.execute(select(C.c.seq)).scalars().all() == [1]


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


def _swap_seq(engine: Engine, a: int, b: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(R).where(N, R.c.seq == a).values(seq=-1))
        conn.execute(update(R).where(N, R.c.seq == b).values(seq=a))
        conn.execute(update(R).where(N, R.c.seq == -1).values(seq=b))


def _edit(engine: Engine, seq: int, **values: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(R).where(N, R.c.seq == seq).values(**values))


def _delete_renumber(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(R).where(N, R.c.seq == 7))
        for s in range(8, 21):
            conn.execute(update(R).where(N, R.c.seq == s).values(seq=s - 1))


def _forge_signature(engine: Engine) -> None:
    with engine.begin() as conn:
        sig = conn.execute(select(C.c.signature).where(CN, C.c.seq == 10)).scalar_one()
        forged = bytes(sig[:-1]) + bytes([sig[-1] ^ 1])
        conn.execute(update(C).where(CN, C.c.seq == 10).values(signature=forged))


def _edit_and_rehash_one(engine: Engine) -> None:
    _edit(engine, 7, details='{"n":70}')
    with engine.begin() as conn:
        r = conn.execute(select(R).where(N, R.c.seq == 7)).one()
        h = record_hash(r.node_id, 7, r.time, r.actor, r.action, r.target, r.details,
                        bytes(r.prev_hash))
        conn.execute(update(R).where(N, R.c.seq == 7).values(hash=h))


def _edit_and_rehash_suffix(engine: Engine) -> None:
    _edit(engine, 7, details='{"n":70}')
    _rehash_from(engine, "node-1", 7)


TAMPERING: dict[str, tuple[Callable[[Engine], None], str, int]] = {
    "edit details": (lambda e: _edit(e, 7, details='{"n":70}'), "edited", 7),
    "edit actor": (lambda e: _edit(e, 7, actor="mallory"), "edited", 7),
    "edit time": (lambda e: _edit(e, 7, time=datetime.fromisoformat(  # type: ignore[arg-type]
        "2020-01-01T00:00:00+00:00")), "edited", 7),
    "edit and rehash one record": (_edit_and_rehash_one, "edited", 7),
    "delete a record": (lambda e: _delete(e, R.c.seq == 7), "deleted", 7),
    "delete and renumber": (_delete_renumber, "deleted", 7),
    "swap two records": (lambda e: _swap_seq(e, 7, 8), "reordered", 7),
    "swap distant records": (lambda e: _swap_seq(e, 7, 18), "reordered", 7),
    "truncate the tail": (lambda e: _delete(e, R.c.seq >= 13), "truncated", 13),
    "forge a checkpoint signature": (_forge_signature, "bad-checkpoint", 10),
    "rewrite a suffix": (_edit_and_rehash_suffix, "rewritten", 6),
}


def _delete(engine: Engine, where: object) -> None:
    with engine.begin() as conn:
        conn.execute(delete(R).where(N, where))  # type: ignore[arg-type]


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_reported(
    case: str, make_log: Callable[..., AuditLog], store: RegistryStore,
    keystore: Pkcs11KeyStore,
) -> None:
    other = make_log("node-0")  # an intact chain beside the damaged one
    log = make_log(checkpoint_every=5)
    for n in range(1, 21):
        log.record("system", "sign", "000.00.00.H13", {"n": n})
        other.record("system", "sign", "000.00.00.H13", {"n": n})
    log.close()
    other.close()
    assert check(store, keystore).ok
    tamper, kind, seq = TAMPERING[case]
    tamper(store.engine)
    report = check(store, keystore)
    assert not report.ok
    p = report.first_problem
    assert p is not None
    assert (p.node_id, p.kind, p.seq) == ("node-1", kind, seq), p
    assert next(n.problems for n in report.nodes) == 0  # node-0 is intact
    assert report.problem_count >= 1 and report.problems == (p,)


def test_unknown_checkpoint_key_is_reported(
    make_log: Callable[..., AuditLog], store: RegistryStore
) -> None:
    log = make_log()
    log.record("system", "sign", "x", {})
    log.close()
    report = verify(store.engine, public_keys={})
    assert not report.ok and report.first_problem is not None
    assert report.first_problem.kind == "bad-checkpoint"


def test_hostile_text_cannot_break_a_group(
    make_log: Callable[..., AuditLog], store: RegistryStore, keystore: Pkcs11KeyStore
) -> None:
    log = make_log()
    futs = [log.append("anonymous", "permission.denied", "x\x00" * 500, {"why": "\x00"}),
            log.append("alice", "sign", "000.00.00.H13", {})]
    assert [f.result(30).seq for f in futs] == [1, 2]
    log.close()
    assert check(store, keystore).ok
