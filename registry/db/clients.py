"""API clients (systems and people) and their grants (``registry.auth`` uses them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.db.models import Base


class ClientRow(Base):
    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "system" | "person"
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_hint: Mapped[str | None] = mapped_column(String(16))
    cert_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    grants: Mapped[list[GrantRow]] = relationship(
        back_populates="client", order_by="GrantRow.id", cascade="all, delete-orphan"
    )


class GrantRow(Base):
    __tablename__ = "client_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(35))  # "" = every agency
    subtree: Mapped[bool] = mapped_column(Boolean)

    client: Mapped[ClientRow] = relationship(back_populates="grants")
