"""The README's walk-through, run as a newcomer would paste it: it must stay true."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## A walk-through", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found, "the README lost its walk-through block"
    return found.group(1)


def test_the_readme_walkthrough_runs_and_says_what_it_promises(tmp_path: Path) -> None:
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNLC_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    done = subprocess.run(
        ["bash", "-c", walkthrough()], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Traceback" not in out
    for promise in (
        "Imported 4 countries",
        "Imported 1 member ",
        "2018-03-31",
        "the signed form signed-form.pdf (701 bytes) is on file",
        "call 2019: submitted",
        "call 2019: admitted",
        "2021-03-31",
        "error: Submitting an application is only possible from 01 March 2020 to 30 April 2020",
        "error: Only the National Commission can endorse an application",
        "office@unesco.lv",
        "Dry run at 2021-03-01",
        "report_reminder",
        "stateDiagram-v2",
    ):
        assert promise in out, promise
    assert (tmp_path / "var" / "walkthrough.db").exists()
    sent = list((tmp_path / "var" / "walkthrough-mail" / "new").iterdir())
    assert len(sent) >= 9  # the actions' mail and that day's reminders
