"""SQLAlchemy 2 models of the registry. Schema changes go through Alembic
(``registry/db/migrations``); ``tests/registry/db/test_migrations.py`` fails when the
models and the migrations disagree."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
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


#: An agency code's ``status``: in force, or closed for ever (never reused).
ACTIVE = "active"
CLOSED = "closed"


class AgencyRow(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(35), unique=True)
    name: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)
    parent_code: Mapped[str | None] = mapped_column(String(35), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Lifecycle (registry/agencies/lifecycle.py): a closed code keeps its row forever, so the
    # unique ``code`` also guarantees a closed code is never reused.
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    # NULL only for rows created before migration 0003 had a creation date to copy.
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # exclusive: the closing date
    successor_code: Mapped[str | None] = mapped_column(String(35))

    keys: Mapped[list[KeyRow]] = relationship(back_populates="agency", order_by="KeyRow.id")


class AgencyEventRow(Base):
    """One lifecycle event of an agency code; history is answered from these.
    ``kind``: create, rename, move, merge, split, close (registry/agencies/lifecycle.py)."""

    __tablename__ = "agency_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(35), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    effective: Mapped[date] = mapped_column(Date)
    old_name: Mapped[str | None] = mapped_column(Text)
    new_name: Mapped[str | None] = mapped_column(Text)
    old_parent: Mapped[str | None] = mapped_column(String(35))
    new_parent: Mapped[str | None] = mapped_column(String(35))
    related_codes: Mapped[list[str]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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
    # Lifecycle (migration 0005): when the state last changed, why, and when the key
    # was marked compromised (signing with it stops on the next request of every node).
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state_reason: Mapped[str | None] = mapped_column(Text)
    compromised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

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


class AgencyAssetRow(Base):
    """An agency's seal image (PNG with transparency, real size in millimetres) and the
    signature profile its PDF signatures use by default (Decree 30/2020, Appendix I).
    Kept apart from ``agencies`` so the agency record and its assets evolve separately."""

    __tablename__ = "agency_assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), unique=True)
    seal_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    seal_width_mm: Mapped[float | None] = mapped_column(Float)
    seal_height_mm: Mapped[float | None] = mapped_column(Float)
    default_profile: Mapped[str] = mapped_column(String(16))  # seal | attachment | copy
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The seal profile signs without a valid personal signature (migration 0008).
    skip_personal_signature_check: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # edXML and other XML: xml-dsig (QCVN 102:2016's exact form), xades-b-b or xades-b-t
    # (with a signing time; B-T with a signature timestamp) (migration 0011)
    xml_form: Mapped[str] = mapped_column(String(16), default="xml-dsig",
                                          server_default="xml-dsig")
