"""The signed application form: a PDF, size-limited, stored under the uploads folder.

The type is checked by content (a PDF starts with ``%PDF-``), not by the file's name.
Files are written under a random name and recorded in ``uploaded_files``; the
application points at the current one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from config import Settings
from web.models import UploadedFile
from web.queries import signed_form_of
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, NotFound
from workflow.models import Application
from workflow.services import applications as apps
from workflow.services.common import audit, flush
from workflow.states import ApplicationState as A
from workflow.states import Role

PDF_MAGIC = b"%PDF-"


def check_pdf(data: bytes, limit: int) -> None:
    if not data:
        raise InvalidInput("signed_form: the file is empty; choose the scanned, signed PDF.")
    if len(data) > limit:
        raise InvalidInput(
            f"signed_form: the file has {len(data):,} bytes, at most {limit:,} are accepted; "
            "scan at a lower resolution."
        )
    if not data.startswith(PDF_MAGIC):
        raise InvalidInput("signed_form: the file is not a PDF; save or scan the form as PDF.")


def store_signed_form(
    session: Session,
    settings: Settings,
    actor: Actor,
    application_id: int,
    *,
    filename: str,
    data: bytes,
    folder: Path,
    now: datetime,
) -> UploadedFile:
    require_role(actor, Role.CITY, doing="upload the signed form")
    app = apps.get_application(session, actor, application_id)
    if app.state not in (A.DRAFT, A.RETURNED):
        raise InvalidInput(
            f"Application {app.id} is {app.state}; the signed form can be replaced only "
            "while it is a draft or returned to you."
        )
    check_pdf(data, settings.web.upload_max_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{app.id}-{secrets.token_hex(12)}.pdf"
    temporary = folder / (stored + ".part")
    temporary.write_bytes(data)
    os.replace(temporary, folder / stored)
    record = UploadedFile(
        application_id=app.id,
        filename=(Path(filename).name or "signed-form.pdf")[:200],
        stored_name=stored,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_at=now,
        uploaded_by=actor.user_id,
    )
    session.add(record)
    app.signed_form = stored
    app.updated_at = now
    flush(session, "application", app.id)
    audit(
        session,
        actor,
        subject_type="application",
        subject_id=app.id,
        action="upload_signed_form",
        now=now,
        comment=record.filename,
    )
    return record


def signed_form_path(
    session: Session, actor: Actor, application_id: int, folder: Path
) -> tuple[Path, str]:
    """The stored PDF of an application the actor may see, and its original name."""
    app: Application = apps.get_application(session, actor, application_id)
    record = signed_form_of(session, app)
    if record is None or not (folder / record.stored_name).is_file():
        raise NotFound("signed form of application", application_id)
    return folder / record.stored_name, record.filename


def require_signed_form(session: Session, actor: Actor, application_id: int) -> None:
    """The portal asks for the signed PDF before a submission leaves the city."""
    app = apps.get_application(session, actor, application_id)
    if actor.role is Role.CITY and not app.signed_form:
        raise InvalidInput(
            "signed_form: upload the form signed by the mayor (PDF) before submitting."
        )
