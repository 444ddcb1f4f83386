"""The scheduler process: settings -> database -> jobs -> block until SIGINT/SIGTERM.

    python run_scheduler.py                    # run until stopped (sweep + dispatcher)
    python run_scheduler.py --once             # one sweep and one dispatch pass, then exit
    python run_scheduler.py --once --now 2027-03-01T06:00:00Z
    python run_scheduler.py --once --dry-run   # show what the sweep would do; change nothing

Logs go to stderr. Exit codes: 0 done, 1 the database cannot be opened or used, the
sweep reported errors or the mail cannot go out (``--once``: the Maildir is not
writable, the SMTP server cannot be reached), 2 bad settings or arguments. Each of
these says in one line what is wrong and what to do; running on, the scheduler logs
such a line at every run that meets the fault and tries again at the next.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError

from config import SettingsError, load_settings
from config.clock import parse_moment
from notifications import wiring
from workflow.db import make_engine, session_factory, upgrade
from workflow.faults import database_problem
from workflow.scheduler import run_once, run_until_stopped

#: What a database an operator got wrong raises (see ``workflow.faults``).
DATABASE_FAULTS = (SQLAlchemyError, OSError, ImportError, CommandError)

log = logging.getLogger("gnlc.run_scheduler")


def parse_instant(value: str) -> datetime:
    """``--now``, parsed as ``gnlc --now`` parses it (``config.clock``): without a zone it
    is UTC, and a date alone is 12:00 UTC that day."""
    try:
        return parse_moment(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_scheduler.py",
        description="Sweep the workflow (windows, deadlines, reminders) and send the outbox.",
    )
    parser.add_argument(
        "--once", action="store_true", help="one sweep and one dispatch pass, then exit"
    )
    parser.add_argument(
        "--now",
        type=parse_instant,
        help="act as if it were this moment (ISO, e.g. 2027-03-01T06:00:00Z; a date alone "
        "is 12:00 UTC, as for gnlc --now); without --once the clock starts there and moves on",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="with --once: print what the sweep would change and mail, as JSON; change nothing",
    )
    args = parser.parse_args(argv)
    if args.dry_run and not args.once:
        parser.error("--dry-run needs --once")
    return args


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = parse_args(argv)
    wiring.install()  # the sweep's events and occasions write the outbox
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    url = settings.database.url
    try:
        upgrade(url)
        engine = make_engine(url)
    except DATABASE_FAULTS as exc:
        problem = database_problem(exc, url)
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return 1
    factory = session_factory(engine)
    try:
        if args.once:
            now = args.now or datetime.now(UTC)
            try:
                report, result = run_once(factory, settings, now=now, dry_run=args.dry_run)
            except DATABASE_FAULTS as exc:
                problem = database_problem(exc, url)
                if problem is None:
                    raise
                print(f"error: {problem}", file=sys.stderr)
                return 1
            if args.dry_run:
                print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
            # A sender that is down was said in one line by the dispatcher's log.
            return 1 if report.errors or (result is not None and result.problem) else 0
        run_until_stopped(settings, factory, now_override=args.now)
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
