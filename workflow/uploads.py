"""The signed application form: a PDF, size-limited, stored under the uploads folder,
and the rule that an application is submitted only with it on file.

The type is checked by content (a PDF starts with ``%PDF-``), not by the file's name.
Files are written under a random name and recorded in ``uploaded_files``; the
application points at the current one.

Disk use is bounded: a new upload marks the previous one replaced (``replaced_at``)
and keeps at most ``[web] upload_versions_kept`` earlier versions of that application;
older ones lose their row, and their file once the transaction has committed. All the
stored files of one city together stay within ``[web] upload_city_quota_bytes``.

The file and the database stay in step: the PDF is written whole (a temporary name,
then a rename) before its row, and removed again when the transaction does not commit
(a refusal, an error, or a lost race the handler runs again for), so no run leaves a
file behind that no row names. An uploads folder that cannot be written is refused with
:class:`UploadNotStored` (503) and one log line for the operator naming the folder.

The portal's pages and API and the command line (``gnlc app attach``) all store through
here; the submission services refuse without the file (:func:`require_signed_form`).
The refusals carry ``reason`` and ``params``, so the portal says them in its languages.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction

from config import Settings
from workflow.actors import Actor, require_role
from workflow.errors import InvalidInput, NotFound, WorkflowError
from workflow.models import Application, City, ReportFile, UploadedFile
from workflow.services import applications as apps
from workflow.services.common import audit, flush, get
from workflow.snapshots import ApplicationView
from workflow.states import ApplicationState as A
from workflow.states import Role

PDF_MAGIC = b"%PDF-"
log = logging.getLogger(__name__)

#: Keys of ``Session.info``: files written in this transaction (removed unless it
#: commits) and files whose rows it deleted (removed once it has committed).
_WRITTEN = "gnlc.uploads.written"
_RELEASED = "gnlc.uploads.released"


def megabytes(size: int) -> float:
    """``size`` in MB (10^6 bytes) with one decimal, as people read file sizes."""
    return round(size / 1_000_000, 1)


#: The English of each refusal (the portal's catalogue has the same ids, ``refusal.<reason>``).
ENGLISH = {
    "invalid_input.upload_empty": "The file is empty; choose the scanned, signed PDF.",
    "invalid_input.upload_too_large": (
        "The file is too large: at most {limit_mb} MB are accepted. Scan the form at a lower "
        "resolution and upload it again."
    ),
    "invalid_input.upload_not_pdf": "The file is not a PDF; save or scan the form as PDF.",
    "upload_quota_exceeded": (
        "The file was not saved: your city's stored files already take {used_mb} MB, and this "
        "one ({size_mb} MB) would go past the {limit_mb} MB kept per city. Scan the form at a "
        "lower resolution (a signed form rarely needs more than 1 MB), or ask the Institute to "
        "make room."
    ),
    "upload_not_stored": (
        "The file could not be stored; nothing was saved. Try again later or tell the Institute."
    ),
}


def _english(reason: str, params: dict[str, object]) -> str:
    shown = {k: f"{v:,.1f}" if isinstance(v, float) else v for k, v in params.items()}
    return ENGLISH[reason].format(**shown)


class UploadRefused(InvalidInput):
    """The file itself is not acceptable (empty, too large, not a PDF)."""

    def __init__(self, why: str, **params: object) -> None:
        self.why = why
        self.params = params
        super().__init__(_english(self.reason, params))

    @property
    def reason(self) -> str:
        return f"{self.code}.{self.why}"


class UploadQuotaExceeded(WorkflowError):
    """The city's stored files would grow past the per-city limit."""

    code = "upload_quota_exceeded"
    status = 413

    def __init__(self, used: int, size: int, limit: int) -> None:
        self.params = {
            "used_mb": megabytes(used),
            "size_mb": megabytes(size),
            "limit_mb": megabytes(limit),
        }
        super().__init__(_english(self.code, self.params))


class UploadNotStored(WorkflowError):
    """The uploads folder cannot be written (read-only, full, missing rights)."""

    code = "upload_not_stored"
    status = 503

    def __init__(self) -> None:
        super().__init__(_english(self.code, {}))


def check_pdf(data: bytes, limit: int) -> None:
    if not data:
        raise UploadRefused("upload_empty")
    if len(data) > limit:
        # The caller reads at most one byte past the limit: the true size is unknown.
        raise UploadRefused("upload_too_large", limit_mb=megabytes(limit))
    if not data.startswith(PDF_MAGIC):
        raise UploadRefused("upload_not_pdf")


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove the uploaded file %s (%s); remove it by hand", path, exc)


