"""pdf: an agency's PDF signing policy (seal profile without a personal signature)

Revision ID: 0008
Revises: 0002 (on its own branch; needs 0005's agency_assets table)
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0002"
branch_labels = None
# agency_assets is created by 0005 (keys), a sibling branch: run after it.
depends_on = "0005"


def upgrade() -> None:
    with op.batch_alter_table("agency_assets") as batch:
        batch.add_column(
            sa.Column(
                "skip_personal_signature_check",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("agency_assets") as batch:
        batch.drop_column("skip_personal_signature_check")
