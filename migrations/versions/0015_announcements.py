"""announcements: the Institute's decisions are told in batches (table announcements;
applications.announcement_id and announced_at). Decisions taken before this revision
count as announced when they were decided.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import workflow.models

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False, server_default=""),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("published_at", workflow.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("corrected", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", workflow.models.UTCDateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("announcement_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("announced_at", workflow.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_foreign_key(
            "fk_applications_announcement_id_announcements",
            "announcements",
            ["announcement_id"],
            ["id"],
        )
        batch.create_index("ix_applications_announcement_id", ["announcement_id"])
    op.execute(
        "UPDATE applications SET announced_at = decided_at "
        "WHERE state IN ('admitted', 'not_admitted')"
    )


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_index("ix_applications_announcement_id")
        batch.drop_constraint("fk_applications_announcement_id_announcements", type_="foreignkey")
        batch.drop_column("announced_at")
        batch.drop_column("announcement_id")
    op.drop_table("announcements")
