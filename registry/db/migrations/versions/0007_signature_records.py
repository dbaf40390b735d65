"""signature records (statistics and proof of signing)

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signature_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=128), nullable=False),
        sa.Column("agency_code", sa.String(length=35), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("hash_alg", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("output", sa.String(length=8), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=True),
        sa.Column("document_type", sa.String(length=8), nullable=False),
        sa.Column("document_number", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signature_records"),
    )
    op.create_index(
        "ix_signature_records_time_agency", "signature_records", ["time", "agency_code"]
    )


def downgrade() -> None:
    op.drop_table("signature_records")
