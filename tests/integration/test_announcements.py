"""Announcements in batches, on SQLite and PostgreSQL: the Institute decides three
applications and nobody is told (the city and its Commission see "under review"); one
announcement publishes them on its date: the mails go to the cities with a Cc to their
Commissions, the memberships start on the announcement's date and the first report is
due from that year; a correction afterwards is audited, mailed, ends (or starts) the
membership and marks the announcement corrected."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from notifications.models import OutboxMessage
from tests.conftest import INSTITUTE, World, utc
from workflow.db import transaction
from workflow.errors import InvalidInput, NotAllowed
from workflow.models import Announcement, Application, AuditEvent, Membership
from workflow.services import announcements, applications, decisions, memberships, submissions
from workflow.views import ApplicationFilter, list_applications, queue_lines

DECIDED = utc(2026, 11, 20, 10)
PUBLISHED = utc(2027, 1, 14, 9)
ANNOUNCED_ON = date(2027, 1, 14)


def decided(world: World, city: str, code: str, trigger: str) -> int:
    """``city``'s application of 2026, endorsed, reviewed and decided by ``trigger``."""
    now = utc(2026, 3, 10)
    app_id = world.draft(city, now)
    with transaction(world.factory) as session:
        submissions.submit(session, world.settings, world.city(city), app_id, now=now)
        submissions.endorse(session, world.settings, World.commission(code), app_id, now=now)
        decisions.decide(session, world.settings, INSTITUTE, app_id, "start_review", now=now)
        comment = "The plan lacks monitoring." if trigger == "not_admit" else ""
        decisions.decide(
            session, world.settings, INSTITUTE, app_id, trigger, now=DECIDED, comment=comment
        )
    return app_id


Mail = tuple[str, str, list[str], list[str], str]


def mails(world: World, app_id: int) -> list[Mail]:
    """(occasion, recipient, To, Cc, language) of each message about the application."""
    with world.factory() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subject_type == "application", OutboxMessage.subject_id == app_id)
            .order_by(OutboxMessage.id)
        )
        return [(m.occasion, m.recipient, m.to_addrs, m.cc_addrs, m.language) for m in rows]


def decision_mails(world: World, app_id: int) -> list[Mail]:
    told = ("application_admitted", "application_not_admitted", "decision_corrected")
    return [m for m in mails(world, app_id) if m[0] in told]


def to_city(occasion: str, city: str, commission: str, langs: tuple[str, str]) -> list[Mail]:
    """One message To the city and one to its Commission (Cc), each in its language."""
    return [
        (occasion, city, [city], [commission], langs[0]),
        (occasion, commission, [city], [commission], langs[1]),
    ]


def membership_of(world: World, app_id: int) -> Membership | None:
    with world.factory() as session:
        return session.scalars(
            select(Membership).where(Membership.application_id == app_id)
        ).first()


@pytest.fixture
def three(world: World) -> dict[str, int]:
    return {
        "Jelgava": decided(world, "Jelgava", "LV", "admit"),
        "Valmiera": decided(world, "Valmiera", "LV", "not_admit"),
        "Lyon": decided(world, "Lyon", "FR", "admit"),
    }


