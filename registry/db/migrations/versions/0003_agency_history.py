"""agency lifecycle: status, validity dates, successor, and the event history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "agencies",
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
    )
    op.add_column("agencies", sa.Column("valid_from", sa.Date(), nullable=True))
    op.add_column("agencies", sa.Column("valid_to", sa.Date(), nullable=True))
    op.add_column("agencies", sa.Column("successor_code", sa.String(length=35), nullable=True))
    op.create_table(
        "agency_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=35), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("old_name", sa.Text(), nullable=True),
        sa.Column("new_name", sa.Text(), nullable=True),
        sa.Column("old_parent", sa.String(length=35), nullable=True),
        sa.Column("new_parent", sa.String(length=35), nullable=True),
        sa.Column("related_codes", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agency_events"),
    )
    op.create_index("ix_agency_events_code", "agency_events", ["code"])
    # Existing agencies: in force from the day they were registered, with a
    # "create" event so that history questions have an answer for them too.
    conn = op.get_bind()
    agencies = sa.table(
        "agencies",
        sa.column("id", sa.Integer()),
        sa.column("code", sa.String()),
        sa.column("name", sa.Text()),
        sa.column("parent_code", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("valid_from", sa.Date()),
    )
    events = sa.table(
        "agency_events",
        sa.column("code", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("effective", sa.Date()),
        sa.column("new_name", sa.Text()),
        sa.column("new_parent", sa.String()),
        sa.column("related_codes", sa.JSON()),
        sa.column("note", sa.Text()),
        sa.column("recorded_at", sa.DateTime(timezone=True)),
    )
    rows = conn.execute(
        sa.select(
            agencies.c.id, agencies.c.code, agencies.c.name, agencies.c.parent_code,
            agencies.c.created_at,
        )
    ).all()
    for row in rows:
        day = row.created_at.date()
        conn.execute(
            agencies.update().where(agencies.c.id == row.id).values(valid_from=day)
        )
        conn.execute(
            events.insert().values(
                code=row.code, kind="create", effective=day, new_name=row.name,
                new_parent=row.parent_code, related_codes=[],
                note="registered before agency history was kept", recorded_at=row.created_at,
            )
        )


def downgrade() -> None:
    op.drop_table("agency_events")
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("successor_code")
        batch.drop_column("valid_to")
        batch.drop_column("valid_from")
        batch.drop_column("status")
