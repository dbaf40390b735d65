"""Replies kept for idempotent retries (``signer.idempotency``)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import DateTime, LargeBinary, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models import Base


class IdempotentReplyRow(Base):
    __tablename__ = "idempotent_replies"

    client: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    method: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    reply: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


REPLIES = cast(Table, IdempotentReplyRow.__table__)
