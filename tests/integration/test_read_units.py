"""A unit that only reads (``workflow.db.reading``, every page view's): it writes nothing,
whatever the session holds when it ends, and on PostgreSQL it leaves the connection's
prepared statements in place, so a page's statements are not planned again at every
view (psycopg forgets them at each ROLLBACK; issue 12, benchmark 4)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from web.portal import read_only_factory
from workflow.db import make_engine, reading, session_factory, transaction
from workflow.models import Country


def _a_country(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        session.add(
            Country(code="QA", name="Qatar", commission_name="QA Commission",
                    commission_email="nc@qa.example.org")
        )  # fmt: skip


def test_a_change_left_in_a_read_unit_is_not_written(factory: sessionmaker[Session]) -> None:
    _a_country(factory)
    reader = read_only_factory(factory)
    with reading(reader) as session:
        country = session.scalars(select(Country).where(Country.code == "QA")).one()
        country.name = "Changed while reading"
    with reading(reader) as session:
        assert session.scalar(select(Country.name).where(Country.code == "QA")) == "Qatar"


def test_an_error_in_a_read_unit_leaves_the_session_usable(
    factory: sessionmaker[Session],
) -> None:
    _a_country(factory)
    reader = read_only_factory(factory)
    with pytest.raises(LookupError), reading(reader) as session:
        session.scalar(select(Country.name))
        raise LookupError("the page failed")
    with reading(reader) as session:
        assert session.scalar(select(Country.name).where(Country.code == "QA")) == "Qatar"


@pytest.mark.postgres
def test_statements_stay_prepared_across_read_units_on_postgresql(pg_database: str) -> None:
    engine = make_engine(pg_database, pool_size=1, max_overflow=0)
    try:
        reader = read_only_factory(session_factory(engine))
        query = text("SELECT count(*) FROM countries WHERE code <> :code")
        for _ in range(8):  # psycopg prepares a statement at its sixth run on a connection
            with reading(reader) as session:
                session.execute(query, {"code": "ZZ"}).scalar_one()
        with reading(reader) as session:
            prepared = session.scalar(
                text(
                    "SELECT count(*) FROM pg_prepared_statements "
                    "WHERE statement LIKE '%FROM countries WHERE code <> $1%'"
                )
            )
        assert prepared == 1
    finally:
        engine.dispose()
