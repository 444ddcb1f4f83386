"""The portal for benchmark 4 in its own process:
``python -m bench.portal_server URL PORT [drawn]``.

Serves :func:`web.app.create_app` over the database at URL on 127.0.0.1:PORT the way
``gnlc serve`` does (:func:`web.serving.serve`: uvicorn with ``[web] workers``
processes), with its clock fixed at the benchmark's instant; no demo data. With
``drawn``, its page cache is off (``[web] page_cache_mb = 0``): every view is drawn.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime

from fastapi import FastAPI

from config import load_settings
from web.app import create_app
from web.serving import serve, settings_from_environment, settled

NOW = datetime(2027, 4, 20, 10, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


def app() -> FastAPI:
    """The app factory each worker process calls."""
    return settled(create_app(settings_from_environment(), clock=fixed_clock))


def main(url: str, port: int, drawn: bool = False) -> None:
    settings = load_settings({}).with_overrides(
        database={"url": url},
        web={
            "demo_data": False,
            # Without demo data the portal needs a proper key; any random one will do here.
            "secret_key": secrets.token_urlsafe(48),
            "public_url": f"http://127.0.0.1:{port}",
            "host": "127.0.0.1",
            "port": port,
            **({"page_cache_mb": 0} if drawn else {}),
        },
    )
    serve(settings, "bench.portal_server:app", log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), drawn=sys.argv[3:] == ["drawn"])
