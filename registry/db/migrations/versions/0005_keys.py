"""key lifecycle (state reason and times) and agency assets (seal image, default profile)

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("keys") as batch:
        batch.add_column(sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("state_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("compromised_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "agency_assets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_code", sa.String(length=35), nullable=False),
        sa.Column("seal_png", sa.LargeBinary(), nullable=True),
        sa.Column("seal_width_mm", sa.Float(), nullable=True),
        sa.Column("seal_height_mm", sa.Float(), nullable=True),
        sa.Column("default_profile", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_code"], ["agencies.code"], name="fk_agency_assets_agency_code_agencies"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agency_assets"),
        sa.UniqueConstraint("agency_code", name="uq_agency_assets_agency_code"),
    )


def downgrade() -> None:
    op.drop_table("agency_assets")
    with op.batch_alter_table("keys") as batch:
        batch.drop_column("compromised_at")
        batch.drop_column("state_reason")
        batch.drop_column("state_changed_at")
