"""idempotency: the first reply to each (client, idempotency key), for retries

Revision ID: 0009
Revises: 0002 (on its own branch)
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotent_replies",
        sa.Column("client", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("method", sa.String(128), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("reply", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_idempotent_replies_created", "idempotent_replies", ["created"])


def downgrade() -> None:
    op.drop_index("ix_idempotent_replies_created", "idempotent_replies")
    op.drop_table("idempotent_replies")
