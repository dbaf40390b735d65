"""Promise: the audit log is evidence even against someone who can write the database.

The attacker holds the database credentials (not the HSM PIN) and, where a test says
so, an ordinary signer grant. They rewrite records and recompute the hash chain,
forge checkpoints with a key they can make sign (an agency key, through
``SignDigests``), make the server's own system keys sign for an agency, delete or
invent whole node chains, cut a chain's tail together with its checkpoints, append
records to a running node's chain, and break the audit log under an admin action.
Each attack must be reported by ``kyso admin audit verify`` or refused by the node.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Engine

from clients.client import KysoClientError
from registry.audit import record_hash
from registry.db.audit import AuditCheckpointRow, AuditRecordRow
from registry.db.models import AgencyRow, CertificateRow, KeyRow
from tests.adversarial.nodes import DEMO, Node

pytestmark = pytest.mark.e2e
R = AuditRecordRow.__table__
C = AuditCheckpointRow.__table__
K = KeyRow.__table__
CERTS = CertificateRow.__table__
A = AgencyRow.__table__
NODE = "e2e"
EC_AGENCY = "H49"  # a level-1 Decision 20 code; the attacker has a signer grant on it


# --- the attacker's tools -------------------------------------------------------------------


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">I", len(b)) + b


def v1_checkpoint_digest(node: str, seq: int, head: bytes, when: str) -> bytes:
    """What a checkpoint signed before this change: SHA-256 of a prefixed structure
    (the encoding is documented in registry/audit.py, so the attacker knows it)."""
    return hashlib.sha256(b"kyso-audit-checkpoint-v1\x00" + _str(node) + struct.pack(">Q", seq)
                          + head + _str(when)).digest()


def chain(engine: Engine, node: str = NODE) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(R).where(R.c.node_id == node).order_by(R.c.seq)))


def rewrite_from(engine: Engine, seq: int, edit: dict[str, Any]) -> bytes:
    """Edit record ``seq`` and recompute the hash of it and of every record after it, so
    the chain links again; returns the new hash of record ``seq``."""
    rows = chain(engine)
    prev = next(bytes(r.hash) for r in rows if r.seq == seq - 1) if seq > 1 else bytes(32)
    edited_hash = b""
    with engine.begin() as conn:
        for r in rows:
            if r.seq < seq:
                continue
            fields = {"time": r.time, "actor": r.actor, "action": r.action, "target": r.target,
                      "details": r.details}
            if r.seq == seq:
                fields.update(edit)
            h = record_hash(NODE, r.seq, fields["time"], fields["actor"], fields["action"],
                            fields["target"], fields["details"], prev)
            conn.execute(update(R).where(R.c.id == r.id).values(**fields, prev_hash=prev,
                                                                 hash=h))
            if r.seq == seq:
                edited_hash = h
            prev = h
    return edited_hash


def audit_report(node: Node) -> dict[str, Any]:
    assert node.server is not None
    r = node.server.cli("admin", "audit", "verify", "--json")
    assert r.returncode in (0, 1), r.stdout + r.stderr
    report: dict[str, Any] = json.loads(r.stdout)
    assert report["ok"] == (r.returncode == 0)
    return report


def sign_some(node: Node, n: int = 3) -> None:
    assert node.server is not None
    with node.server.client() as c:
        for i in range(n):
            c.sign_digests(DEMO, [hashlib.sha256(f"công văn số {i}".encode()).digest()])


def cli_ok(node: Node, *args: str) -> str:
    assert node.server is not None
    r = node.server.cli(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def signing_refused(node: Node) -> str:
    """Signing on a node whose audit chain is damaged must be refused; returns why."""
    assert node.server is not None
    with node.server.client() as c:
        with pytest.raises(KysoClientError) as info:
            c.sign_digests(DEMO, [hashlib.sha256(b"after the tampering").digest()])
    return f"{info.value.code}: {info.value}"


def checkpoints(engine: Engine, node: str = NODE) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(C).where(C.c.node_id == node).order_by(C.c.seq)))


# --- attacks --------------------------------------------------------------------------------


def test_a_checkpoint_forged_with_an_agency_key_is_not_trusted(node: Node) -> None:
    """The trusted checkpoint keys came from the database (any ``keys`` row of purpose
    ``audit``, its id compared case-sensitively while the HSM lookup is not), and an
    agency's EC key signs any digest through SignDigests: a rewritten log passed."""
    sign_some(node)
    cli_ok(node, "admin", "agency", "add", EC_AGENCY, "--name", "Tỉnh Quảng Ninh")
    cli_ok(node, "admin", "key", "generate", EC_AGENCY, "--algorithm", "ec-p256")
    cli_ok(node, "admin", "cert", "issue", EC_AGENCY)
    assert node.stop() == 0
    engine = node.database()
    victim = next(r for r in chain(engine) if r.action == "sign")
    details = json.loads(victim.details)
    details["digests"] = ["sha256:" + "00" * 32]
    forged_details = json.dumps(details, sort_keys=True, separators=(",", ":"),
                                ensure_ascii=False)
    new_hash = record_hash(NODE, victim.seq, victim.time, victim.actor, victim.action,
                           victim.target, forged_details, bytes(victim.prev_hash))
    when = datetime.now(UTC).isoformat(timespec="microseconds")

    # The attacker's signer grant makes the agency key sign the checkpoint digest.
    srv = node.start()
    with srv.client() as c:
        resp = c.sign_digests(EC_AGENCY, [v1_checkpoint_digest(NODE, victim.seq, new_hash,
                                                               when)])
    forged_signature = bytes(resp.signatures[0].signature)
    assert node.stop() == 0

    with engine.begin() as conn:
        agency_key = conn.execute(select(K).where(K.c.label.like(f"seal-{EC_AGENCY}-%"))).one()
    assert rewrite_from(engine, victim.seq, {"details": forged_details}) == new_hash
    with engine.begin() as conn:
        conn.execute(delete(C).where(C.c.node_id == NODE, C.c.seq >= victim.seq))
        conn.execute(insert(C).values(
            node_id=NODE, seq=victim.seq, hash=new_hash, time=datetime.fromisoformat(when),
            key_id=agency_key.key_id.upper(), algorithm="ec-p256", scheme="ecdsa",
            signature=forged_signature))
        conn.execute(insert(K).values(
            key_id=agency_key.key_id.upper(), label="kyso-audit", agency_id=None,
            purpose="audit", algorithm="ec-p256", scheme="ecdsa", state="active",
            public_key_der=agency_key.public_key_der, created_at=datetime.now(UTC),
            activated_at=datetime.now(UTC)))
    engine.dispose()

    node.start()
    report = audit_report(node)
    assert not report["ok"], report
    kinds = {p["kind"] for p in report["problems"]}
    assert kinds & {"bad-checkpoint", "rewritten", "truncated"}, report


