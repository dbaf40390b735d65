"""The audit log's tables: each node's hash-chained records, the signed checkpoints of
its chain head, and the outbox that carries an administrative change's record in the
change's own transaction (``registry.audit`` reads and writes them)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models import Base

NODE_LEN, ACTOR_LEN, ACTION_LEN, TARGET_LEN = 64, 128, 64, 255


class AuditRecordRow(Base):
    """One audit event; ``hash`` chains it to the node's previous record."""

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    seq: Mapped[int] = mapped_column(Integer)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(ACTOR_LEN))
    action: Mapped[str] = mapped_column(String(ACTION_LEN))
    target: Mapped[str] = mapped_column(String(TARGET_LEN))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        UniqueConstraint("node_id", "seq", name="uq_audit_records_node_id_seq"),
        Index("ix_audit_records_action", "action"),
    )


class AuditCheckpointRow(Base):
    """A signed chain head: ``signature`` over the checkpoint message (module docstring)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[str] = mapped_column(String(64))  # hex CKA_ID
    algorithm: Mapped[str] = mapped_column(String(16))  # ed25519 (v1: ec-p256)
    scheme: Mapped[str] = mapped_column(String(16))  # eddsa (v1: ecdsa over SHA-256)
    signature: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_audit_checkpoints_node_id_seq", "node_id", "seq"),)


class AuditOutboxRow(Base):
    """An administrative change's audit record, written in the change's own transaction
    and moved into the node's chain by the node's writer (``registry.audit.actions``)."""

    __tablename__ = "audit_outbox"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN), index=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(ACTOR_LEN))
    action: Mapped[str] = mapped_column(String(ACTION_LEN))
    target: Mapped[str] = mapped_column(String(TARGET_LEN))
    details: Mapped[str] = mapped_column(Text)


RECORDS = cast(Table, AuditRecordRow.__table__)
CHECKPOINTS = cast(Table, AuditCheckpointRow.__table__)
OUTBOX = cast(Table, AuditOutboxRow.__table__)
