"""sign-in throttle: attempts whose password check is under way, counted apart from
confirmed failures (so parallel good sign-ins wait for a slot instead of being refused)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import workflow.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

UTC = workflow.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("signin_throttle", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("pending_at", UTC(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signin_throttle", schema=None) as batch_op:
        batch_op.drop_column("pending_at")
        batch_op.drop_column("pending")