@pytest.mark.parametrize("purpose", ["audit", "tsa", "dev-ca"])
def test_system_keys_never_sign_through_sign_digests(node: Node, purpose: str) -> None:
    """A database writer points an agency at one of the server's own keys (the audit
    checkpoint key, the TSA key, the CA key): SignDigests must not become a way to
    forge checkpoints, timestamps or certificates."""
    engine = node.database()
    digest = hashlib.sha256(b"a digest the attacker chose").digest()
    with engine.begin() as conn:
        target = conn.execute(select(K).where(K.c.purpose == purpose,
                                              K.c.state == "active")).first()
        assert target is not None, f"no active {purpose} key"
        demo_id = conn.execute(select(A.c.id).where(A.c.code == DEMO)).scalar_one()
        demo_key = conn.execute(select(K).where(K.c.agency_id == demo_id,
                                                K.c.state == "active")).one()
        cert = conn.execute(select(CERTS).where(CERTS.c.key_pk == demo_key.id)).first()
        conn.execute(update(K).where(K.c.id == demo_key.id).values(state="retired"))
        conn.execute(update(K).where(K.c.id == target.id).values(
            agency_id=demo_id, purpose="seal", state="active", activated_at=datetime.now(UTC)))
        values = {k: v for k, v in cert._mapping.items() if k != "id"}
        conn.execute(insert(CERTS).values(**{**values, "key_pk": target.id}))
    engine.dispose()
    time.sleep(2.5)  # past the signer's key cache
    assert node.server is not None
    with node.server.client() as c:
        try:
            resp = c.sign_digests(DEMO, [digest])
        except KysoClientError as exc:
            assert exc.code == "FAILED_PRECONDITION", exc
            return
    signature = bytes(resp.signatures[0].signature)
    public = load_der_public_key(target.public_key_der)
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, digest, padding.PKCS1v15(),
                          utils.Prehashed(hashes.SHA256()))
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        else:
            pytest.fail("the node signed, with a key of an unexpected type")
    except InvalidSignature:
        pytest.fail("the node signed with some other key instead of refusing")
    pytest.fail(f"SignDigests signed a chosen digest with the {purpose} key")


def test_a_deleted_node_chain_is_reported(node: Node) -> None:
    sign_some(node)
    assert node.stop() == 0
    engine = node.database()
    with engine.begin() as conn:
        conn.execute(delete(R).where(R.c.node_id == NODE))
        conn.execute(delete(C).where(C.c.node_id == NODE))
    engine.dispose()
    node.start()
    report = audit_report(node)
    assert not report["ok"], report
    assert any(p["node_id"] == NODE for p in report["problems"]), report


