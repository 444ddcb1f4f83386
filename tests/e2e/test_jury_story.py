"""The jury's story in a browser (one run, English, desktop): the Institute spreads a
call's applications; a juror scores one (the other juror's scores hidden before, shown
after) and declines another with a reason; the Institute reassigns it, reads the ranking
and downloads its CSV. Every page is checked by axe-core and photographed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlalchemy import select

from tests.conftest import ADMIN, World
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import DESKTOP, PASSWORD, shot, sign_in
from tests.e2e.live import live_portal
from tests.integration.test_jury import ALL_FIVE, forwarded
from web.security import hash_password
from workflow.db import transaction, upgrade
from workflow.models import Application, City, JuryAssignment, User
from workflow.services import jury, users

START = datetime(2027, 3, 10, 9, tzinfo=UTC)  # the 2027 call is open
JURORS = {"lv": "LV", "fr": "FR", "ee": "EE"}

pytestmark = pytest.mark.e2e


def _juror(world: World, name: str, code: str) -> None:
    with transaction(world.factory) as session:
        users.create_user(
            session,
            ADMIN,
            email=f"{name}.juror@example.org",
            name=f"Juror {name.upper()}",
            role="juror",
            country_code=code,
            password_hash=hash_password(PASSWORD),
            now=START,
        )


def _assignment(world: World, app_id: int, juror: str) -> JuryAssignment:
    with world.factory() as session:
        found = session.scalars(
            select(JuryAssignment)
            .join(User, JuryAssignment.juror_id == User.id)
            .where(
                JuryAssignment.application_id == app_id,
                User.email == f"{juror}.juror@example.org",
            )
        ).one()
        session.expunge(found)
        return found


def test_the_jury_spreads_scores_declines_reassigns_and_ranks(
    browser: Browser, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'gnlc.db'}"
    upgrade(url)
    with live_portal(url, tmp_path, START) as live:
        with live.factory() as session:
            cities = {c.name: c.id for c in session.scalars(select(City))}
        world = World(live.factory, live.settings, cities)
        ids = {c: forwarded(world, c) for c in ("Jelgava", "Tartu", "Lyon")}
        for name, code in JURORS.items():
            _juror(world, name, code)
        with live.factory() as session:
            app = session.get(Application, ids["Lyon"])
            assert app is not None
            call_name = app.call.name

        # The Institute spreads the call: two jurors for each application.
        institute = sign_in(browser, live, "institute@example.org", DESKTOP)
        institute.click("nav a[href='/jury']")
        institute.click(f"a[href='/jury/calls/{call_name}']")
        institute.fill("#per_application", "2")
        institute.click("form[action$='/spread'] button")
        assert "spread among the jurors" in institute.inner_text(".alert.ok")
        assert_accessible(institute)
        shot(institute, "jury-1-spread")

        # Juror EE scores Lyon first (through the service); Juror LV reads only their own
        # row until they have scored.
        ee = _assignment(world, ids["Lyon"], "ee")
        with transaction(live.factory) as session:
            jury.submit_scores(
                session,
                live.settings,
                users.actor_for(users.user_by_email(session, "ee.juror@example.org")),
                ee.id,
                scores={**ALL_FIVE, "vision": 2},
                recommendation="not_admit",
                now=START,
            )
        juror = sign_in(browser, live, "lv.juror@example.org", DESKTOP)
        juror.click("nav a[href='/jury']")
        listed = juror.inner_text("main")
        assert "Lyon" in listed and "Tartu" in listed and "Jelgava" not in listed
        assert_accessible(juror)
        lyon = _assignment(world, ids["Lyon"], "lv")
        juror.click(f"a[href='/jury/assignments/{lyon.id}']")
        before = juror.inner_text("main")
        assert "Juror EE" not in before and "once you have submitted yours" in before
        assert_accessible(juror)
        for criterion in ALL_FIVE:
            juror.check(f"input[name=score_{criterion}][value='5']")
        juror.check("input[name=recommendation][value=admit]")
        juror.fill("#comment", "A strong, well-monitored plan.")
        juror.click("form[action$='/scores'] details summary")
        juror.click("form[action$='/scores'] button[name=confirm]")
        assert "Your scores are submitted" in juror.inner_text(".alert.ok")
        after = juror.inner_text("main")
        assert "Juror EE" in after and "4.30" in after  # (5 + 3.6) / 2
        assert_accessible(juror)
        shot(juror, "jury-2-scored")

        # ... and declines Tartu with a reason.
        tartu = _assignment(world, ids["Tartu"], "lv")
        juror.goto(f"{live.url}/jury/assignments/{tartu.id}")
        juror.fill("#reason", "I advised Tartu on its plan.")
        juror.click("form[action$='/decline'] details summary")
        juror.click("form[action$='/decline'] button[name=confirm]")
        assert "another juror" in juror.inner_text(".alert.ok")
        assert_accessible(juror)
        juror.context.close()

        # The Institute reassigns Tartu to a juror invited since, reads the ranking and
        # downloads it.
        _juror(world, "fr2", "FR")
        institute.reload()
        assert "I advised Tartu on its plan." in institute.inner_text("main")
        institute.select_option(f"#juror-{ids['Tartu']}", label="Juror FR2 (France)")
        institute.click(f"form:has(#juror-{ids['Tartu']}) button")
        assert "The juror is assigned" in institute.inner_text(".alert.ok")
        ranking = institute.inner_text("#ranking-h + p + .table-wrap")
        assert ranking.index("Lyon") < ranking.index("—")  # scored first, then the rest
        assert_accessible(institute)
        shot(institute, "jury-3-ranking")
        with institute.expect_download() as download:
            institute.click(f"a[href='/jury/calls/{call_name}/ranking.csv']")
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.startswith("\ufeffrank,application_id,city")
        assert ",Lyon,FR," in text and ",4.3," in text
        institute.context.close()
