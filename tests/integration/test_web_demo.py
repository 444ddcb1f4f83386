"""The demo data: every account signs in, and loading it again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from web.demo import PASSWORD, USERS, load_demo
from web.signin import Transactions, attempt
from workflow.db import transaction
from workflow.models import Call, City, Membership, Report, User
from workflow.services import calls as call_service


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return {
            m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
            for m in (User, City, Membership, Report, Call)
        }


def test_demo_loads_once_and_every_account_signs_in(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    load_demo(factory, settings, now)
    first = counts(factory)
    load_demo(factory, settings, now)
    assert counts(factory) == first
    assert first["users"] == len(USERS)
    for email, *_ in USERS:
        found = attempt(
            Transactions(factory), settings.signin, email, PASSWORD, client="127.0.0.1", now=now
        )
        assert found.user_id > 0, email
    with transaction(factory) as session:
        # A call is open now, so a newcomer's city can apply at once.
        call = call_service.current_or_next(session, settings, now)
        assert call is not None and call_service.window(call).contains(now)
        valmiera = session.scalars(select(Membership)).one()
        reports = session.scalars(
            select(Report).where(Report.membership_id == valmiera.id).order_by(Report.due_on)
        ).all()
        assert [r.due_on.year for r in reports] == [2018, 2020, 2022, 2024, 2026]
        assert [r.state for r in reports][-2:] == ["accepted", "submitted"]