def test_an_invented_node_chain_is_reported(node: Node) -> None:
    """A well-formed chain for a node that never existed, hashes and all."""
    engine = node.database()
    prev = bytes(32)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for seq in range(1, 4):
            details = json.dumps({"count": 1}, separators=(",", ":"))
            h = record_hash("ghost", seq, now, "demo-admin", "sign", DEMO, details, prev)
            conn.execute(insert(R).values(node_id="ghost", seq=seq, time=now,
                                          actor="demo-admin", action="sign", target=DEMO,
                                          details=details, prev_hash=prev, hash=h))
            prev = h
    engine.dispose()
    report = audit_report(node)
    assert not report["ok"], report
    assert any(p["node_id"] == "ghost" for p in report["problems"]), report


def test_a_tail_cut_with_its_checkpoints_is_reported(node: Node) -> None:
    sign_some(node, 6)
    assert node.stop() == 0  # a clean stop checkpoints the head
    engine = node.database()
    head = chain(engine)[-1].seq
    with engine.begin() as conn:
        conn.execute(delete(R).where(R.c.node_id == NODE, R.c.seq > head - 4))
        conn.execute(delete(C).where(C.c.node_id == NODE, C.c.seq > head - 4))
    engine.dispose()
    node.start()
    report = audit_report(node)
    assert not report["ok"], report
    assert any(p["node_id"] == NODE for p in report["problems"]), report


def test_the_writer_never_signs_a_head_it_cannot_connect_to_a_signed_checkpoint(
    node: Node,
) -> None:
    """Records before the last checkpoint are rewritten and the chain recomputed: the
    node must not sign the rewritten head (nor sign anything it could not record)."""
    sign_some(node)
    assert node.stop() == 0
    engine = node.database()
    signed_before = {cp.seq for cp in checkpoints(engine)}
    victim = next(r for r in chain(engine) if r.action == "sign")
    rewrite_from(engine, victim.seq, {"actor": "somebody-else"})
    node.start()
    why = signing_refused(node)
    assert "audit" in why.lower(), why
    report = audit_report(node)
    assert not report["ok"], report
    assert node.stop() == 0
    assert {cp.seq for cp in checkpoints(engine)} == signed_before, "a new checkpoint " \
        "was signed over a rewritten chain"
    engine.dispose()


def test_records_appended_to_a_running_nodes_chain_are_not_signed(node: Node) -> None:
    """Someone appends a well-chained record to the running node's chain; the node's
    next write collides with it. It must not adopt and sign the foreign record."""
    sign_some(node, 1)
    engine = node.database()
    last = chain(engine)[-1]
    details = json.dumps({"count": 1}, separators=(",", ":"))
    now = datetime.now(UTC)
    h = record_hash(NODE, last.seq + 1, now, "nobody", "sign", DEMO, details, bytes(last.hash))
    with engine.begin() as conn:
        conn.execute(insert(R).values(node_id=NODE, seq=last.seq + 1, time=now, actor="nobody",
                                      action="sign", target=DEMO, details=details,
                                      prev_hash=bytes(last.hash), hash=h))
    assert node.server is not None
    with node.server.client() as c:
        for _ in range(2):  # the first collides; the node must not carry on from the forgery
            with pytest.raises(KysoClientError):
                c.sign_digests(DEMO, [hashlib.sha256(b"next").digest()])
    assert node.stop() == 0
    assert all(cp.seq <= last.seq for cp in checkpoints(engine)), "the foreign record was signed"
    engine.dispose()


def _fail_inserts(engine: Engine, table: str) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} "
                              "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"))
        else:
            conn.execute(text("CREATE FUNCTION kyso_fail() RETURNS trigger AS $$ BEGIN "
                              "RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql"))
            conn.execute(text(f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} "
                              "FOR EACH ROW EXECUTE FUNCTION kyso_fail()"))


def _heal_inserts(engine: Engine, table: str) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER fail_{table}"))
        else:
            conn.execute(text(f"DROP TRIGGER fail_{table} ON {table}"))
            conn.execute(text("DROP FUNCTION kyso_fail()"))


def test_an_admin_change_is_never_left_unaudited(node: Node) -> None:
    """The audit log fails at the moment an administrator creates an agency: the agency
    must either not exist, or its audit record must be on the chain once the log works."""
    engine = node.database()
    _fail_inserts(engine, "audit_records")
    try:
        assert node.server is not None
        node.server.cli("admin", "agency", "add", "H26", "--name", "Thành phố Hà Nội")
    finally:
        _heal_inserts(engine, "audit_records")
    with engine.connect() as conn:
        created = conn.execute(select(A.c.id).where(A.c.code == "H26")).first() is not None
    if created:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if any(r.target == "H26" for r in chain(engine)):
                break
            time.sleep(0.5)
        else:
            pytest.fail("agency H26 was created but its audit record never reached the log")
    engine.dispose()
