"""Application services on SQLite and PostgreSQL: both routes with the mail they owe and
the audit trail they leave, the quota, the Commission deadline, withdrawal, expiry,
return and resubmission, comments, the word limit, and the seed's 2019 timeline."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from notifications.models import OutboxMessage
from notifications.render import available_languages
from tests.conftest import ADMIN, INSTITUTE, World, utc
from workflow.actors import SYSTEM, Actor
from workflow.db import transaction
from workflow.errors import (
    Conflict,
    DeadlinePassed,
    InvalidInput,
    NotAllowed,
    OutsideWindow,
    QuotaExceeded,
)
from workflow.models import Application, AuditEvent, Membership
from workflow.services import announcements, calls, decisions, directory, submissions
from workflow.services import applications as apps
from workflow.states import Role

NETWORK = "learningcities@unesco.org"  # also the Institute's address (seed)
LV_COMMISSION = "office@unesco.lv"
JELGAVA = "pasts@jelgava.lv"
LYON = "education@lyon.fr"
FR_COMMISSION = "cnfu@unesco.fr"
IN_2027 = utc(2027, 3, 2, 9)  # inside the 2027 window (1 March - 30 April, Europe/Berlin)
LV = World.commission("LV")

Mail = tuple[str, str, tuple[str, ...], tuple[str, ...], str]


def lang(occasion: str, wanted: str) -> str:
    """The recipient's language; English when no template exists in it (docs/domain.md)."""
    return wanted if wanted in available_languages(occasion) else "en"


def mail_since(factory: sessionmaker[Session], app_id: int, after: int = 0) -> set[Mail]:
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.subject_type == "application",
                OutboxMessage.subject_id == app_id,
                OutboxMessage.id > after,
            )
        ).all()
        return {
            (r.occasion, r.recipient, tuple(r.to_addrs), tuple(r.cc_addrs), r.language)
            for r in rows
        }


def last_mail_id(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.max(OutboxMessage.id))) or 0


def events(factory: sessionmaker[Session], app_id: int) -> list[tuple[Any, ...]]:
    with factory() as session:
        return [
            (e.action, e.actor_name, e.role, e.from_state, e.to_state, e.at, e.comment)
            for e in apps.history(session, INSTITUTE, app_id)
        ]


def state(factory: sessionmaker[Session], app_id: int) -> str:
    with factory() as session:
        found = session.get(Application, app_id)
        assert found is not None
        return found.state


