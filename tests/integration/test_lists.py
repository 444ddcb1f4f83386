"""Long lists: members overdue first across pages, the queue waiting-first, in a few queries."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, select, update

from tests.conftest import ADMIN, INSTITUTE, World, utc
from workflow import member_views, views
from workflow.db import transaction
from workflow.errors import InvalidInput, NotFound
from workflow.models import City, Membership
from workflow.services import directory, memberships, submissions


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
    now, s = utc(2027, 1, 11), world.settings
    with transaction(world.factory) as session:
        first = member_views.member_lines(session, s, INSTITUTE, now, limit=10)
        assert [m.id for m in first[:3]] == late
        assert member_views.count_members(session, INSTITUTE) == 30
        pages = [
            member_views.member_lines(session, s, INSTITUTE, now, limit=10, offset=o)
            for o in (0, 10, 20)
        ]
        everyone = [m.id for page in pages for m in page]
        assert everyone == late + [i for i in ids if i not in late]
        assert [
            m.id for m in member_views.member_page(session, s, INSTITUTE, now, 1)[1]
        ] == everyone
        # one standing only: the filter and the order together
        overdue = member_views.member_lines(session, s, INSTITUTE, now, state="overdue", offset=1)
        assert [m.id for m in overdue] == late[1:]
        assert member_views.count_members(session, INSTITUTE, state="overdue") == 3


def test_the_largest_standing_reads_by_name_then_number_across_pages(world: World) -> None:
    # A standing is read along its index by city name (ix_memberships_state_city_name):
    # cities of one name in two countries still come by membership number, and no
    # member is shown twice or skipped at a page's end.
    now = utc(2027, 1, 10)
    made: list[tuple[str, int]] = []
    with transaction(world.factory) as session:
        for n, country in enumerate(["FR", "EE", "FR", "EE", "EE", "FR", "EE"]):
            city = directory.upsert_city(
                session, ADMIN, country_code=country, name=f"Twin {n // 2}",
                contact_email=f"twin{n}@example.org", now=now,
            )  # fmt: skip
            member = memberships.import_member(
                session, world.settings, ADMIN, city, admitted_on=date(2025, 5, 1), now=now
            )
            made.append((city.name, member.id))
    expected = [i for _, i in sorted(made)]
    with transaction(world.factory) as session:
        pages = [
            member_views.member_lines(session, world.settings, INSTITUTE, now, limit=2, offset=o)
            for o in range(0, 8, 2)
        ]
    assert [m.id for page in pages for m in page] == expected


def test_the_member_list_follows_a_city_renamed_after_admission(world: World) -> None:
    # The list's order reads the copy of the city's name that the database keeps with
    # each membership (migration 0017): set at admission, it follows a rename.
    now = utc(2027, 1, 10)
    with transaction(world.factory) as session:
        for n, name in enumerate(["Mid", "Zenith", "Yonder"]):
            city = directory.upsert_city(
                session, ADMIN, country_code="FR", name=name,
                contact_email=f"renamed{n}@example.org", now=now,
            )  # fmt: skip
            memberships.import_member(
                session, world.settings, ADMIN, city, admitted_on=date(2025, 5, 1), now=now
            )

    def names() -> list[str]:
        with transaction(world.factory) as session:
            lines = member_views.member_lines(session, world.settings, INSTITUTE, now)
        return [m.city for m in lines if m.city in {"Mid", "Zenith", "Yonder", "Alpha"}]

    assert names() == ["Mid", "Yonder", "Zenith"]
    with transaction(world.factory) as session:
        session.scalars(select(City).where(City.name == "Zenith")).one().name = "Alpha"
    assert names() == ["Alpha", "Mid", "Yonder"]


def test_member_lines_take_three_selects_and_show_the_next_due_date(world: World) -> None:
    # One GROUP BY of the standings, the members of the page, their reports: whatever the
    # number of members (the pages, the API and the CLI all read members this way).
    _members(world, 25)
    statements: list[str] = []
    engine = world.factory.kw["bind"]

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        with world.factory() as session:
            rows = member_views.member_lines(session, world.settings, INSTITUTE, utc(2027, 1, 11))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(rows) == 25
    assert len([q for q in statements if q.lstrip().upper().startswith("SELECT")]) == 3
    assert len(statements) <= 4  # and the BEGIN of the transaction
    # Admitted in 2025 and imported in January 2027: the first report owed is due 2027-03-31.
    assert {r.next_due for r in rows} == {date(2027, 3, 31)}


def test_the_queue_puts_what_waits_for_the_actor_first(world: World) -> None:
    now = utc(2027, 3, 5)
    ids = [world.draft(name, now) for name in ("Jelgava", "Valmiera")]
    with transaction(world.factory) as session:
        submissions.submit(session, world.settings, world.city("Valmiera"), ids[1], now=now)
    commission = world.commission("LV")
    with world.factory() as session:
        rows = views.queue_lines(session, commission)
        assert [r.id for r in rows] == [ids[1], ids[0]]
        assert [t.trigger for t in rows[0].actions] == ["endorse", "return_to_city", "decline"]
        assert rows[0].quota_left == 3
        assert views.count_applications(session, commission) == 2
        assert views.queue_lines(session, commission, limit=1, offset=1)[0].id == ids[0]
        # the records' list in the same order, and newest first by default
        waiting = views.list_applications(session, commission, order=views.WAITING)
        assert [a.id for a in waiting] == [ids[1], ids[0]]
        assert [a.id for a in views.list_applications(session, commission)] == sorted(ids)[::-1]
        submitted = views.ApplicationFilter(state="submitted")
        assert [r.id for r in views.queue_lines(session, commission, submitted)] == [ids[1]]


def test_an_unknown_order_or_country_is_an_error_not_an_empty_list(world: World) -> None:
    with world.factory() as session:
        with pytest.raises(InvalidInput, match="newest or waiting"):
            views.list_applications(session, INSTITUTE, order="oldest")
        with pytest.raises(NotFound, match="XX"):
            views.list_applications(session, INSTITUTE, views.ApplicationFilter(country="XX"))
        with pytest.raises(NotFound, match="XX"):
            member_views.list_cities(session, INSTITUTE, country="xx")


def test_pages_are_clamped(world: World) -> None:
    assert views.page_of(0, 120).number == 1
    assert views.page_of(9, 120).number == 3
    assert views.page_of(2, 120).offset == 50
    assert views.page_of(1, 0).last == 1
