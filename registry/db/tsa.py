"""Tables of the time-stamp authority (they share the registry's metadata, so
one Alembic history covers the whole database)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models import Base


class TsaTokenRow(Base):
    """Every issued token, committed before its reply leaves (RFC 3161 §4 asks a TSA
    to keep what it issued; Decree 23/2025 asks for event logs)."""

    __tablename__ = "tsa_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)  # hex
    gen_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    hash_alg: Mapped[str] = mapped_column(String(16))
    imprint: Mapped[bytes] = mapped_column(LargeBinary)
    policy: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(String(80))  # hex
    node_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))


class SerialCounterRow(Base):
    """Serial-number blocks handed out to processes (see ``tsa.serials``)."""

    __tablename__ = "serial_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_value: Mapped[int] = mapped_column(BigInteger)