def act(world: World, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one service in its own transaction, as the CLI and the portal do."""
    with transaction(world.factory) as session:
        return fn(session, world.settings, *args, **kwargs)


def add_lv_city(world: World, name: str) -> Actor:
    with transaction(world.factory) as session:
        city = directory.upsert_city(
            session,
            ADMIN,
            country_code="LV",
            name=name,
            contact_email=f"info@{name.lower()}.lv",
            mayor_name=f"Mayor of {name}",
            mayor_title="Mayor",
            contact_name=f"{name} office",
            now=utc(2027, 1, 10),
        )
        return Actor(Role.CITY, f"{name} office", city_id=city.id, country_code="LV")


def draft_as(world: World, city: Actor, now: datetime) -> int:
    """A complete draft of ``city``, its signed form on file."""
    with transaction(world.factory) as session:
        app_id = apps.create_draft(
            session,
            world.settings,
            city,
            now=now,
            motivation="Learning for everyone.",
            implementation_plan="A festival and a yearly review.",
            challenges=dict.fromkeys(apps.CHALLENGES, 2),
            signed_by="The Mayor",
        ).id
    world.attach(city, app_id, now)
    return app_id


def submitted(world: World, city: str, now: datetime = IN_2027) -> int:
    app_id = world.draft(city, now)
    act(world, submissions.submit, world.city(city), app_id, now=now)
    return app_id


# --- the two routes ---------------------------------------------------------------------


def test_route_through_the_commission(world: World) -> None:
    f = world.factory
    city = world.city("Jelgava")
    app_id = world.draft("Jelgava", utc(2027, 3, 2, 8))
    t1, t2, t3, t4 = (utc(2027, 3, 2, 9), utc(2027, 4, 5), utc(2027, 6, 1), utc(2027, 9, 1))

    act(world, submissions.submit, city, app_id, now=t1)
    assert state(f, app_id) == "submitted"
    assert mail_since(f, app_id) == {
        ("application_submitted", LV_COMMISSION, (LV_COMMISSION,), (NETWORK,),
         lang("application_submitted", "lv")),
        ("application_submitted", NETWORK, (LV_COMMISSION,), (NETWORK,), "en"),
        ("application_acknowledged", JELGAVA, (JELGAVA,), (),
         lang("application_acknowledged", "lv")),
    }  # fmt: skip

    mark = last_mail_id(f)
    act(world, submissions.endorse, LV, app_id, now=t2, comment="Endorsed, letter 12/2027")
    assert state(f, app_id) == "forwarded"
    assert mail_since(f, app_id, mark) == {
        ("application_forwarded", NETWORK, (NETWORK,), (JELGAVA,), "en"),
        ("application_forwarded", JELGAVA, (NETWORK,), (JELGAVA,),
         lang("application_forwarded", "lv")),
    }  # fmt: skip

    mark = last_mail_id(f)
    act(world, decisions.decide, INSTITUTE, app_id, "start_review", now=t3)
    assert mail_since(f, app_id, mark) == set()  # an internal step: nobody is written to
    act(world, decisions.decide, INSTITUTE, app_id, "admit", now=t4, comment="Jury of 2027")
    assert state(f, app_id) == "admitted"
    assert mail_since(f, app_id, mark) == set()  # told when announced, not before
    act(world, announcements.announce, INSTITUTE, [app_id], on=date(2027, 9, 1), title="2027",
        now=t4)  # fmt: skip
    assert mail_since(f, app_id, mark) == {
        ("application_admitted", JELGAVA, (JELGAVA,), (LV_COMMISSION,),
         lang("application_admitted", "lv")),
        ("application_admitted", LV_COMMISSION, (JELGAVA,), (LV_COMMISSION,),
         lang("application_admitted", "lv")),
    }  # fmt: skip

    assert events(f, app_id) == [
        ("create", "Jelgava focal point", "city", None, "draft", utc(2027, 3, 2, 8), ""),
        ("upload_signed_form", "Jelgava focal point", "city", None, None, utc(2027, 3, 2, 8),
         "signed-form.pdf"),
        ("submit", "Jelgava focal point", "city", "draft", "submitted", t1, ""),
        ("endorse", "LV Commission officer", "commission", "submitted", "forwarded", t2,
         "Endorsed, letter 12/2027"),
        ("start_review", "UIL officer", "institute", "forwarded", "under_review", t3, ""),
        ("admit", "UIL officer", "institute", "under_review", "admitted", t4, "Jury of 2027"),
        ("announce_admission", "UIL officer", "institute", "admitted", "admitted", t4,
         "Jury of 2027"),
    ]  # fmt: skip
    with f() as session:
        app = session.get(Application, app_id)
        assert app is not None
        assert (app.route, app.submitted_at, app.endorsed_at, app.decided_at) == (
            "commission",
            t1,
            t2,
            t4,
        )
        membership = session.scalars(
            select(Membership).where(Membership.application_id == app_id)
        ).one()
        assert (membership.state, membership.admitted_on, membership.admission_year) == (
            "active",
            date(2027, 9, 1),
            2027,
        )


def test_direct_route_with_the_commissions_endorsement(world: World) -> None:
    f = world.factory
    city = world.city("Lyon")
    app_id = world.draft("Lyon", IN_2027)
    t1, t2, t3 = utc(2027, 4, 30, 21, 59, 59), utc(2027, 6, 1), utc(2027, 9, 1)

    with pytest.raises(InvalidInput, match="endorsement"):
        act(world, submissions.submit_direct, city, app_id, now=t1, endorsement="  ")
    assert state(f, app_id) == "draft"
    act(world, submissions.submit_direct, city, app_id, now=t1, endorsement="CNFU letter 2027/44")
    assert state(f, app_id) == "forwarded"
    assert mail_since(f, app_id) == {
        ("application_submitted_direct", NETWORK, (NETWORK,), (FR_COMMISSION,), "en"),
        ("application_submitted_direct", FR_COMMISSION, (NETWORK,), (FR_COMMISSION,),
         lang("application_submitted_direct", "fr")),
        ("application_acknowledged", LYON, (LYON,), (), lang("application_acknowledged", "fr")),
    }  # fmt: skip

    act(world, decisions.decide, INSTITUTE, app_id, "start_review", now=t2)
    mark = last_mail_id(f)
    with pytest.raises(InvalidInput, match="comment"):
        act(world, decisions.decide, INSTITUTE, app_id, "not_admit", now=t3)
    act(world, decisions.decide, INSTITUTE, app_id, "not_admit", now=t3, comment="Plan too vague")
    assert state(f, app_id) == "not_admitted"
    assert mail_since(f, app_id, mark) == set()  # told when announced, not before
    act(world, announcements.announce, INSTITUTE, [app_id], on=date(2027, 9, 1), title="2027",
        now=t3)  # fmt: skip
    assert mail_since(f, app_id, mark) == {
        ("application_not_admitted", LYON, (LYON,), (FR_COMMISSION,),
         lang("application_not_admitted", "fr")),
        ("application_not_admitted", FR_COMMISSION, (LYON,), (FR_COMMISSION,),
         lang("application_not_admitted", "fr")),
    }  # fmt: skip
    assert [e[:5] for e in events(f, app_id)] == [
        ("create", "Lyon focal point", "city", None, "draft"),
        ("upload_signed_form", "Lyon focal point", "city", None, None),
        ("submit_direct", "Lyon focal point", "city", "draft", "forwarded"),
        ("start_review", "UIL officer", "institute", "forwarded", "under_review"),
        ("not_admit", "UIL officer", "institute", "under_review", "not_admitted"),
        ("announce_non_admission", "UIL officer", "institute", "not_admitted", "not_admitted"),
    ]
    assert events(f, app_id)[-1][-1] == "Plan too vague"
    with f() as session:
        app = session.get(Application, app_id)
        assert app is not None
        assert (app.route, app.endorsement, app.endorsed_at) == (
            "direct",
            "CNFU letter 2027/44",
            t1,
        )
        assert session.scalar(select(func.count(Membership.id))) == 0


# --- quota ----------------------------------------------------------------------------


def test_fourth_endorsement_in_one_call_is_refused(world: World) -> None:
    f = world.factory
    extra = [add_lv_city(world, name) for name in ("Riga", "Cesis")]
    ids = [submitted(world, "Jelgava"), submitted(world, "Valmiera")]
    for city in extra:
        app_id = draft_as(world, city, IN_2027)
        act(world, submissions.submit, city, app_id, now=IN_2027)
        ids.append(app_id)
    for app_id in ids[:3]:
        act(world, submissions.endorse, LV, app_id, now=utc(2027, 5, 2))
    mark = last_mail_id(f)
    with pytest.raises(QuotaExceeded, match="Latvia has already endorsed 3 cities in call 2027"):
        act(world, submissions.endorse, LV, ids[3], now=utc(2027, 5, 3))
    assert state(f, ids[3]) == "submitted"
    assert last_mail_id(f) == mark
    # withdrawing an endorsed application frees its slot
    act(world, decisions.decide, world.city("Jelgava"), ids[0], "withdraw", now=utc(2027, 5, 4))
    act(world, submissions.endorse, LV, ids[3], now=utc(2027, 5, 5))
    assert state(f, ids[3]) == "forwarded"
    with f() as session:
        assert submissions.endorsements_used(session, _call_id(session, ids[3]), "LV") == 3


def _call_id(session: Session, app_id: int) -> int:
    app = session.get(Application, app_id)
    assert app is not None
    return app.call_id


def test_direct_submissions_count_against_the_quota(world: World) -> None:
    riga, cesis = add_lv_city(world, "Riga"), add_lv_city(world, "Cesis")
    direct = world.draft("Jelgava", IN_2027)
    act(
        world,
        submissions.submit_direct,
        world.city("Jelgava"),
        direct,
        now=IN_2027,
        endorsement="L-1",
    )
    for city in (riga, cesis):
        app_id = draft_as(world, city, IN_2027)
        act(world, submissions.submit_direct, city, app_id, now=IN_2027, endorsement="L-2")
    valmiera = submitted(world, "Valmiera")
    with pytest.raises(QuotaExceeded):
        act(world, submissions.endorse, LV, valmiera, now=utc(2027, 5, 2))
    # a fourth direct submission is refused the same way
    liepaja = add_lv_city(world, "Liepaja")
    fourth = draft_as(world, liepaja, IN_2027)
    with pytest.raises(QuotaExceeded):
        act(world, submissions.submit_direct, liepaja, fourth, now=IN_2027, endorsement="L-4")
    assert state(world.factory, fourth) == "draft"
    # another country's quota is untouched
    tartu = submitted(world, "Tartu")
    act(world, submissions.endorse, World.commission("EE"), tartu, now=utc(2027, 5, 2))


def test_another_call_has_its_own_quota(world: World) -> None:
    extra = [add_lv_city(world, name) for name in ("Riga", "Cesis", "Liepaja")]
    for city in extra:
        app_id = draft_as(world, city, IN_2027)
        act(world, submissions.submit_direct, city, app_id, now=IN_2027, endorsement="L")
    in_2028 = utc(2028, 3, 10)
    app_id = submitted(world, "Jelgava", in_2028)
    act(world, submissions.endorse, LV, app_id, now=in_2028)
    assert state(world.factory, app_id) == "forwarded"


def test_quota_of_an_admin_call(world: World) -> None:
    act(
        world,
        calls.create_call,
        ADMIN,
        name="2031-autumn",
        opens_on=date(2031, 9, 1),
        closes_on=date(2031, 11, 30),
        quota=1,
        now=utc(2031, 1, 5),
    )
    now = utc(2031, 9, 2)
    first, second = submitted(world, "Jelgava", now), submitted(world, "Valmiera", now)
    act(world, submissions.endorse, LV, first, now=now)
    with pytest.raises(QuotaExceeded, match="endorsed 1 cities in call 2031-autumn"):
        act(world, submissions.endorse, LV, second, now=now)


# --- deadlines, withdrawal, expiry --------------------------------------------------------


def test_endorsing_after_the_commission_deadline_until_extended(world: World) -> None:
    app_id, on_time = submitted(world, "Jelgava"), submitted(world, "Valmiera")
    # 2027 deadline: 30 May 2027, 23:59:59 Europe/Berlin (summer time, UTC+2)
    act(world, submissions.endorse, LV, on_time, now=utc(2027, 5, 30, 21, 59, 59))
    with pytest.raises(DeadlinePassed, match="30 May 2027 23:59:59 Europe/Berlin"):
        act(world, submissions.endorse, LV, app_id, now=utc(2027, 5, 30, 22))
    assert state(world.factory, app_id) == "submitted"
    with pytest.raises(NotAllowed), transaction(world.factory) as session:
        calls.extend_call(session, LV, "2027", now=utc(2027, 6, 1), closes_on=date(2027, 6, 30))
    with transaction(world.factory) as session:
        calls.extend_call(
            session, ADMIN, "2027", now=utc(2027, 6, 1), commission_deadline=date(2027, 6, 15)
        )
    act(world, submissions.endorse, LV, app_id, now=utc(2027, 6, 15, 12))
    assert state(world.factory, app_id) == "forwarded"


@pytest.mark.parametrize("stage", ["draft", "submitted", "forwarded", "under_review"])
def test_withdrawal(world: World, stage: str) -> None:
    app_id = world.draft("Jelgava", IN_2027)
    if stage != "draft":
        act(world, submissions.submit, world.city("Jelgava"), app_id, now=IN_2027)
    if stage in ("forwarded", "under_review"):
        act(world, submissions.endorse, LV, app_id, now=IN_2027)
    if stage == "under_review":
        act(world, decisions.decide, INSTITUTE, app_id, "start_review", now=IN_2027)
    with pytest.raises(NotAllowed):
        act(world, decisions.decide, LV, app_id, "withdraw", now=IN_2027)
    act(world, decisions.decide, world.city("Jelgava"), app_id, "withdraw", now=utc(2027, 4, 1))
    assert state(world.factory, app_id) == "withdrawn"
    assert events(world.factory, app_id)[-1][:5] == (
        "withdraw",
        "Jelgava focal point",
        "city",
        stage,
        "withdrawn",
    )
    # a withdrawn application does not block a new one in the same call
    assert world.draft("Jelgava", utc(2027, 4, 2)) != app_id


def test_unsubmitted_draft_expires_after_the_window_closes(world: World) -> None:
    app_id = world.draft("Jelgava", IN_2027)
    last_second = utc(2027, 4, 30, 21, 59, 59)  # 30 April 23:59:59 Europe/Berlin
    with pytest.raises(InvalidInput, match="can still be submitted until 2027-04-30"):
        act(world, decisions.decide, SYSTEM, app_id, "expire", now=last_second)
    assert state(world.factory, app_id) == "draft"
    with pytest.raises(NotAllowed):
        act(world, decisions.decide, world.city("Jelgava"), app_id, "expire", now=utc(2027, 5, 2))
    closed = last_second + timedelta(seconds=1)
    act(world, decisions.decide, SYSTEM, app_id, "expire", now=closed)
    assert state(world.factory, app_id) == "expired"
    assert events(world.factory, app_id)[-1] == (
        "expire",
        "scheduler",
        "system",
        "draft",
        "expired",
        closed,
        "",
    )


def test_submission_window_edges_for_a_city(world: World) -> None:
    app_id = world.draft("Valmiera", IN_2027)
    with pytest.raises(OutsideWindow):
        act(world, submissions.submit, world.city("Valmiera"), app_id, now=utc(2027, 4, 30, 22))
    act(world, submissions.submit, world.city("Valmiera"), app_id, now=utc(2027, 4, 30, 21, 59, 59))
    assert state(world.factory, app_id) == "submitted"


# --- return, resubmission, comments, the form ---------------------------------------------


def test_return_with_a_comment_and_resubmission(world: World) -> None:
    f = world.factory
    city = world.city("Jelgava")
    app_id = submitted(world, "Jelgava")
    for trigger in ("return_to_city", "decline"):
        with pytest.raises(InvalidInput, match="needs a comment"):
            act(world, decisions.decide, LV, app_id, trigger, now=utc(2027, 4, 3), comment=" ")
    assert state(f, app_id) == "submitted"
    mark = last_mail_id(f)
    act(
        world,
        decisions.decide,
        LV,
        app_id,
        "return_to_city",
        now=utc(2027, 4, 3),
        comment="Add KPIs",
    )
    assert state(f, app_id) == "returned"
    assert {(m[0], m[1], m[2], m[3]) for m in mail_since(f, app_id, mark)} == {
        ("application_returned", JELGAVA, (JELGAVA,), (LV_COMMISSION,)),
        ("application_returned", LV_COMMISSION, (JELGAVA,), (LV_COMMISSION,)),
    }
    with f() as session:
        body = session.scalars(
            select(OutboxMessage.body_text).where(
                OutboxMessage.id > mark, OutboxMessage.recipient == JELGAVA
            )
        ).one()
        assert "Add KPIs" in body
    with transaction(f) as session:
        apps.update_draft(
            session, world.settings, city, app_id, now=utc(2027, 5, 10), motivation="With KPIs."
        )
    # a returned application may come back after the window, until the Commission deadline
    act(world, submissions.submit, city, app_id, now=utc(2027, 5, 10))
    assert state(f, app_id) == "submitted"
    assert [e[0] for e in events(f, app_id)] == [
        "create",
        "upload_signed_form",
        "submit",
        "return_to_city",
        "submit",
    ]
    assert events(f, app_id)[3][-1] == "Add KPIs"
    act(world, decisions.decide, LV, app_id, "decline", now=utc(2027, 5, 11), comment="Not now")
    assert state(f, app_id) == "declined"


def test_returned_application_cannot_come_back_after_the_deadline(world: World) -> None:
    app_id = submitted(world, "Jelgava")
    act(world, decisions.decide, LV, app_id, "return_to_city", now=utc(2027, 4, 3), comment="Fix")
    with pytest.raises(DeadlinePassed, match="30 May 2027"):
        act(world, submissions.submit, world.city("Jelgava"), app_id, now=utc(2027, 5, 30, 22))
    act(world, decisions.decide, SYSTEM, app_id, "expire", now=utc(2027, 5, 30, 22))
    assert state(world.factory, app_id) == "expired"


def test_word_limit(world: World) -> None:
    """A draft over the limit is saved (a warning); the limit is checked at submission."""
    words = " ".join(["learning"] * 201)
    app_id = world.draft("Jelgava", IN_2027, motivation=words)
    with world.factory() as session:
        app = session.get(Application, app_id)
        assert app is not None and apps.word_count(app.motivation) == 201
        assert [p.key for p in apps.form_warnings(app, world.settings)] == ["problem.word_count"]
    with pytest.raises(InvalidInput, match="motivation: 201 words, at most 200 allowed"):
        act(world, submissions.submit, world.city("Jelgava"), app_id, now=IN_2027)
    with transaction(world.factory) as session:
        apps.update_draft(
            session,
            world.settings,
            world.city("Jelgava"),
            app_id,
            now=IN_2027,
            motivation="Short again.",
            implementation_plan=words,
        )
    with pytest.raises(InvalidInput, match="implementation_plan: 201 words, at most 200"):
        act(world, submissions.submit, world.city("Jelgava"), app_id, now=IN_2027)
    assert state(world.factory, app_id) == "draft"


def test_required_fields_at_submission(world: World) -> None:
    app_id = world.draft(
        "Jelgava", IN_2027, motivation="", challenges={"governance": 4}, signed_by=""
    )
    with pytest.raises(InvalidInput) as refused:
        act(world, submissions.submit, world.city("Jelgava"), app_id, now=IN_2027)
    message = str(refused.value)
    assert "motivation: required" in message
    assert "challenges: rate funding, partnerships, monitoring, inclusion" in message
    assert "signed_by" in message
    assert "implementation_plan" not in message
    assert state(world.factory, app_id) == "draft"
    with pytest.raises(InvalidInput, match=r"challenges\.funding: rate it 1 to 5"):
        world.draft("Valmiera", IN_2027, challenges={"funding": 6})


def test_one_live_application_per_city_and_call(world: World) -> None:
    app_id = world.draft("Jelgava", IN_2027)
    with pytest.raises(InvalidInput, match=f"already has application {app_id}"):
        world.draft("Jelgava", IN_2027)


# --- the seed's timeline --------------------------------------------------------------------


def test_seed_2019_application_accepted_on_9_april(world: World) -> None:
    with transaction(world.factory) as session:
        (call,) = calls.ensure_year(session, world.settings, 2019, now=utc(2019, 1, 1))
        assert (call.name, call.opens_on, call.closes_on, call.timezone) == (
            "2019",
            date(2019, 3, 1),
            date(2019, 4, 30),
            "Europe/Berlin",
        )
    app_id = world.draft("Jelgava", utc(2019, 4, 9, 8))
    act(world, submissions.submit, world.city("Jelgava"), app_id, now=utc(2019, 4, 9, 10))
    assert state(world.factory, app_id) == "submitted"
    with world.factory() as session:
        app = session.get(Application, app_id)
        assert app is not None
        assert app.call.name == "2019"


def test_seed_2019_application_refused_on_1_may(world: World) -> None:
    app_id = world.draft("Jelgava", utc(2019, 4, 9, 8))
    may_first = utc(2019, 4, 30, 22)  # 1 May 2019 00:00:00 in Berlin (UTC+2)
    with pytest.raises(OutsideWindow) as refused:
        act(world, submissions.submit, world.city("Jelgava"), app_id, now=may_first)
    message = str(refused.value)
    assert "01 March 2019 to 30 April 2019" in message
    assert "Europe/Berlin" in message
    assert "call 2019" in message
    assert state(world.factory, app_id) == "draft"
    with world.factory() as session:
        audit_count = session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.subject_type == "application", AuditEvent.subject_id == app_id
            )
        )
        assert audit_count == 2  # only the draft's creation and its signed form


def test_one_line_fields_refuse_line_breaks_from_every_entry(world: World) -> None:
    """A signature or a user's name with CR/LF or control characters is refused at entry
    (a name in an email header must stay on one line)."""
    from workflow.services import users

    jelgava = world.city("Jelgava")
    app_id = world.draft("Jelgava", utc(2027, 3, 2, 9))
    with pytest.raises(InvalidInput, match="signed_by"), transaction(world.factory) as session:
        apps.update_draft(
            session, world.settings, jelgava, app_id, now=utc(2027, 3, 2, 9),
            signed_by="The Mayor\r\nBcc: someone@example.org",
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="name"), transaction(world.factory) as session:
        users.create_user(
            session, ADMIN, email="x@example.org", name="Evil\nName", role="institute",
            now=utc(2027, 3, 2, 9),
        )  # fmt: skip


def test_a_city_may_correspond_in_any_of_the_networks_languages(world: World) -> None:
    """The seed's Latvian cities write in Latvian: the portal's form takes every language of
    ``[network] languages``, and refuses one outside it."""
    from web import actions

    jelgava = world.city("Jelgava")
    now = utc(2027, 3, 2, 9)
    with transaction(world.factory) as session:
        app = actions.save_application(
            session, world.settings, jelgava, {"language": "lv"}, now=now
        )
        assert app.city.language == "lv"
    with pytest.raises(InvalidInput, match="language"), transaction(world.factory) as session:
        actions.save_application(session, world.settings, jelgava, {"language": "de"}, now=now)


# --- the transition's Core path (workflow.services.transit) -----------------------------


def test_an_orm_copy_in_the_same_unit_reads_the_transition(world: World) -> None:
    """A page that loaded the application and then fires a step in the same unit sees
    the row as the step left it, not the copy it loaded before."""
    app_id = world.draft("Jelgava", IN_2027)
    with transaction(world.factory) as session:
        before = session.get(Application, app_id)
        assert before is not None and before.state == "draft"
        seen = before.version
        row = submissions.submit(session, world.settings, world.city("Jelgava"), app_id,
                                 now=IN_2027)  # fmt: skip
        assert (row.state, row.version) == ("submitted", seen + 1)
        assert (before.state, before.version, before.submitted_at) == (
            "submitted", seen + 1, IN_2027,
        )  # fmt: skip
    assert state(world.factory, app_id) == "submitted"


def test_a_stale_version_is_refused_and_writes_nothing(world: World) -> None:
    app_id = world.draft("Jelgava", IN_2027)
    with world.factory() as session:
        app = session.get(Application, app_id)
        assert app is not None
        seen = app.version
    mark = last_mail_id(world.factory)
    with pytest.raises(Conflict):
        act(world, submissions.submit, world.city("Jelgava"), app_id, now=IN_2027,
            version=seen - 1)  # fmt: skip
    assert state(world.factory, app_id) == "draft"
    assert last_mail_id(world.factory) == mark
    assert [e[0] for e in events(world.factory, app_id)] == ["create", "upload_signed_form"]
