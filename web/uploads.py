"""The portal's side of the signed form: reading the file out of the request.

Checking it, storing it, the per-city quota and the rule that a submission needs it are
the domain's (:mod:`workflow.uploads`), so the command line obeys the same rules.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile

from config import Settings

DEFAULT_NAME = "signed-form.pdf"


def read_upload(upload: UploadFile, settings: Settings) -> tuple[bytes, str]:
    """The uploaded bytes and the file's name, read one byte past the limit: enough to
    refuse an oversized file without reading all of it."""
    data = upload.file.read(settings.web.upload_max_bytes + 1)
    return data, upload.filename or DEFAULT_NAME
