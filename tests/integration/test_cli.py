"""The ``gnlc`` command as a script would use it: exit codes, one-line errors, JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
FORM = [
    "--motivation", "Jelgava wants every resident learning.",
    "--plan", "Festivals, a map of providers, yearly monitoring.",
    "--challenge", "governance=3", "--challenge", "funding=4", "--challenge", "partnerships=2",
    "--challenge", "monitoring=3", "--challenge", "inclusion=4",
    "--signed-by", "Andris Rāviņš",
]  # fmt: skip


@pytest.fixture
def gnlc(db_url: str, tmp_path: Path) -> CliRunner:
    runner = CliRunner(
        env={"GNLC_DATABASE__URL": db_url, "GNLC_MAIL__MAILDIR": str(tmp_path / "mail")}
    )
    for kind in ("countries", "cities"):
        result = runner.invoke(app, ["import", kind, str(EXAMPLES / f"{kind}.csv")])
        assert result.exit_code == 0, result.output
    return runner


def run(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (args, result.output)
    return result.output


def test_the_seed_route_by_command(gnlc: CliRunner) -> None:
    out = run(gnlc, "app", "new", "--as", "city:Jelgava", "--now", "2019-04-09", *FORM, "--json")
    app_id = json.loads(out)["id"]
    assert json.loads(out)["call"] == "2019"
    signed = str(EXAMPLES / "signed-form.pdf")
    run(gnlc, "app", "attach", str(app_id), signed, "--as", "city:Jelgava", "--now", "2019-04-09")
    run(gnlc, "app", "submit", str(app_id), "--as", "city:Jelgava", "--now", "2019-04-09")
    run(gnlc, "app", "endorse", str(app_id), "--as", "commission:LV", "--now", "2019-05-10")
    run(gnlc, "app", "start-review", str(app_id), "--as", "institute", "--now", "2019-06-01")
    run(gnlc, "app", "admit", str(app_id), "--as", "institute", "--now", "2019-09-01")
    # the decision is told when its announcement is published: membership from its date
    made = run(gnlc, "announcement", "new", "--as", "institute", "--now", "2019-09-02", "--json")
    key = str(json.loads(made)["id"])
    run(gnlc, "announcement", "add", key, "--as", "institute", "--call", "2019")
    published = run(
        gnlc,
        "announcement",
        "publish",
        key,
        "--as",
        "institute",
        "--date",
        "2019-09-02",
        "--title",
        "New members 2019",
        "--now",
        "2019-09-02",
        "--json",
    )
    assert json.loads(published)["state"] == "published"
    assert json.loads(published)["decisions"][0]["application"] == app_id
    shown = json.loads(run(gnlc, "app", "show", str(app_id), "--json"))
    assert shown["state"] == "admitted"
    assert [(e["action"], e["role"]) for e in shown["history"]] == [
        ("create", "city"), ("upload_signed_form", "city"), ("submit", "city"),
        ("endorse", "commission"),
        ("start_review", "institute"), ("admit", "institute"),
        ("announce_admission", "institute"),
    ]  # fmt: skip
    member = json.loads(run(gnlc, "member", "show", "Jelgava", "--count", "3", "--json"))
    assert member["due_dates"] == ["2021-03-31", "2023-03-31", "2025-03-31"]


def test_refusals_are_one_line_with_exit_code_1(gnlc: CliRunner) -> None:
    out = run(gnlc, "app", "new", "--as", "city:Jelgava", "--now", "2019-04-09", *FORM, "--json")
    app_id = json.loads(out)["id"]
    late = gnlc.invoke(
        app, ["app", "submit", str(app_id), "--as", "city:Jelgava", "--now", "2019-05-01"]
    )
    assert late.exit_code == 1
    assert "01 March 2019 to 30 April 2019" in late.output
    assert "Europe/Berlin" in late.output
    assert "Traceback" not in late.output
    wrong = gnlc.invoke(app, ["app", "endorse", str(app_id), "--as", "city:Jelgava"])
    assert wrong.exit_code == 1
    assert "Only the National Commission can endorse" in wrong.output
    other = gnlc.invoke(app, ["app", "show", str(app_id), "--as", "city:Liepāja"])
    assert other.exit_code == 1
    assert "another city" in other.output
    missing = gnlc.invoke(app, ["app", "submit", "999", "--as", "institute"])
    assert missing.exit_code == 1
    assert "No application 999" in missing.output


def test_bad_settings_exit_2_and_name_the_key(db_url: str) -> None:
    runner = CliRunner(env={"GNLC_DATABASE__URL": db_url, "GNLC_CALLS__QUOTA": "three"})
    result = runner.invoke(app, ["call", "list"])
    assert result.exit_code == 2
    assert "calls.quota" in result.output


def test_bad_csv_imports_nothing_and_names_the_line(gnlc: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "cities.csv"
    bad.write_text(
        "country,name,contact_email\nLV,Ogre,dome@ogre.lv\nLV,Tukums,not-an-email\n",
        encoding="utf-8",
    )
    result = gnlc.invoke(app, ["import", "cities", str(bad)])
    assert result.exit_code == 1
    assert "line 3" in result.output and "contact_email" in result.output
    cities = json.loads(run(gnlc, "city", "list", "--json"))
    assert "Ogre" not in {c["name"] for c in cities}


def test_now_rejects_garbage(gnlc: CliRunner) -> None:
    result = gnlc.invoke(app, ["call", "list", "--now", "next tuesday"])
    assert result.exit_code == 1
    assert "--now" in result.output


def test_calls_listed_with_status_at_now(gnlc: CliRunner) -> None:
    calls = json.loads(run(gnlc, "call", "list", "--now", "2019-04-30", "--json"))
    by_name = {c["name"]: c for c in calls}
    assert by_name["2019"]["status"] == "open"
    assert by_name["2019"]["opens_on"] == "2019-03-01"
    assert by_name["2019"]["closes_on"] == "2019-04-30"
    assert by_name["2019"]["commission_deadline"] == "2019-05-30"
    assert by_name["2020"]["status"] == "upcoming"
    later = json.loads(run(gnlc, "call", "list", "--now", "2019-05-10", "--json"))
    assert {c["name"]: c["status"] for c in later}["2019"] == "closed"  # Commissions decide


def _leaves(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    import typer
    from typer.core import TyperGroup

    if not isinstance(command, TyperGroup):
        return [(path, command)]
    ctx = typer.Context(command)
    return [
        leaf
        for name in command.list_commands(ctx)
        for leaf in _leaves(command.get_command(ctx, name), (*path, name))
    ]


def test_help_lists_every_command_without_importing_one() -> None:
    """``gnlc --help`` reads the registry (in a fresh interpreter: nothing of the domain,
    SQLAlchemy or the portal is imported), and each summary is the command's own help."""
    import subprocess
    import sys

    import typer.main
    from typer.core import TyperGroup

    from cli.main import load
    from cli.registry import ENTRIES

    probe = (
        "import sys\nfrom typer.testing import CliRunner\nfrom cli.main import app\n"
        "out = CliRunner().invoke(app, ['--help'], env={'COLUMNS': '200'}).output\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'fastapi', 'uvicorn', 'jinja2', 'workflow',"
        " 'config', 'notifications', 'alembic', 'web') if m in sys.modules)\n"
        "print(repr(heavy)); print(out)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    heavy, _, listing = done.stdout.partition("\n")
    assert heavy == "[]", heavy
    for name, entry in ENTRIES.items():
        assert f" {name} " in listing, name
        command = load(name)
        own = (command.help or "").split("\n\n")[0]
        assert " ".join(own.split()) == entry.summary, name
    assert isinstance(typer.main.get_command(app), TyperGroup)


def test_every_command_takes_now_and_reads_plainly() -> None:
    import typer.main

    root = typer.main.get_command(app)
    leaves = _leaves(root)
    assert len(leaves) > 30
    for path, command in leaves:
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        assert "--now" in options, " ".join(path)
    submit = CliRunner().invoke(app, ["app", "submit", "--help"], env={"COLUMNS": "120"})
    assert "APPLICATION_ID" in submit.output and "{application_id}" not in submit.output
    assert "<bool>" not in CliRunner().invoke(app, ["sweep", "--help"]).output


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_now_after_the_command_means_what_it_means_before(gnlc: CliRunner) -> None:
    # accepted by the lists that used to reject it, with the same meaning as gnlc --now
    for args in (["outbox", "list"], ["member", "list"], ["report", "list"], ["city", "list"]):
        run(gnlc, *args, "--now", "2019-04-09")
    after = json.loads(run(gnlc, "call", "list", "--now", "2019-04-30", "--json"))
    before = json.loads(run(gnlc, "--now", "2019-04-30", "call", "list", "--json"))
    assert after == before


def test_a_bare_date_is_noon_utc_for_the_cli_and_the_scheduler() -> None:
    import run_scheduler
    from cli.context import parse_now

    assert parse_now("2027-03-05").isoformat() == "2027-03-05T12:00:00+00:00"
    assert run_scheduler.parse_instant("2027-03-05") == parse_now("2027-03-05")
    assert run_scheduler.parse_instant("2027-03-01T06:00:00Z").hour == 6


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_newcomers_findings(gnlc: CliRunner, tmp_path: Path) -> None:
    missing = gnlc.invoke(app, ["app", "endorse", "1", "--as", "commission:XX"])
    assert missing.exit_code == 1 and "`gnlc country list`" in missing.output
    assert "number" not in missing.output
    assert "Imported 1 city " in run(gnlc, "import", "cities", str(_one_city(tmp_path)))
    bare = tmp_path / "bare.csv"
    bare.write_text("country,name,contact_email\nLV,Ogre,dome@ogre.lv\n", encoding="utf-8")
    refused = gnlc.invoke(app, ["import", "cities", str(bare)])
    assert refused.exit_code == 1 and "contact_name" in refused.output
    broken = tmp_path / "broken.csv"
    broken.write_text(
        "country,name,contact_email,contact_name,mayor_name,mayor_title\n"
        'LV,"Tukums\nEvil",dome@tukums.lv,Office,Mayor Name,Mayor\n',
        encoding="utf-8",
    )
    one_line = gnlc.invoke(app, ["import", "cities", str(broken)])
    assert one_line.exit_code == 1 and "one line" in one_line.output


def _one_city(tmp_path: Path) -> Path:
    path = tmp_path / "one.csv"
    path.write_text(
        "country,name,contact_email,contact_name,mayor_name,mayor_title,language\n"
        "LV,Ogre,dome@ogre.lv,Education Office,Egils Helmanis,Mayor,lv\n",
        encoding="utf-8",
    )
    return path


def test_a_new_database_is_created_in_the_data_folder_and_said(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(app, ["call", "list"], env={"GNLC_HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert (home / "gnlc.db").exists()
    assert f"Created a new database: {home / 'gnlc.db'}" in result.output
    again = CliRunner().invoke(app, ["call", "list"], env={"GNLC_HOME": str(home)})
    assert "Created a new database" not in again.output


def test_the_collector_waits_only_while_the_command_loads(tmp_path: Path) -> None:
    """``gnlc`` as a process pauses the cyclic garbage collector while the modules load,
    and the command itself (the scheduler, the portal: days) runs with it on."""
    import subprocess
    import sys

    probe = (
        "import gc, sys\nimport cli.context\nfrom cli.main import app\n"
        "made = cli.context.reset_state\n"
        "def spy(**values):\n    print('loading', gc.isenabled()); return made(**values)\n"
        "cli.context.reset_state = spy\n"
        "sys.argv = ['gnlc', 'secret']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "print('after', gc.isenabled())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60,
        env={**os.environ, "GNLC_HOME": str(tmp_path)},
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith(("loading", "after"))]
    assert lines == ["loading True", "after True"], done.stdout


#: What no read command needs: the portal, the mail's templates and senders, Alembic,
#: the scheduler, the other database's driver (each a few to tens of milliseconds).
NOT_FOR_READING = (
    "fastapi", "starlette", "uvicorn", "jinja2", "alembic", "web", "apscheduler",
    "notifications.render", "notifications.senders", "notifications.dispatcher",
    "httpx", "icalendar", "argon2", "psycopg", "sqlalchemy.dialects.postgresql",
)  # fmt: skip


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_read_command_imports_only_what_it_reads_with(
    gnlc: CliRunner, db_url: str, tmp_path: Path
) -> None:
    """``gnlc call list`` and ``gnlc app show 1`` in a fresh interpreter, as benchmark 5
    times them: their output, and none of the modules a read does not need (a list
    that acts as nobody loads neither Babel nor the directory's services either)."""
    import ast
    import subprocess
    import sys

    run(gnlc, "app", "new", "--as", "city:Jelgava", "--now", "2019-04-09", *FORM)
    probe = (
        "import sys\nfrom cli.main import app\nsys.argv = ['gnlc', *sys.argv[1:]]\n"
        "try:\n    app()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "print(sorted(sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "GNLC_DATABASE__URL": db_url, "GNLC_MAIL__MAILDIR": str(tmp_path)}
    for args, shown, also in (
        (["call", "list", "--now", "2019-04-09"], "2019", ("babel", "workflow.services.directory")),
        (["app", "show", "1", "--now", "2019-04-09"], "Jelgava", ()),
    ):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True,
            check=True, timeout=60,
        )  # fmt: skip
        loaded = set(ast.literal_eval(done.stderr.strip().splitlines()[-1]))
        assert shown in done.stdout, done.stdout
        unwanted = [m for m in (*NOT_FOR_READING, *also) if m in loaded]
        assert unwanted == [], (args, unwanted)
