"""country regions: each country carries its UNESCO region, filled from the ISO codes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow.regions import REGION_OF, REGIONS

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("countries") as batch:
        batch.add_column(
            sa.Column("region", sa.String(length=32), nullable=False, server_default="")
        )
    countries = sa.table("countries", sa.column("code", sa.String), sa.column("region", sa.String))
    for region in REGIONS:
        codes = [code for code, where in REGION_OF.items() if where == region]
        op.execute(countries.update().where(countries.c.code.in_(codes)).values(region=region))


def downgrade() -> None:
    with op.batch_alter_table("countries") as batch:
        batch.drop_column("region")
