"""The route class of every portal and API router: handlers that survive lost races.

On PostgreSQL two requests that touch the same rows can deadlock or fail to serialise;
the database then rolls one back. The handler of that request runs again (a few times,
see ``workflow.db.retried``), and if it keeps losing the reader gets a clear 503 page
or JSON refusal, never a 500.

Each run reads the request's uploaded files from their start: a handler reads the file
before its transaction, and a run again after a lost race must see the same bytes.

A plain (``def``) handler runs in a worker thread, so that a slow one leaves the event
loop free. A page view marked :func:`in_loop` runs on the event loop instead: handing a
request to a thread and back costs about 1 ms of a 4 ms view (benchmark 4), more than
the view's own statements. Marked are the working day's pages that read one record or
one page of a list; exports, downloads, uploads and anything that checks a password stay
in threads.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.routing import APIRoute
from starlette.datastructures import FormData, UploadFile

from workflow.db import retried

View = TypeVar("View", bound=Callable[..., Any])
_IN_LOOP = "_gnlc_in_loop"


def in_loop(view: View) -> View:
    """Mark a page view to run on the event loop rather than in a worker thread."""
    setattr(view, _IN_LOOP, True)
    return view


def _on_loop(view: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(view) or not getattr(view, _IN_LOOP, False):
        return view

    @functools.wraps(view)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return run


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
        # A view on the loop is retried as a coroutine: its pause between runs is the
        # loop's, not a sleep of the whole process.
        super().__init__(path, retried(_rewinding(_on_loop(endpoint))), **kwargs)
