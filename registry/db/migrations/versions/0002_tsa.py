"""time-stamp authority: issued tokens and serial-number blocks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tsa_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hash_alg", sa.String(length=16), nullable=False),
        sa.Column("imprint", sa.LargeBinary(), nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=80), nullable=True),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tsa_tokens"),
        sa.UniqueConstraint("serial", name="uq_tsa_tokens_serial"),
    )
    op.create_index("ix_tsa_tokens_gen_time", "tsa_tokens", ["gen_time"])
    op.create_table(
        "serial_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_serial_counters"),
    )


def downgrade() -> None:
    op.drop_table("serial_counters")
    op.drop_table("tsa_tokens")
