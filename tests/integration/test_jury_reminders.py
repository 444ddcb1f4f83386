"""Review-deadline reminders, on SQLite and PostgreSQL: [jury] reminder_days_before_deadline
days before a call's review deadline and on the day itself, each juror with assignments
neither scored nor declined gets one message in their language listing them; a second
sweep sends nothing; a finished juror gets nothing."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from notifications.models import OutboxMessage
from notifications.outbox import content
from tests.conftest import ADMIN, INSTITUTE, World, utc
from tests.integration.test_jury import ALL_FIVE, act, call_name, forwarded
from workflow.actors import Actor
from workflow.db import transaction
from workflow.services import jury, users
from workflow.sweep import sweep

IN_2027 = utc(2027, 3, 2, 9)
DEADLINE = date(2027, 6, 30)


def juror(world: World, name: str, code: str, language: str) -> Actor:
    with transaction(world.factory) as session:
        user = users.create_user(
            session,
            ADMIN,
            email=f"{name}.juror@example.org",
            name=f"Juror {name.upper()}",
            role="juror",
            country_code=code,
            language=language,
            now=IN_2027,
        )
        return users.actor_for(user)


def reminders_of(world: World, when: tuple[int, int, int]) -> list[tuple[str, str, str]]:
    report = sweep(world.factory, world.settings, now=utc(*when, 6))
    return sorted(
        (m.occasion, m.to[0], m.language) for m in report.messages if "jury" in m.occasion
    )


def test_jurors_who_have_not_finished_are_reminded_once_per_round(world: World) -> None:
    lyon, jelgava = forwarded(world, "Lyon"), forwarded(world, "Jelgava")
    call = call_name(world, lyon)
    lv = juror(world, "lv", "LV", "fr")
    ee = juror(world, "ee", "EE", "lv")
    fr = juror(world, "fr", "FR", "en")
    ids = {}
    for app_id, person in ((lyon, lv), (lyon, ee), (jelgava, ee), (jelgava, fr)):
        found = act(world, jury.assign, INSTITUTE, app_id, person.user_id, now=IN_2027)
        ids[app_id, person.user_id] = found.id
    score = {"scores": ALL_FIVE, "now": IN_2027}
    act(world, jury.submit_scores, ee, ids[lyon, ee.user_id], recommendation="admit", **score)
    act(world, jury.decline, fr, ids[jelgava, fr.user_id], reason="I know them.", now=IN_2027)
    # No deadline: no reminder.
    assert reminders_of(world, (2027, 6, 23)) == []
    with transaction(world.factory) as session:
        jury.set_review_deadline(session, INSTITUTE, call, DEADLINE, now=IN_2027)

    # d-7: lv (Lyon, in French) and ee (Jelgava, in Latvian); fr declined and has nothing.
    assert reminders_of(world, (2027, 6, 23)) == [
        ("jury_review_reminder", "ee.juror@example.org", "lv"),
        ("jury_review_reminder", "lv.juror@example.org", "fr"),
    ]
    assert reminders_of(world, (2027, 6, 23)) == []  # a second sweep sends nothing
    assert reminders_of(world, (2027, 6, 26)) == []  # no round starts between d-7 and d-1
    with world.factory() as session:
        message = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.occasion == "jury_review_reminder",
                OutboxMessage.recipient == "lv.juror@example.org",
            )
        ).one()
        text = content(message)
    assert "Lyon" in text.text and "Jelgava" not in text.text
    assert "30 juin 2027" in text.text and "dans 7 jours" in text.text
    assert f"/jury/assignments/{ids[lyon, lv.user_id]}" in text.text

    # ee scores Jelgava: d-1 reminds lv only; on the day, the last one.
    second = ids[jelgava, ee.user_id]
    act(world, jury.submit_scores, ee, second, recommendation="not_admit", **score)
    assert reminders_of(world, (2027, 6, 29)) == [
        ("jury_review_reminder", "lv.juror@example.org", "fr"),
    ]
    assert reminders_of(world, (2027, 6, 30)) == [
        ("jury_review_due_today", "lv.juror@example.org", "fr"),
    ]
    assert reminders_of(world, (2027, 6, 30)) == []
    assert reminders_of(world, (2027, 7, 1)) == []  # after the deadline: nothing
    with world.factory() as session:
        today = session.scalars(
            select(OutboxMessage).where(OutboxMessage.occasion == "jury_review_due_today")
        ).one()
        words = content(today)
    assert "Aujourd'hui" in words.subject and "Lyon" in words.text
