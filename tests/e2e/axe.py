"""axe-core (through axe-playwright-python) on a page: the stories call
:func:`assert_accessible` on every page they visit; any violation fails the test."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

AXE = Axe()
#: Pages scanned in this run (the stories report the count).
SCANNED: list[str] = []


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on ``page`` as it is now (every rule of the default run)."""
    found: list[dict[str, Any]] = AXE.run(page).response["violations"]
    return found


def assert_accessible(page: Page) -> None:
    """Zero axe-core violations on ``page``; the message names each rule and element."""
    found = violations(page)
    SCANNED.append(page.url)
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:5])
        for v in found
    ]
    assert not found, f"axe-core on {page.url}:\n" + "\n".join(lines)
