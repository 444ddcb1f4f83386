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
    """The signed-in account's language, else the language switch's cookie, else the
    browser's ``Accept-Language`` (its most preferred language the portal speaks).

    Signed in, the account wins: using the switch then changes the account too
    (web/pages/auth.py), so both agree."""
    for candidate in (user_language, cookie):
        if candidate in LANGUAGES:
            return candidate
    for code in accepted_languages(accept):
        if code in LANGUAGES:
            return code
    return DEFAULT


def accepted_languages(accept: str) -> list[str]:
    """The two-letter codes of an ``Accept-Language`` header, most preferred first (by
    ``q``, then in the order written); ``q=0`` means not accepted."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept[:1000].split(",")):
        code, *options = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for option in options:
            if option.lower().startswith("q="):
                try:
                    weight = float(option[2:])
                except ValueError:
                    weight = 0.0
        if code and weight > 0:
            weighted.append((-weight, index, code.lower()[:2]))
    return [code for _w, _i, code in sorted(weighted)]


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


@lru_cache(maxsize=4096)
def country_name(code: str | None, lang: str, fallback: str = "") -> str:
    """A country by its ISO code in ``lang`` ("LV": "Lettonie", "Latvija", "Латвия"), from
    Babel's CLDR names; ``fallback`` (the name recorded in the directory) or the code for a
    code CLDR does not know."""
    if not code:
        return fallback
    try:
        found = Locale.parse(lang).territories.get(code.upper())
    except (ValueError, TypeError):
        found = None
    return str(found) if found else (fallback or code)


def state_word(t: Translate, state: str, kind: str = "") -> str:
    """A state's words for a record of ``kind``: ``state.<kind>.<state>`` where the
    catalogues give the kind its own words (membership, report), else ``state.<state>``."""
    if kind:
        key = f"state.{kind}.{state}"
        found = t(key)
        if found != key:
            return found
    key = f"state.{state}"
    found = t(key)
    return found if found != key else state.replace("_", " ")


@lru_cache(maxsize=1)
def _english_country_codes() -> dict[str, str]:
    return {str(name).casefold(): code for code, name in Locale.parse("en").territories.items()}


def country_words(value: str, lang: str) -> str:
    """A country named by its code ("LV") or its English name ("Latvia"), in ``lang``: the
    services name countries in English; the reader sees them in the page's language."""
    if len(value) == 2 and value.isalpha():
        return country_name(value, lang, value)
    code = _english_country_codes().get(value.strip().casefold())
    return country_name(code, lang, value) if code else value
