"""agency assets: the XML signature form an agency uses by default

Revision ID: 0011
Revises: 0008 (on its branch)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agency_assets") as batch:
        batch.add_column(sa.Column("xml_form", sa.String(16), nullable=False,
                                   server_default="xml-dsig"))


def downgrade() -> None:
    with op.batch_alter_table("agency_assets") as batch:
        batch.drop_column("xml_form")
