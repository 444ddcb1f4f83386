"""flash notes: a refused form's message and input, kept for the page it came from
(Post-Redirect-Get)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import workflow.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

UTC = workflow.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "flash_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_notes")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_flash_notes_token_hash")),
    )
    op.create_index(op.f("ix_flash_notes_created_at"), "flash_notes", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_flash_notes_created_at"), table_name="flash_notes")
    op.drop_table("flash_notes")
