"""axe-core (the copy axe-playwright-python ships) on a page: the stories and the crawl call
:func:`assert_accessible` on every page they visit; any violation fails the test.

Browser contexts made by tests/e2e/conftest.py load axe into every page as an init script
(:data:`AXE_SCRIPT`), which is much cheaper than sending it again for every scan; a page
without it gets it injected first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import axe_playwright_python
from playwright.sync_api import Page

AXE_SCRIPT = Path(axe_playwright_python.__file__).with_name("axe.min.js")
#: Pages scanned in this run.
SCANNED: list[str] = []


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on ``page`` as it is now (every rule of the default run)."""
    if page.evaluate("typeof window.axe === 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text())
    found: list[dict[str, Any]] = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"
    )
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
