"""members by city name: each membership carries its city's name, kept by the database,
and the member list reads a standing in name order along one index.

``memberships.city_name`` is a copy the product never writes: a trigger sets it when a
membership is inserted, and another follows a city's rename. The index
``ix_memberships_state_city_name`` (state, city_name, id) then gives a page of a standing
in the list's order by reading that page's rows alone: along the cities' name index,
PostgreSQL passed every city without a membership (10,000 applicants in benchmark 4)
before the first member's name.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

SQLITE_TRIGGERS = (
    """CREATE TRIGGER memberships_city_name AFTER INSERT ON memberships
    BEGIN
        UPDATE memberships SET city_name = (SELECT name FROM cities WHERE id = NEW.city_id)
        WHERE id = NEW.id;
    END""",
    """CREATE TRIGGER memberships_city_moved AFTER UPDATE OF city_id ON memberships
    BEGIN
        UPDATE memberships SET city_name = (SELECT name FROM cities WHERE id = NEW.city_id)
        WHERE id = NEW.id;
    END""",
    """CREATE TRIGGER cities_name_to_memberships AFTER UPDATE OF name ON cities
    BEGIN
        UPDATE memberships SET city_name = NEW.name WHERE city_id = NEW.id;
    END""",
)
POSTGRESQL_TRIGGERS = (
    """CREATE FUNCTION memberships_city_name() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.city_name := (SELECT name FROM cities WHERE id = NEW.city_id);
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER memberships_city_name BEFORE INSERT OR UPDATE OF city_id ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_city_name()""",
    """CREATE FUNCTION cities_name_to_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE memberships SET city_name = NEW.name WHERE city_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER cities_name_to_memberships AFTER UPDATE OF name ON cities
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION cities_name_to_memberships()""",
)


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("city_name", sa.String(length=120), nullable=False, server_default="")
        )
    op.execute(
        "UPDATE memberships SET city_name = "
        "(SELECT name FROM cities WHERE cities.id = memberships.city_id)"
    )
    op.create_index("ix_memberships_state_city_name", "memberships", ["state", "city_name", "id"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS cities_name_to_memberships ON cities")
        op.execute("DROP TRIGGER IF EXISTS memberships_city_name ON memberships")
        op.execute("DROP FUNCTION IF EXISTS cities_name_to_memberships()")
        op.execute("DROP FUNCTION IF EXISTS memberships_city_name()")
    else:
        for name in ("cities_name_to_memberships", "memberships_city_moved",
                     "memberships_city_name"):  # fmt: skip
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_memberships_state_city_name", table_name="memberships")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("city_name")
