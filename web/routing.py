"""The route class of every portal and API router: handlers that survive lost races.

On PostgreSQL two requests that touch the same rows can deadlock or fail to serialise;
the database then rolls one back. The handler of that request runs again (a few times,
see ``workflow.db.retried``), and if it keeps losing the reader gets a clear 503 page
or JSON refusal, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute

from workflow.db import retried


class RetryingRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, retried(endpoint), **kwargs)
