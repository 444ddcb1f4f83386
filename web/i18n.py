"""English and French for every page: a message catalogue keyed by id.

``CATALOGUE[lang][key]`` is a ``str.format`` pattern. Both languages hold the same keys
(a test checks it); a key missing at run time shows the key itself rather than failing.
"""

from __future__ import annotations

from collections.abc import Callable

from web.messages import CATALOGUE

LANGUAGES = ("en", "fr")
DEFAULT = "en"

Translate = Callable[..., str]


def pick_language(cookie: str | None, user_language: str | None, accept: str) -> str:
    """The cookie the user set, else their account's language, else the browser's."""
    for candidate in (cookie, user_language):
        if candidate in LANGUAGES:
            return candidate
    for part in accept.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT


def translator(lang: str) -> Translate:
    messages = CATALOGUE.get(lang, CATALOGUE[DEFAULT])
    fallback = CATALOGUE[DEFAULT]

    def t(key: str, **values: object) -> str:
        pattern = messages.get(key) or fallback.get(key) or key
        return pattern.format(**values) if values else pattern

    return t
