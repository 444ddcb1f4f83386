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
