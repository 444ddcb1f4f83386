"""The demo world's announcements (SQLite and PostgreSQL): one per year of imported
members on its day (the real ones: 17 July 2019, 23 September 2020 corrected once,
2 September 2022, 14 February 2024), the previous call's decisions in one, and a draft
holding the open call's decided applications that a newcomer publishes; loading the
demo twice adds nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from tests.conftest import INSTITUTE
from web.demo import load_demo
from workflow.db import transaction
from workflow.models import Announcement, Application, Membership
from workflow.services import announcements

MARCH = datetime(2026, 3, 10, 9, tzinfo=UTC)


def test_the_demo_world_has_its_announcements_and_a_draft_to_publish(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    load_demo(factory, settings, MARCH, world=True)
    load_demo(factory, settings, MARCH, world=True)  # idempotent
    with factory() as session:
        found = list(session.scalars(select(Announcement).order_by(Announcement.id)))
        days = {a.date for a in found if a.state != "draft"}
        assert {date(2019, 7, 17), date(2020, 9, 23), date(2022, 9, 2), date(2024, 2, 14)} <= days
        assert len(found) == 12  # ten years of imported members, the last call, one draft
        corrected = [a for a in found if a.state == "corrected"]
        assert [(a.date, a.corrected) for a in corrected] == [(date(2020, 9, 23), 1)]
        # each imported year's announcement counts the members admitted that day
        year_2024 = next(a for a in found if a.date == date(2024, 2, 14))
        members_2024 = session.scalar(
            select(func.count(Membership.id)).where(Membership.admission_year == 2024)
        )
        assert members_2024 and announcements.city_count(session, year_2024) == members_2024
        last_call = found[-2]
        told = announcements.decisions_of(session, last_call.id)
        assert told and all(a.announced_at is not None for a in told)
        assert {a.state for a in told} == {"admitted", "not_admitted"}
        [draft] = [a for a in found if a.state == "draft"]
        waiting = announcements.decisions_of(session, draft.id)
        assert sorted(a.state for a in waiting) == ["admitted", "not_admitted"]
        assert all(a.announced_at is None for a in waiting)
        admitted = next(a.id for a in waiting if a.state == "admitted")
        assert (
            session.scalars(select(Membership).where(Membership.application_id == admitted)).first()
            is None
        )
    # a newcomer publishes the draft: the admitted city becomes a member that day
    with transaction(factory) as session:
        announcements.publish_announcement(
            session, settings, INSTITUTE, draft.id, on=date(2026, 3, 12),
            title="New members, March 2026", now=MARCH,
        )  # fmt: skip
    with factory() as session:
        member = session.scalars(
            select(Membership).where(Membership.application_id == admitted)
        ).one()
        assert member.admitted_on == date(2026, 3, 12)
        app = session.get(Application, admitted)
        assert app is not None and app.announced_at is not None and app.announcement_id == draft.id
