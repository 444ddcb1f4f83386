"""docs/tour.md's command-line block, run on a fresh demo world as a newcomer pastes it:
a juror scores blind, the Institute ranks and decides, an announcement is published and
corrected, the new member's feed has its report due dates counted from the announcement's
year, and a returned questionnaire is resubmitted and accepted. The doc stays true."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app as gnlc
from config import load_settings
from web.demo import load_demo
from workflow.db import make_engine, session_factory
from workflow.models import Announcement, Application, Membership, ReportVersion

ROOT = Path(__file__).resolve().parents[2]
#: The demo of the doc was started in December 2026 (its open call is demo-2026-12).
STARTED = datetime(2026, 12, 2, 9, tzinfo=UTC)
NOW = "2026-12-02T10:00:00+00:00"


def commands() -> list[list[str]]:
    text = (ROOT / "docs" / "tour.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n(.*?)```", text.split("## With the command line", 1)[1], re.S)
    assert block, "docs/tour.md lost its command-line block"
    lines = [line[2:] for line in block.group(1).splitlines() if line.startswith("$ ")]
    assert all(line.startswith("gnlc ") for line in lines)
    return [shlex.split(line)[1:] for line in lines]


def test_the_tour_plays_a_whole_call_with_the_command_line(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings({}).with_overrides(
        database={"url": sqlite_url}, mail={"maildir": str(tmp_path / "mail")}
    )
    factory = session_factory(make_engine(sqlite_url))
    load_demo(factory, settings, STARTED, world=True)
    monkeypatch.setenv("GNLC_DATABASE__URL", sqlite_url)
    monkeypatch.setenv("GNLC_MAIL__MAILDIR", str(tmp_path / "mail"))
    said: dict[str, str] = {}
    runner = CliRunner()
    for args in commands():
        done = runner.invoke(gnlc, ["--now", NOW, *args], env={"COLUMNS": "200"})
        assert done.exit_code == 0, f"gnlc {shlex.join(args)}\n{done.output}"
        said[" ".join(args[:2])] = said.get(" ".join(args[:2]), "") + done.output

    # Blind: before scoring, the juror sees their own row only; after, the other's too.
    first, _, after = said["jury scores"].partition("Julien Moreau")
    assert "Rachel Evans" not in first + after.split("Application 8", 1)[0]
    assert "Rachel Evans" in after

    with factory() as session:
        rezekne = session.scalars(select(Application).where(Application.id == 8)).one()
        assert rezekne.state == "admitted"
        member = session.scalars(select(Membership).where(Membership.application_id == 8)).one()
        assert member.admitted_on.isoformat() == "2027-02-14"  # the announcement's date
        corrected = session.scalars(select(Application).where(Application.id == 57)).one()
        assert corrected.state == "admitted"
        assert session.scalars(select(Membership).where(Membership.application_id == 57)).one()
        announcement = session.get(Announcement, 12)
        assert announcement is not None and announcement.state == "corrected"
        versions = session.scalars(
            select(ReportVersion)
            .where(ReportVersion.report_id == 15)
            .order_by(ReportVersion.number)
        ).all()
        assert [v.outcome for v in versions] == ["returned", "accepted"]
        assert "partnerships" in versions[0].comments

    # The feed a calendar client reads: reports due every second 31 March from 2029.
    feed = said["calendar show"]
    parsed = Calendar.from_ical(feed[feed.index("BEGIN:VCALENDAR") :])
    due = sorted(
        e.decoded("dtstart").isoformat()
        for e in parsed.walk("VEVENT")
        if "Rēzekne" in str(e.get("summary"))
    )
    assert due[:3] == ["2029-03-31", "2031-03-31", "2033-03-31"]
    url = re.search(r"http://\S+\.ics", said["calendar url"])
    assert url is not None
