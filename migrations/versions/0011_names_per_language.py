"""names per language: a Commission's (countries.commission_names) and a city's
(cities.names), {lang: name}; a language without one says the stored name

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("countries") as batch:
        batch.add_column(
            sa.Column("commission_names", sa.JSON(), server_default="{}", nullable=False)
        )
    with op.batch_alter_table("cities") as batch:
        batch.add_column(sa.Column("names", sa.JSON(), server_default="{}", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("cities") as batch:
        batch.drop_column("names")
    with op.batch_alter_table("countries") as batch:
        batch.drop_column("commission_names")
