"""The demo world of ``gnlc serve``: big enough to judge, loaded once, every state of every
workflow reached through its table, no mail queued, and every role x language account
signs in."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from config.paths import uploads_folder
from notifications.models import OutboxMessage
from tests.e2e.clients import csrf_of
from tests.e2e.live import live_portal
from web.demo import PASSWORD, load_demo
from web.demo_world import accounts
from workflow.machines import WORKFLOWS
from workflow.models import (
    Application,
    AuditEvent,
    Call,
    City,
    Country,
    JuryAssignment,
    Membership,
    Report,
    UploadedFile,
    User,
)
from workflow.services.applications import ENDORSED
from workflow.states import ApplicationState, MembershipState, ReportState, Role
from workflow.sweep import sweep

#: In March a report due on 31 March is open; in November none is (it opens in December).
MARCH = datetime(2026, 3, 10, 9, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 22, 12, tzinfo=UTC)
TABLES = (Country, City, User, Call, Application, Membership, Report, AuditEvent, UploadedFile)


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return {
            m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
            for m in (*TABLES, OutboxMessage)
        }


def states(
    factory: sessionmaker[Session], model: type[Application | Membership | Report]
) -> set[str]:
    with factory() as session:
        return set(session.scalars(select(model.state).distinct()))


def test_the_world_loads_once_on_any_database_and_queues_no_mail(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    load_demo(factory, settings, MARCH)
    small = counts(factory)
    started = time.monotonic()
    load_demo(factory, settings, MARCH, world=True)
    print(f"demo world loaded in {time.monotonic() - started:.1f} s")
    first = counts(factory)
    load_demo(factory, settings, MARCH, world=True)
    assert counts(factory) == first  # idempotent
    # A later start adds no world (only the small demo's call open that day, if none is).
    load_demo(factory, settings, NOVEMBER, world=True)
    later = counts(factory)
    assert {k: v for k, v in later.items() if k not in ("calls", "audit_events")} == {
        k: v for k, v in first.items() if k not in ("calls", "audit_events")
    }
    assert first["outbox"] == small["outbox"]  # loading queues no mail
    assert 40 <= first["countries"] <= 50
    assert 300 <= first["cities"] <= 400
    with factory() as session:
        members = session.scalar(select(func.count()).select_from(Membership)) or 0
        years = set(session.scalars(select(Membership.admission_year)))
        calls_used = set(session.scalars(select(Application.call_id)))
    assert 280 <= members <= 320
    assert min(years) == 2015 and max(years) == 2025
    assert 55 <= first["applications"] <= 70
    assert len(calls_used) == 2
    print(first)
    assert {a.email for a in accounts()} <= emails(factory)


def emails(factory: sessionmaker[Session]) -> set[str]:
    with factory() as session:
        return set(session.scalars(select(User.email)))


def test_every_state_of_every_workflow_is_there(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    load_demo(factory, settings, MARCH, world=True)
    assert states(factory, Application) == {s.value for s in ApplicationState}
    assert states(factory, Membership) == {s.value for s in MembershipState}
    assert states(factory, Report) == {s.value for s in ReportState}


def test_in_november_every_state_but_an_open_report(sqlite_url: str, tmp_path: Path) -> None:
    from config import load_settings
    from workflow.db import make_engine, session_factory

    settings = load_settings({}).with_overrides(
        database={"url": sqlite_url}, mail={"maildir": str(tmp_path / "mail")}
    )
    engine = make_engine(sqlite_url)
    factory = session_factory(engine)
    try:
        load_demo(factory, settings, NOVEMBER, world=True)
        assert states(factory, Application) == {s.value for s in ApplicationState}
        assert states(factory, Membership) == {s.value for s in MembershipState}
        # Obligations open 120 days before 31 March: in November no current member has
        # an open report (one left open when its member left stays so).
        assert states(factory, Report) >= {s.value for s in ReportState} - {"open"}
        with factory() as session:
            still_open = session.scalars(
                select(Membership.state)
                .join(Report, Report.membership_id == Membership.id)
                .where(Report.state == "open")
            ).all()
        assert set(still_open) <= {"removed", "withdrawn"}
        consistent(factory, settings, NOVEMBER)
    finally:
        engine.dispose()


SMALL = {"Jelgava", "Valmiera", "Lyon", "Tartu"}


def small_demo(record: Application | Membership | Report | JuryAssignment) -> bool:
    if isinstance(record, JuryAssignment):
        return False  # the small demo has no jury
    membership = record.membership if isinstance(record, Report) else record
    return membership.city.name in SMALL


def consistent(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """The audit trail replays to each record's state through the machine, the quota
    and the one-membership rule hold, files are on disk, and the sweep has nothing to do."""
    with factory() as session:
        trail: dict[tuple[str, int], list[AuditEvent]] = defaultdict(list)
        for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
            if event.to_state is not None:
                trail[(event.subject_type, event.subject_id)].append(event)
        for model, kind in (
            (Application, "application"),
            (Membership, "membership"),
            (Report, "report"),
            (JuryAssignment, "assignment"),
        ):
            workflow = WORKFLOWS[kind]
            records: list[Any] = list(session.scalars(select(model)))
            for record in records:
                if small_demo(record):
                    continue  # the small demo sets Valmiera's reports without a trail
                lines = trail.get((kind, record.id), [])
                at = None
                state = None if kind != "report" else ReportState.OPEN.value
                for line in lines:
                    assert line.from_state == state, (kind, record.id, line.action)
                    if state is not None:
                        step = workflow.resolve(
                            line.action, state, Role(line.role), kind=kind, key=record.id
                        )
                        assert step.dest.value == line.to_state
                    assert at is None or line.at >= at
                    at, state = line.at, line.to_state
                    assert line.at <= now
                assert state == record.state, (kind, record.id)
        endorsed = Counter(
            session.execute(
                select(Application.call_id, Application.country_code).where(
                    Application.state.in_([s.value for s in ENDORSED])
                )
            ).all()
        )
        quota = {c.id: c.quota for c in session.scalars(select(Call))}
        assert all(n <= quota[call] for (call, _), n in endorsed.items())
        for app in session.scalars(select(Application).where(Application.signed_form.is_not(None))):
            assert (uploads_folder(settings) / str(app.signed_form)).is_file()
        members = list(session.scalars(select(Membership.city_id)))
        assert len(members) == len(set(members))
    found = sweep(factory, settings, now=now, dry_run=True)
    assert found.steps == [], found.steps[:5]


def test_the_trail_replays_and_the_sweep_finds_nothing_to_change(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    load_demo(factory, settings, MARCH, world=True)
    consistent(factory, settings, MARCH)


def test_every_role_and_language_signs_in_over_http(sqlite_url: str, tmp_path: Path) -> None:
    with live_portal(sqlite_url, tmp_path, MARCH) as live:
        load_demo(live.factory, live.settings, MARCH, world=True)
        for account in accounts():
            with httpx.Client(base_url=live.url, follow_redirects=False, timeout=30) as pages:
                signed = pages.post(
                    "/login",
                    data={
                        "csrf_token": csrf_of(pages),
                        "email": account.email,
                        "password": PASSWORD,
                        "next": "/",
                    },
                )
                assert signed.status_code == 303, (account.email, signed.text[:300])
                home = pages.get("/")
                assert home.status_code == 200, account.email
                assert f'lang="{account.language}"' in home.text, account.email


def test_the_world_has_a_jury_at_work(factory: sessionmaker[Session], settings: Settings) -> None:
    load_demo(factory, settings, MARCH, world=True)
    with factory() as session:
        rows = list(session.scalars(select(JuryAssignment)))
        states = Counter(a.state for a in rows)
        assert states["scored"] >= 1 and states["assigned"] >= 1 and states["declined"] == 1
        assert all(a.juror.country_code != a.application.country_code for a in rows)
        assert {a.juror.email.split("@")[0] for a in rows} <= {
            f"juror.{lang}" for lang in ("en", "fr", "lv", "ru")
        }
        scored = [a for a in rows if a.state == "scored"]
        assert all(len(a.scores) == len(settings.jury.criteria) for a in scored)
        (call,) = {a.application.call for a in rows}
        assert call.review_deadline is not None
        assert call.review_deadline > call.commission_deadline
