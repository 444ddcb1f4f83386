"""The portal's languages: gettext catalogues compiled from ``web/locale/<lang>/LC_MESSAGES``.

Message ids are stable keys (``refusal.conflict``, ``action.application.submit``); each
language's ``messages.po`` holds their words, English included, as python-format strings
(``%(name)s``). ``make translations`` extracts the ids from the templates and the code and
updates the catalogues; ``make compile-translations`` writes the ``.mo`` files read here,
which are committed so that a fresh checkout runs as it is. An id missing in French falls
back to English; one missing everywhere shows the id itself rather than failing.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from babel import Locale

DEFAULT = "en"
LOCALES = Path(__file__).with_name("locale")
DOMAIN = "messages"

#: The portal's languages: one catalogue each (``web/locale/<lang>/LC_MESSAGES``), the
#: default first. A new language is a new catalogue (see docs/translations.md).
_OTHERS = {p.parts[-3] for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")} - {DEFAULT}
LANGUAGES: tuple[str, ...] = (DEFAULT, *sorted(_OTHERS))


def language_names(codes: Iterable[str]) -> dict[str, str]:
    """Each language by its own name ("English", "Français", "Latviešu")."""
    return {code: str(Locale.parse(code).get_display_name(code)).capitalize() for code in codes}


#: The portal's languages by their own names, for the language switch.
LANGUAGE_NAMES = language_names(LANGUAGES)

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


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (the default language's for any other code)."""
    if lang not in LANGUAGES:
        lang = DEFAULT
    try:
        found = gettext.translation(DOMAIN, LOCALES, [lang])
    except FileNotFoundError as exc:
        raise RuntimeError(
            f"no compiled catalogue for {lang!r} in {LOCALES}: run `make compile-translations`"
        ) from exc
    if lang != DEFAULT:
        found.add_fallback(translations(DEFAULT))
    return found


def has_message(key: str) -> bool:
    """Whether ``key`` is a message id of the catalogues."""
    return translations(DEFAULT).gettext(key) != key


@lru_cache(maxsize=len(LANGUAGES))
def translator(lang: str) -> Translate:
    """``t(key, **values)``: the words of ``key`` in ``lang``, formatted with ``values``."""
    catalogue = translations(lang)

    def t(key: str, /, **values: object) -> str:
        return catalogue.gettext(key) % values

    return t


@lru_cache(maxsize=len(LANGUAGES))
def plural_translator(lang: str) -> Callable[..., str]:
    """``n(singular, plural, count, **values)``: gettext's ``ngettext``, formatted; the count
    is ``%(num)d`` unless ``values`` name it otherwise."""
    catalogue = translations(lang)

    def n(singular: str, plural: str, count: int, /, **values: object) -> str:
        values.setdefault("num", count)
        return catalogue.ngettext(singular, plural, count) % values

    return n


def english(key: str, /, **values: object) -> str:
    """``key`` in English: the words of a service's message, logs and the API."""
    return translator(DEFAULT)(key, **values)
