"""A Commission's and a city's name in a reader's language.

Each is stored once (``Country.commission_name``, ``City.name``: the name the network
files it under) and may have names per language (``Country.commission_names``,
``City.names``: ``{lang: name}``). Every page, the JSON API, the CLI and the mail say
them through :func:`commission_name` and :func:`city_name`: the reader's language when
it has a name, else the stored one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workflow.models import City, Country


def name_in(names: Mapping[str, Any] | None, lang: str, fallback: str) -> str:
    """``names[lang]`` when it is a non-blank string, else ``fallback``."""
    found = (names or {}).get(lang) if lang else None
    return found.strip() if isinstance(found, str) and found.strip() else fallback


def commission_name(country: Country | None, lang: str) -> str:
    """The National Commission of ``country`` in ``lang`` (else its stored name)."""
    if country is None:
        return ""
    return name_in(country.commission_names, lang, country.commission_name)


def city_name(city: City | None, lang: str) -> str:
    """``city`` in ``lang`` (else its stored name)."""
    if city is None:
        return ""
    return name_in(city.names, lang, city.name)


def merged(current: Mapping[str, Any] | None, given: Mapping[str, str]) -> dict[str, str]:
    """``current`` names with those ``given``: a blank one removes its language."""
    found = {k: v for k, v in (current or {}).items() if isinstance(v, str) and v.strip()}
    for lang, value in given.items():
        if value.strip():
            found[lang] = value.strip()
        else:
            found.pop(lang, None)
    return dict(sorted(found.items()))


def names_from(row: Mapping[str, Any], prefix: str, languages: Sequence[str]) -> dict[str, str]:
    """The ``<prefix><lang>`` values of a form or CSV row, for the languages it carries
    (``commission_name_fr``, ``name_lv``); a column that is not there is left out."""
    return {
        lang: str(row[f"{prefix}{lang}"] or "")
        for lang in languages
        if f"{prefix}{lang}" in row and row[f"{prefix}{lang}"] is not None
    }