def _after_commit(session: Session) -> None:
    session.info.pop(_WRITTEN, None)  # committed: the new files stay
    for path in session.info.pop(_RELEASED, []):
        _remove(path)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    # Not committed (after_commit would have emptied the list): undo the writes.
    for path in session.info.pop(_WRITTEN, []):
        _remove(path)
    session.info.pop(_RELEASED, None)


def _track(session: Session, key: str, path: Path) -> None:
    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_transaction_end", _after_transaction_end)
    session.info.setdefault(key, []).append(path)


def _write(session: Session, folder: Path, stored: str, data: bytes) -> None:
    """``data`` as ``folder/stored``, whole or not at all; removed again unless the
    session's transaction commits."""
    target = folder / stored
    temporary = folder / (stored + ".part")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(temporary, "xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        _remove(temporary)
        log.error(
            "uploads folder %s is not writable (%s: %s): signed forms are refused until "
            "it is; check its owner, rights and free space",
            folder,
            type(exc).__name__,
            exc.strerror or exc,
        )
        raise UploadNotStored() from exc
    _track(session, _WRITTEN, target)


def _city_usage(session: Session, city_id: int) -> int:
    used = session.scalar(
        select(func.coalesce(func.sum(UploadedFile.size), 0))
        .join(Application, Application.id == UploadedFile.application_id)
        .where(Application.city_id == city_id)
    )
    # A questionnaire report's supporting documents count towards the same quota.
    reports = session.scalar(
        select(func.coalesce(func.sum(ReportFile.size), 0)).where(ReportFile.city_id == city_id)
    )
    return int(used or 0) + int(reports or 0)


def _earlier_versions(session: Session, app: Application) -> list[UploadedFile]:
    """The application's files other than the current one, newest first."""
    query = select(UploadedFile).where(UploadedFile.application_id == app.id)
    if app.signed_form:
        query = query.where(UploadedFile.stored_name != app.signed_form)
    return list(session.scalars(query.order_by(UploadedFile.id.desc())))


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
            "while it is a draft or returned to you.",
            "signed_form_locked",
            kind="application",
            key=app.id,
            state=app.state,
        )
    check_pdf(data, settings.web.upload_max_bytes)
    stored = f"{app.id}-{secrets.token_hex(12)}.pdf"
    # Written before any row lock is taken: the disk is the slow part.
    _write(session, folder, stored, data)

    # One upload at a time per city (a row lock on PostgreSQL; SQLite has one writer),
    # so two uploads cannot both fit under the quota that only one fits under.
    get(session, City, app.city_id, "city", lock=True)
    kept = settings.web.upload_versions_kept
    earlier = _earlier_versions(session, app)
    current = signed_form_of(session, app)
    # After this upload the current file becomes an earlier version too.
    versions = ([current] if current is not None else []) + earlier
    released = versions[kept:]
    used = _city_usage(session, app.city_id) - sum(r.size for r in released)
    if used + len(data) > settings.web.upload_city_quota_bytes:
        raise UploadQuotaExceeded(used, len(data), settings.web.upload_city_quota_bytes)

    for record in versions[:kept]:
        if record.replaced_at is None:
            record.replaced_at = now
    for record in released:
        session.delete(record)
        _track(session, _RELEASED, folder / record.stored_name)
    new = UploadedFile(
        application_id=app.id,
        filename=(Path(filename).name or "signed-form.pdf")[:200],
        stored_name=stored,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_at=now,
        uploaded_by=actor.user_id,
    )
    session.add(new)
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
        comment=new.filename,
    )
    return new


def signed_form_path(
    session: Session, actor: Actor, application_id: int, folder: Path
) -> tuple[Path, str]:
    """The stored PDF of an application the actor may see, and its original name."""
    app: Application = apps.get_application(session, actor, application_id)
    record = signed_form_of(session, app)
    if record is None or not (folder / record.stored_name).is_file():
        raise NotFound("signed form of application", application_id)
    return folder / record.stored_name, record.filename


def signed_form_of(session: Session, app: ApplicationView) -> UploadedFile | None:
    """The application's current signed form on file, if any."""
    if not app.signed_form:
        return None
    return session.scalars(
        select(UploadedFile).where(UploadedFile.stored_name == app.signed_form)
    ).first()


class SignedFormMissing(InvalidInput):
    """A submission without the signed form on file."""

    def __init__(self, application_id: int) -> None:
        self.params = {"application_id": application_id}
        super().__init__(
            "Upload the form signed by the mayor (PDF) before submitting "
            f"(on the command line: gnlc app attach {application_id} FILE)."
        )

    @property
    def reason(self) -> str:
        return "invalid_input.signed_form_missing"


def require_signed_form(session: Session, app: ApplicationView) -> None:
    """The rule of both submission routes: the form signed by the mayor is on file."""
    if signed_form_of(session, app) is None:
        raise SignedFormMissing(app.id)
