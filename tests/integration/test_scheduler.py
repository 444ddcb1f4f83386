"""The scheduler as processes: ``run_scheduler.py --once`` end to end into a Maildir,
a clean stop on SIGTERM, bad settings, ``gnlc sweep --dry-run``, and three schedulers
at once on one database (zero duplicates, zero lost)."""

from __future__ import annotations

import json
import mailbox
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cli.main import app
from notifications.models import OutboxMessage
from tests.conftest import ADMIN, INSTITUTE, World, utc
from workflow.db import transaction
from workflow.models import AuditEvent, Call, City, Report
from workflow.scheduler import build_scheduler
from workflow.services import directory, memberships

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "run_scheduler.py"


def environment(db_url: str, maildir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNLC_")}
    env.update(
        {
            "GNLC_DATABASE__URL": db_url,
            "GNLC_MAIL__MAILDIR": str(maildir),
            "GNLC_MAIL__SENDER": "maildir",
            "PYTHONPATH": str(ROOT),
            **extra,
        }
    )
    return env


def scheduler(db_url: str, maildir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        # The first dispatch may run before the first sweep's mail exists: retry soon.
        env=environment(db_url, maildir, GNLC_SCHEDULER__DISPATCH_INTERVAL_SECONDS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def delivered(maildir: Path) -> Counter[tuple[str, str]]:
    """(Message-ID, Delivered-To) of every file in the Maildir, counted."""
    box = mailbox.Maildir(maildir, create=False)
    return Counter((str(m["Message-ID"]), str(m["Delivered-To"])) for m in box)


def outbox(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def import_member(world: World, city: str, admitted: date) -> None:
    with transaction(world.factory) as session:
        target = session.get(City, world.cities[city])
        assert target is not None
        memberships.import_member(
            session, world.settings, INSTITUTE, target, admitted_on=admitted, now=utc(2027, 1, 1)
        )


def test_once_with_now_sweeps_and_writes_the_maildir(
    world: World, db_url: str, tmp_path: Path
) -> None:
    import_member(world, "Tartu", date(2025, 6, 1))
    maildir = tmp_path / "mail"
    proc = scheduler(db_url, maildir, "--once", "--now", "2027-03-01T06:00:00Z")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "sweep at 2027-03-01T06:00:00+00:00" in err
    rows = outbox(world.factory)
    # 3 Commissions and 3 non-member cities told the window is open; Tartu's d-30.
    assert sorted((r.occasion, r.recipient) for r in rows) == sorted(
        [
            ("call_opened", "office@unesco.lv"),
            ("call_opened", "unesco@unesco.ee"),
            ("call_opened", "cnfu@unesco.fr"),
            ("call_opened", "pasts@jelgava.lv"),
            ("call_opened", "info@valmiera.lv"),
            ("call_opened", "education@lyon.fr"),
            ("report_reminder", "linn@tartu.ee"),
        ]
    )
    assert {r.status for r in rows} == {"sent"}
    assert delivered(maildir) == Counter((r.message_id, r.recipient) for r in rows)
    box = mailbox.Maildir(maildir, create=False)
    jelgava = next(m for m in box if m["Delivered-To"] == "pasts@jelgava.lv")
    assert "2027" in str(jelgava["Subject"])
    # Once more at the same moment: nothing new is sent.
    again = scheduler(db_url, maildir, "--once", "--now", "2027-03-01T07:00:00Z")
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert sum(delivered(maildir).values()) == len(rows)


def test_dry_run_once_prints_json_and_changes_nothing(
    world: World, db_url: str, tmp_path: Path
) -> None:
    proc = scheduler(db_url, tmp_path / "mail", "--once", "--dry-run", "--now", "2027-03-01T06:00Z")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    plan = json.loads(out)
    assert plan["dry_run"] is True and len(plan["messages"]) == 7
    assert outbox(world.factory) == []


def test_bad_settings_exit_2_with_one_line(tmp_path: Path, sqlite_url: str) -> None:
    env = environment(sqlite_url, tmp_path / "mail", GNLC_SCHEDULER__SWEEP_INTERVAL_SECONDS="0")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: invalid settings: scheduler.sweep_interval_seconds: "
        "Input should be greater than or equal to 1 (got '0')"
    ]


def test_sigterm_stops_a_running_scheduler_cleanly(
    world: World, db_url: str, tmp_path: Path
) -> None:
    import_member(world, "Tartu", date(2025, 6, 1))
    maildir = tmp_path / "mail"
    proc = scheduler(db_url, maildir, "--now", "2027-03-01T06:00:00Z")
    try:
        # Both jobs run at start: wait (bounded) until the sweep's mail is delivered.
        deadline = time.monotonic() + 60
        rows: list[OutboxMessage] = []
        while time.monotonic() < deadline:
            rows = outbox(world.factory)
            if len(rows) == 7 and all(r.status == "sent" for r in rows):
                break
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.2)
        assert len(rows) == 7 and all(r.status == "sent" for r in rows)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "received SIGTERM" in err and "scheduler stopped" in err
    assert sum(delivered(maildir).values()) == 7


def test_background_scheduler_runs_both_jobs_at_start(world: World, tmp_path: Path) -> None:
    # The dispatcher's first run may come before the sweep's mail: its next is soon.
    settings = world.settings.with_overrides(
        mail={"maildir": str(tmp_path / "mail")}, scheduler={"dispatch_interval_seconds": 1}
    )
    sched = build_scheduler(
        settings, world.factory, blocking=False, now_override=utc(2027, 3, 1, 6)
    )
    sched.start()
    try:
        jobs = sched.get_jobs()
        assert {j.id for j in jobs} == {"sweep", "dispatch"}
        assert all(j.coalesce and j.max_instances == 1 for j in jobs)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = outbox(world.factory)
            if len(rows) == 7 and all(r.status == "sent" for r in rows):
                break
            time.sleep(0.1)
    finally:
        sched.shutdown(wait=True)
    rows = outbox(world.factory)
    assert len(rows) == 7 and {r.status for r in rows} == {"sent"}  # 3 Commissions, 4 cities


def test_gnlc_sweep_dry_run_changes_nothing(world: World, db_url: str, tmp_path: Path) -> None:
    import_member(world, "Lyon", date(2025, 1, 1))
    world.draft("Jelgava", utc(2027, 3, 2))
    runner = CliRunner(
        env={"GNLC_DATABASE__URL": db_url, "GNLC_MAIL__MAILDIR": str(tmp_path / "mail")}
    )

    def snapshot() -> dict[str, object]:
        with world.factory() as session:
            return {
                "outbox": session.scalar(select(func.count(OutboxMessage.id))),
                "audit": session.scalar(select(func.count(AuditEvent.id))),
                "reports": sorted(
                    (r.due_on, r.state, r.version) for r in session.scalars(select(Report))
                ),
                "calls": session.scalar(select(func.count(Call.id))),
            }

    before = snapshot()
    result = runner.invoke(app, ["sweep", "--dry-run", "--now", "2028-04-01T06:00", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["changes"]["applications_expired"] == 1
    assert plan["changes"]["memberships_inactive"] == 1
    assert {m["occasion"] for m in plan["messages"]} >= {"membership_inactive", "call_opened"}
    assert snapshot() == before
    table = runner.invoke(app, ["sweep", "--dry-run", "--now", "2028-04-01T06:00"])
    assert table.exit_code == 0 and "nothing was changed" in table.output
    assert "membership_inactive" in table.output
    assert snapshot() == before


def _crowd(world: World, cities: int, members: int) -> None:
    """Many cities, some of them members admitted in 2025 (reports due 31 March 2027)."""
    with transaction(world.factory) as session:
        for n in range(cities):
            city = directory.upsert_city(
                session,
                ADMIN,
                country_code=("LV", "EE", "FR")[n % 3],
                name=f"Town {n:04d}",
                contact_email=f"town{n:04d}@example.org",
                language=("lv", "en", "fr", "ru")[n % 4],
                now=utc(2027, 1, 1),
            )
            if n < members:
                memberships.import_member(
                    session,
                    world.settings,
                    INSTITUTE,
                    city,
                    admitted_on=date(2025, 6, 1),
                    now=utc(2027, 1, 1),
                )


@pytest.mark.slow
def test_three_schedulers_at_once_send_each_message_once(
    world: World, db_url: str, tmp_path: Path
) -> None:
    cities, members = 240, 120
    _crowd(world, cities, members)
    maildir = tmp_path / "mail"
    for moment in ("2027-03-01T06:00:00Z", "2027-04-01T06:00:00Z", "2028-04-01T06:00:00Z"):
        procs = [scheduler(db_url, maildir, "--once", "--now", moment) for _ in range(3)]
        for proc in procs:
            _, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
    rows = outbox(world.factory)
    by_occasion = Counter(r.occasion for r in rows)
    # Worked out by hand: 1 March 2027, every Commission (3) and every non-member city
    # (4 + 120); d-30 for each member. 1 April: overdue-1 for each member. 1 April 2028:
    # the 2028 window is open (announced late, once); each member inactive (To the city,
    # Cc its Commission: two copies).
    assert by_occasion == {
        "call_opened": 2 * (3 + 4 + (cities - members)),
        "report_reminder": members,
        "report_overdue": members,
        "membership_inactive": 2 * members,
    }
    assert {r.status for r in rows} == {"sent"}
    # One delivery per outbox row, none lost, none doubled.
    assert delivered(maildir) == Counter((r.message_id, r.recipient) for r in rows)
    with world.factory() as session:
        moves = Counter(
            (e.subject_type, e.action)
            for e in session.scalars(select(AuditEvent).where(AuditEvent.role == "system"))
        )
        created = session.scalar(select(func.count(Report.id)))
    assert moves == {
        ("report", "mark_overdue"): members,
        ("membership", "mark_overdue"): members,
        ("membership", "mark_inactive"): members,
    }
    assert created == members  # due 2027, once; 2029's is created from December 2028
