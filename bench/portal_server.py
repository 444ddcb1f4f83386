"""The portal for benchmark 4 in its own process: ``python -m bench.portal_server URL PORT``.

Serves :func:`web.app.create_app` with uvicorn on 127.0.0.1:PORT, over the database at
URL, with its clock fixed at the benchmark's instant; no demo data.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import uvicorn

from config import load_settings
from web.app import create_app

NOW = datetime(2027, 4, 20, 10, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


def main(url: str, port: int) -> None:
    settings = load_settings({}).with_overrides(
        database={"url": url}, web={"demo_data": False, "public_url": f"http://127.0.0.1:{port}"}
    )
    app = create_app(settings, clock=fixed_clock)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
