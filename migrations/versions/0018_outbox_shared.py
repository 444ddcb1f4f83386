"""the sweep's reminders store what a round's messages say alike once, in outbox_shared

A round of report reminders (up to every member on one day) wrote the same due date,
days left and network names into each of its outbox rows. They are now one row of
``outbox_shared``, which ``outbox.shared_id`` names; the row keeps what is its own (the
report, the city, the recipient). Rows written before stay whole (no ``shared_id``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 21:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import workflow.models

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_shared",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("created_at", workflow.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_shared")),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("shared_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("shared_id")
    op.drop_table("outbox_shared")
