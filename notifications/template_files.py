"""Which message templates exist: an occasion's folder and its languages.

Apart from :mod:`notifications.render` so that what only needs to know a message's
language (the sweep's set-based reminders store it, the dispatcher renders later) does
not load Jinja and Babel: about 0.03 s, a tenth of a sweep over 10k members.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

TEMPLATES = Path(__file__).with_name("templates")
FALLBACK = "en"


def available_languages(occasion: str) -> list[str]:
    folder = TEMPLATES / occasion
    return sorted(p.stem for p in folder.glob("*.txt"))


@cache
def resolved_language(occasion: str, language: str) -> str:
    """The language ``render`` will use: ``language`` when its template exists."""
    return language if (TEMPLATES / occasion / f"{language}.txt").exists() else FALLBACK


def occasions() -> list[str]:
    return sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_"))
