"""The route class of every portal and API router: handlers that survive lost races.

On PostgreSQL two requests that touch the same rows can deadlock or fail to serialise;
the database then rolls one back. The handler of that request runs again (a few times,
see ``workflow.db.retried``), and if it keeps losing the reader gets a clear 503 page
or JSON refusal, never a 500.

Each run reads the request's uploaded files from their start: a handler reads the file
before its transaction, and a run again after a lost race must see the same bytes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.datastructures import FormData, UploadFile

from workflow.db import retried


def _rewind(values: dict[str, Any]) -> None:
    """Every uploaded file among a handler's arguments back to its first byte."""
    for value in values.values():
        items = [v for _, v in value.multi_items()] if isinstance(value, FormData) else [value]
        for item in items:
            if isinstance(item, UploadFile):
                item.file.seek(0)


def _rewinding(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            _rewind(kwargs)
            return await endpoint(*args, **kwargs)

        return run_async

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        _rewind(kwargs)
        return endpoint(*args, **kwargs)

    return run


class RetryingRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, retried(_rewinding(endpoint)), **kwargs)
