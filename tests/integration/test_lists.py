"""Long lists: members overdue first across pages, the queue waiting-first, in a few queries."""

from __future__ import annotations

from datetime import date

from sqlalchemy import event, update

from tests.conftest import ADMIN, INSTITUTE, World, utc
from web import queries
from workflow.db import transaction
from workflow.models import Membership
from workflow.services import applications as apps
from workflow.services import directory, memberships


def _members(world: World, count: int) -> list[int]:
    now = utc(2027, 1, 10)
    ids = []
    with transaction(world.factory) as session:
        for n in range(count):
            city = directory.upsert_city(
                session,
                ADMIN,
                country_code="EE",
                name=f"Town {n:03d}",
                contact_email=f"town{n}@example.ee",
                now=now,
            )
            member = memberships.import_member(
                session, world.settings, ADMIN, city, admitted_on=date(2025, 5, 1), now=now
            )
            ids.append(member.id)
    return ids


def test_overdue_members_come_first_on_page_one_not_only_within_a_page(world: World) -> None:
    ids = _members(world, 30)
    late = ids[-3:]  # the last names alphabetically: a page of 10 by name would miss them
    with transaction(world.factory) as session:
        session.execute(update(Membership).where(Membership.id.in_(late)).values(state="overdue"))
    with transaction(world.factory) as session:
        first = memberships.list_members(session, INSTITUTE, limit=10)
        assert [m.id for m in first[:3]] == late
        assert memberships.count_members(session, INSTITUTE) == 30
        pages = [
            memberships.list_members(session, INSTITUTE, limit=10, offset=o) for o in (0, 10, 20)
        ]
        everyone = [m.id for page in pages for m in page]
        assert sorted(everyone) == sorted(ids)


def test_member_rows_take_two_queries_and_show_the_next_due_date(world: World) -> None:
    _members(world, 25)
    statements: list[str] = []
    engine = world.factory.kw["bind"]

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        with world.factory() as session:
            rows = queries.member_rows(session, world.settings, INSTITUTE, utc(2027, 1, 11))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(rows) == 25
    assert len(statements) <= 3
    # Admitted in 2025 and imported in January 2027: the first report owed is due 2027-03-31.
    assert {r.next_due for r in rows} == {date(2027, 3, 31)}


def test_the_queue_puts_what_waits_for_the_actor_first(world: World) -> None:
    now = utc(2027, 3, 5)
    ids = [world.draft(name, now) for name in ("Jelgava", "Valmiera")]
    with transaction(world.factory) as session:
        apps.submit(session, world.settings, world.city("Valmiera"), ids[1], now=now)
    commission = world.commission("LV")
    with world.factory() as session:
        rows = queries.queue(session, commission)
        assert [r.app.id for r in rows] == [ids[1], ids[0]]
        assert [t.trigger for t in rows[0].actions] == ["endorse", "return_to_city", "decline"]
        assert rows[0].quota_left == 3
        assert queries.queue_size(session, commission) == 2
        assert queries.queue(session, commission, limit=1, offset=1)[0].app.id == ids[0]


def test_pages_are_clamped(world: World) -> None:
    assert queries.page_of(0, 120).number == 1
    assert queries.page_of(9, 120).number == 3
    assert queries.page_of(2, 120).offset == 50
    assert queries.page_of(1, 0).last == 1
