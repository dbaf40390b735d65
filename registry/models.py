"""SQLAlchemy 2 models of the registry. Schema changes go through Alembic
(``registry/migrations``); ``tests/registry/test_migrations.py`` fails when the
models and the migrations disagree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AgencyRow(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(35), unique=True)
    name: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)
    parent_code: Mapped[str | None] = mapped_column(String(35), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    keys: Mapped[list[KeyRow]] = relationship(back_populates="agency", order_by="KeyRow.id")


class KeyRow(Base):
    """A key pair in the HSM. ``purpose``: ``seal`` (an agency's organization key),
    ``dev-ca`` (the development CA)."""

    __tablename__ = "keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)  # hex CKA_ID
    label: Mapped[str] = mapped_column(String(128))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    algorithm: Mapped[str] = mapped_column(String(16))
    scheme: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    public_key_der: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    agency: Mapped[AgencyRow | None] = relationship(back_populates="keys")
    certificates: Mapped[list[CertificateRow]] = relationship(
        back_populates="key", order_by="CertificateRow.id"
    )

    __table_args__ = (Index("ix_keys_purpose_state", "purpose", "state"),)


class CertificateRow(Base):
    """A certificate for a key; ``chain_der`` is the issuers' certificates, each
    DER-encoded and concatenated (a DER SEQUENCE is self-delimiting)."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_pk: Mapped[int] = mapped_column(ForeignKey("keys.id"), index=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    chain_der: Mapped[bytes] = mapped_column(LargeBinary)
    subject: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(Text)
    serial_hex: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    not_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    key: Mapped[KeyRow] = relationship(back_populates="certificates")
