"""cities by name: the member list reads its largest standing in city-name order along
an index (ix_cities_name) instead of sorting every member of that standing.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_cities_name", "cities", ["name"])


def downgrade() -> None:
    op.drop_index("ix_cities_name", table_name="cities")
