"""Signature records: one row per signature, committed (grouped) before the reply
leaves. They feed the monthly statistics and answer "did kyso sign this?"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models import Base


class SignatureRecordRow(Base):
    __tablename__ = "signature_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    node_id: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(128))
    agency_code: Mapped[str] = mapped_column(String(35))
    key_id: Mapped[str] = mapped_column(String(64))
    hash_alg: Mapped[str] = mapped_column(String(16))
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    output: Mapped[str] = mapped_column(String(8))  # raw | cms
    level: Mapped[str | None] = mapped_column(String(8))  # B-B | B-T for CMS
    document_type: Mapped[str] = mapped_column(String(8))
    document_number: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_signature_records_time_agency", "time", "agency_code"),
    )
