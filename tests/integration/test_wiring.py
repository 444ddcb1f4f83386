"""Every composition root wires mail in through notifications.wiring.install()."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import run_scheduler
from cli.main import app as gnlc
from config import Settings, load_settings
from notifications.wiring import MailHandlers
from web.app import create_app
from workflow import events


@pytest.fixture
def unwired() -> Iterator[None]:
    events.uninstall()
    with pytest.raises(events.NotWired):
        events.handlers()
    yield
    assert isinstance(events.handlers(), MailHandlers)


@pytest.fixture
def here(sqlite_url: str, tmp_path: Path) -> Settings:
    return load_settings({}).with_overrides(
        database={"url": sqlite_url}, mail={"maildir": str(tmp_path / "mail")}
    )


def test_the_portal_wires_mail(unwired: None, here: Settings) -> None:
    create_app(here)


def test_the_command_line_wires_mail(
    unwired: None, here: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GNLC_DATABASE__URL", here.database.url)
    monkeypatch.setenv("GNLC_MAIL__MAILDIR", here.mail.maildir)
    # Wired when a command first opens the database (``gnlc --help`` imports no domain).
    result = CliRunner().invoke(gnlc, ["call", "list"])
    assert result.exit_code == 0, result.output


def test_the_scheduler_script_wires_mail(unwired: None, here: Settings) -> None:
    environ = {"GNLC_DATABASE__URL": here.database.url, "GNLC_MAIL__MAILDIR": here.mail.maildir}
    code = run_scheduler.main(["--once", "--dry-run", "--now", "2027-03-01T06:00:00Z"], environ)
    assert code == 0
