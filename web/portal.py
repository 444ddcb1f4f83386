"""What every request handler shares: settings, the database, the clock, the templates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from config import Settings
from web.security import SessionSigner
from workflow.db import transaction

Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(UTC)


def uploads_folder(settings: Settings) -> Path:
    """Uploaded files live beside the Maildir: ``var/mail`` -> ``var/uploads``."""
    return Path(settings.mail.maildir).resolve().parent / "uploads"


@dataclass
class Portal:
    settings: Settings
    factory: sessionmaker[Session]
    clock: Clock
    signer: SessionSigner
    templates: Environment
    uploads: Path
    secure_cookies: bool

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        with transaction(self.factory) as session:
            yield session


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal
