"""The framework's floor for benchmark 4: ``python -m bench.floor_server FOLDER PORT``.

A bare Starlette app that answers ``GET /NAME`` with the bytes of ``FOLDER/NAME.html``
(the HTML body the portal served for that page), under the same uvicorn settings as the
portal (:func:`web.serving.serve`: the same workers and HTTP protocol). What it reaches
is what any page of ours could reach at most.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from config import load_settings
from web.serving import serve

BODY_VARIABLE = "GNLC_BENCH_FLOOR_BODY"


def app() -> Starlette:
    """The app factory each worker process calls."""
    bodies = {p.stem: p.read_bytes() for p in Path(os.environ[BODY_VARIABLE]).glob("*.html")}

    async def page(request: Request) -> HTMLResponse:
        body = bodies.get(request.path_params["name"])
        return HTMLResponse(body, status_code=200) if body is not None else HTMLResponse("", 404)

    return Starlette(routes=[Route("/{name}", page)])


def main(folder: str, port: int) -> None:
    os.environ[BODY_VARIABLE] = folder
    settings = load_settings({}).with_overrides(
        web={
            "demo_data": False,
            "secret_key": secrets.token_urlsafe(48),
            "public_url": f"http://127.0.0.1:{port}",
            "host": "127.0.0.1",
            "port": port,
        },
    )
    serve(settings, "bench.floor_server:app", log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