def test_decide_three_publish_then_correct_one(world: World, three: dict[str, int]) -> None:
    jelgava, valmiera, lyon = three["Jelgava"], three["Valmiera"], three["Lyon"]
    # decided, not announced: no mail, no membership, and "under review" for the city
    for app_id in three.values():
        assert decision_mails(world, app_id) == []
        assert membership_of(world, app_id) is None
    city, commission = world.city("Jelgava"), World.commission("LV")
    with world.factory() as session:
        for who in (city, commission):
            seen = applications.get_application(session, who, jelgava)
            assert (seen.state, seen.decided_at) == ("under_review", None)
            session.expunge_all()
            listed = list_applications(session, who)
            assert {a.id: a.state for a in listed}[jelgava] == "under_review"
            session.expunge_all()
            lines = {line.id: line.state for line in queue_lines(session, who)}
            assert lines[jelgava] == "under_review"
            assert [e.action for e in applications.history(session, who, jelgava)][-1] == (
                "start_review"
            )
            admitted = ApplicationFilter(state="admitted")
            assert list_applications(session, who, admitted) == []
            session.expunge_all()
        assert applications.get_application(session, INSTITUTE, jelgava).state == "admitted"

    # a draft announcement takes every unannounced decision of the call
    with transaction(world.factory) as session:
        with pytest.raises(NotAllowed):
            announcements.create(session, world.settings, commission, now=PUBLISHED)
        draft = announcements.create(session, world.settings, INSTITUTE, now=PUBLISHED)
        key = draft.id
        call = session.get(Application, jelgava).call.name  # type: ignore[union-attr]
        added = announcements.add(session, world.settings, INSTITUTE, key, call=call, now=PUBLISHED)
        assert sorted(a.id for a in added) == sorted(three.values())
    with transaction(world.factory) as session, pytest.raises(InvalidInput) as refused:
        announcements.publish_announcement(
            session, world.settings, INSTITUTE, key, on=ANNOUNCED_ON, title=" ", now=PUBLISHED
        )
    assert refused.value.reason == "invalid_input.title_missing"
    with transaction(world.factory) as session:
        announcements.publish_announcement(
            session,
            world.settings,
            INSTITUTE,
            key,
            on=ANNOUNCED_ON,
            title="New members of January 2027",
            now=PUBLISHED,
        )

    # every decision told at once: To the city, Cc its Commission, in the city's language
    assert decision_mails(world, jelgava) == to_city(
        "application_admitted", "pasts@jelgava.lv", "office@unesco.lv", ("lv", "lv")
    )
    assert decision_mails(world, valmiera) == to_city(
        "application_not_admitted", "info@valmiera.lv", "office@unesco.lv", ("en", "lv")
    )
    assert decision_mails(world, lyon) == to_city(
        "application_admitted", "education@lyon.fr", "cnfu@unesco.fr", ("fr", "fr")
    )
    with world.factory() as session:
        refusal = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.subject_id == valmiera,
                OutboxMessage.occasion == "application_not_admitted",
                OutboxMessage.language == "en",
            )
        ).one()
        assert "The plan lacks monitoring." in refusal
    # memberships start on the announcement's date: the first report is due in 2029
    for app_id in (jelgava, lyon):
        membership = membership_of(world, app_id)
        assert membership is not None
        assert (membership.state, membership.admitted_on, membership.admission_year) == (
            "active",
            ANNOUNCED_ON,
            2027,
        )
        assert memberships.due_dates(world.settings, membership, 2) == [
            date(2029, 3, 31),
            date(2031, 3, 31),
        ]
        with world.factory() as session:
            again = session.get(Membership, membership.id)
            assert again is not None
            owed = memberships.next_due_date(world.settings, again, ANNOUNCED_ON)
            assert owed == date(2029, 3, 31)
    assert membership_of(world, valmiera) is None
    with world.factory() as session:
        assert applications.get_application(session, city, jelgava).state == "admitted"
        told = [e.action for e in applications.history(session, city, jelgava)]
        assert told[-2:] == ["admit", "announce_admission"]
        published = session.get(Announcement, key)
        assert published is not None
        assert (published.state, published.date, published.corrected) == (
            "published",
            ANNOUNCED_ON,
            0,
        )

    # a published announcement takes no more decisions
    with transaction(world.factory) as session, pytest.raises(InvalidInput) as refused:
        announcements.add(session, world.settings, INSTITUTE, key, application_ids=[lyon],
                          now=PUBLISHED)  # fmt: skip
    assert refused.value.reason == "invalid_input.announcement_published"

    # a correction: a reason is required; Lyon's admission is corrected
    later = utc(2027, 2, 3, 11)
    with transaction(world.factory) as session, pytest.raises(InvalidInput) as refused:
        announcements.correct(session, world.settings, INSTITUTE, key, lyon, reason="", now=later)
    assert refused.value.reason == "invalid_input.comment_needed"
    with transaction(world.factory) as session:
        announcements.correct(
            session,
            world.settings,
            INSTITUTE,
            key,
            lyon,
            reason="Lyon's endorsement was for another call.",
            now=later,
        )
    assert decision_mails(world, lyon)[2:] == to_city(
        "decision_corrected", "education@lyon.fr", "cnfu@unesco.fr", ("fr", "fr")
    )
    corrected = membership_of(world, lyon)
    assert corrected is not None and corrected.state == "removed"
    # and Valmiera's refusal the other way: a member from the announcement's date
    with transaction(world.factory) as session:
        announcements.correct(
            session, world.settings, INSTITUTE, key, valmiera,
            reason="The monitoring plan was in an annex.", now=later,
        )  # fmt: skip
    member = membership_of(world, valmiera)
    assert member is not None
    assert (member.state, member.admitted_on) == ("active", ANNOUNCED_ON)
    assert decision_mails(world, valmiera)[2:] == to_city(
        "decision_corrected", "info@valmiera.lv", "office@unesco.lv", ("en", "lv")
    )
    with world.factory() as session:
        shown = session.get(Announcement, key)
        assert shown is not None and (shown.state, shown.corrected) == ("corrected", 2)
        assert session.get(Application, lyon).state == "not_admitted"  # type: ignore[union-attr]
        audited = session.scalars(
            select(AuditEvent.comment).where(
                AuditEvent.subject_type == "announcement",
                AuditEvent.subject_id == key,
                AuditEvent.action == "correct",
            )
        ).all()
        assert audited == [
            f"application {lyon}: Lyon's endorsement was for another call.",
            f"application {valmiera}: The monitoring plan was in an annex.",
        ]
        body = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.subject_id == valmiera,
                OutboxMessage.occasion == "decision_corrected",
                OutboxMessage.language == "en",
            )
        ).one()
        assert "The monitoring plan was in an annex." in body
        assert "is admitted" in body


def test_a_reopened_unannounced_decision_tells_nobody(world: World) -> None:
    app_id = decided(world, "Jelgava", "LV", "admit")
    with transaction(world.factory) as session:
        decisions.decide(
            session, world.settings, INSTITUTE, app_id, "reopen", now=DECIDED,
            comment="Wait for the jury.",
        )  # fmt: skip
    assert mails(world, app_id)[-1][0] != "application_reopened"
    with world.factory() as session:
        history = applications.history(session, world.city("Jelgava"), app_id)
        assert [e.action for e in history][-1] == "start_review"


def test_an_announcement_step_is_never_taken_one_by_one(world: World) -> None:
    """The steps an announcement takes (announce, correct) are internal: no person fires
    one by itself (the CLI offers no command for them), so no city is told or made a
    member outside a published announcement."""
    from typer.main import get_group

    from cli.applications import app as app_commands

    app_id = decided(world, "Jelgava", "LV", "admit")
    for trigger in ("announce_admission", "correct_admission"):
        with transaction(world.factory) as session, pytest.raises(InvalidInput) as refused:
            decisions.decide(
                session, world.settings, INSTITUTE, app_id, trigger, now=utc(2027, 6, 1)
            )
        assert refused.value.reason == "invalid_input.announcement_step"
    assert membership_of(world, app_id) is None
    assert decision_mails(world, app_id) == []
    commands = set(get_group(app_commands).commands)
    assert {"admit", "not-admit", "reopen"} <= commands
    assert not commands & {"announce-admission", "announce-non-admission", "correct-admission"}
