"""drop the outbox's index on recipient: nothing reads by it, and it slowed bulk inserts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 14:20:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_recipient")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.create_index("ix_outbox_recipient", ["recipient"], unique=False)
