"""A portal worker's start (web.serving): the app it builds is set aside from the
garbage collector, so that no full collection walks it again while pages are served."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from config import load_settings
from web.serving import SETTINGS_VARIABLE, dump_settings

WORKER = """
import gc
from web.serving import app_from_environment
app = app_from_environment()
print(gc.get_freeze_count(), len(gc.get_objects()))
"""


def test_a_worker_freezes_what_its_start_made(sqlite_url: str, tmp_path: Path) -> None:
    settings = load_settings({}).with_overrides(
        database={"url": sqlite_url},
        mail={"maildir": str(tmp_path / "mail")},
        web={"secret_key": secrets.token_urlsafe(48), "demo_data": False},
    )
    env = {**os.environ, SETTINGS_VARIABLE: dump_settings(settings)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    frozen, tracked = map(int, done.stdout.split())
    # The app, the mappers, templates and translations: tens of thousands of objects,
    # all frozen; what a full collection still walks is what requests make afterwards.
    assert frozen > 20_000
    assert tracked < frozen / 10


def test_the_app_matches_the_routers_own_routes_in_their_order(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Each router's routes sit on the app's router itself (web.app._include_flat), so a
    request is matched by one loop over routes and never walks a tree of included
    routers; the order, which decides between ``/applications/new`` and
    ``/applications/{app_id}``, is the routers' own."""
    from sqlalchemy import create_engine

    from web import api_jury
    from web.app import create_app, page_routers
    from workflow.db import session_factory

    settings = load_settings({}).with_overrides(
        database={"url": sqlite_url}, mail={"maildir": str(tmp_path / "mail")}
    )
    engine = create_engine(sqlite_url)
    app = create_app(settings, session_factory(engine))
    engine.dispose()
    served = app.router.routes
    routers = [*page_routers(), api_jury.router]
    # index() fails if a route is not on the app's router itself (an included subtree).
    positions = [[served.index(route) for route in router.routes] for router in routers]
    for within in positions:
        assert within == sorted(within)
    assert sum(map(len, positions)) > 100
