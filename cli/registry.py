"""Every ``gnlc`` command and group, where it lives and what ``gnlc --help`` says of it.

``gnlc --help`` reads this table and imports nothing else: a command's module (and the
domain, SQLAlchemy, the portal...) is imported only when that command runs or shows its
own help. A group's help text is this table's (its module asks :func:`summary`); a
top-level command's first help paragraph must read as its summary here, which
``tests/integration/test_cli.py`` checks for every entry.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """``module.attribute`` is a Typer app: the group itself, or (``command`` set) the
    app that holds the top-level command of that name."""

    module: str
    attribute: str
    summary: str
    command: str | None = None
    #: Runs again when the database says it lost a race (``cli.context.retrying``); the
    #: long-running commands and the ones that touch no records handle their own.
    retried: bool = True


def _group(module: str, attribute: str, summary: str) -> Entry:
    return Entry(module, attribute, summary)


def _command(module: str, name: str, summary: str) -> Entry:
    return Entry(module, "app", summary, command=name, retried=False)


ENTRIES: dict[str, Entry] = {
    "diagram": Entry(
        "cli.workflows",
        "app",
        "Print a workflow's state diagram (Mermaid), straight from its table.",
        command="diagram",
    ),
    "sweep": _command(
        "cli.sweep",
        "sweep",
        "Run the sweep once (windows, expiry, report deadlines, reminders) at --now.",
    ),
    "scheduler": _command(
        "cli.sweep",
        "scheduler",
        "Run the scheduler (sweep and dispatcher) until Ctrl-C or SIGTERM, or --once.",
    ),
    "serve": _command(
        "cli.serve", "serve", "Run the portal (and the scheduler) on the configured host and port."
    ),
    "secret": _command(
        "cli.secret",
        "secret",
        "Print a new random key for GNLC_WEB__SECRET_KEY (secret_key in the web settings).",
    ),
    "doctor": _command(
        "cli.doctor",
        "doctor",
        "Check the settings, database, schema, sender, secret key, uploads folder and "
        "scheduler; say what is wrong and how to fix it. Exit code 1 when a check failed.",
    ),
    "directory": _command(
        "cli.network",
        "directory",
        "The public directory: member cities by region and country, with their admission "
        "year and website (removed and withdrawn members are not listed).",
    ),
    "stats": _command(
        "cli.network",
        "stats",
        "The network in numbers: members by region over the years, applications per call "
        "by outcome, endorsements per country against the quota, reporting compliance.",
    ),
    "backup": _command(
        "cli.backup",
        "backup",
        "Write one archive: the database, the uploads, the configuration and a manifest.",
    ),
    "restore": _command(
        "cli.backup",
        "restore",
        "Restore the database, the uploads and the demo key file from a backup.",
    ),
    "db": _group("cli.workflows", "db", "The database: create or upgrade the schema."),
    "import": _group(
        "cli.directory",
        "imports",
        "Import countries, cities and existing members from CSV files (all or nothing: one "
        "bad row imports nothing and names the line).",
    ),
    "country": _group("cli.directory", "countries", "Countries and their National Commissions."),
    "city": _group("cli.directory", "cities", "Cities."),
    "user": _group("cli.directory", "users", "People who sign in, with a role and a scope."),
    "call": _group("cli.calls", "app", "Calls for applications: list, create, extend, cancel."),
    "app": _group(
        "cli.applications", "app", "Applications: draft, submit, endorse, decide, list, show."
    ),
    "member": _group(
        "cli.members",
        "members",
        "Members: list, due dates and history, remove, reinstate, withdraw.",
    ),
    "report": _group(
        "cli.members", "reports", "Progress reports: list, show, submit, accept, return."
    ),
    "questionnaire": _group(
        "cli.questionnaires",
        "app",
        "Questionnaire reports: show, answers, answer, attach, submit, review, versions, "
        "cycles, cycle-csv.",
    ),
    "calendar": _group(
        "cli.calendar",
        "app",
        "Calendar feeds (iCalendar): a user's secret feed address, renew it, print the feed.",
    ),
    "jury": _group(
        "cli.jury",
        "app",
        "The expert jury: assign jurors, score, decline, see the scores and the ranking.",
    ),
    "announcement": _group(
        "cli.announcements",
        "app",
        "Announcements: the Institute's admit and not-admit decisions, told in batches.",
    ),
    "outbox": _group(
        "cli.outbox",
        "app",
        "The email outbox: list, show, retry or discard messages; send what is due.",
    ),
}


def summary(name: str) -> str:
    """The one-line help of group ``name`` (its module's ``typer.Typer(help=...)``)."""
    return ENTRIES[name].summary
