"""The portal's catalogues and its code agree, in every language.

The ids are extracted with Babel exactly as ``make translations`` does (babel.cfg: the
templates, the Python code and the run-time ids of web/catalogue.py) and compared with
each language's ``messages.po``; the compiled ``.mo`` files must say what the ``.po``
files say, since the portal reads the ``.mo``.
"""

from __future__ import annotations

import gettext
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from web.catalogue import RUNTIME
from web.i18n import DOMAIN, LANGUAGES, LOCALES

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)")


@cache
def used_ids() -> frozenset[str]:
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(ROOT / "babel.cfg"))  # type: ignore[no-untyped-call]
    keywords = {**DEFAULT_KEYWORDS, "t": None}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return frozenset(found)


@cache
def catalogue(lang: str) -> Catalog:
    with (LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        return read_po(po, locale=lang)


def entries(lang: str) -> dict[str, Message]:
    return {str(m.id if isinstance(m.id, str) else m.id[0]): m for m in catalogue(lang) if m.id}


def forms(message: Message) -> list[str]:
    if isinstance(message.string, str):
        return [message.string]
    return list(message.string or ())


def test_the_extraction_finds_literal_and_run_time_ids() -> None:
    used = used_ids()
    assert {"nav.sign_out", "form.words"} <= used  # written out in templates
    assert {"state.under_review", "action.application.endorse", "role.commission"} <= used
    assert {"refusal.conflict", "done.saved"} <= used  # assembled at run time


def test_each_listed_run_time_id_is_still_named_by_the_code() -> None:
    """web/catalogue.py lists the ids no table yields; each must still be built somewhere
    (``?done=saved``, ``"route"``, ``PasswordRefused(..., "short")``), or it is dead weight."""
    sources = "\n".join(
        path.read_text()
        for folder in ("web", "workflow", "notifications")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".py", ".html"} and path.name != "catalogue.py"
    )

    def named(name: str) -> bool:
        last = name.rsplit(".", 1)[-1]
        if re.search(rf"""["'=./]{re.escape(last)}\b""", sources):
            return True
        # A reason assembled from a prefix and a word: f"password_{why}" with "short".
        _prefix, _, word = last.partition("_")
        return bool(word) and re.search(rf"""["']{re.escape(word)}["']""", sources) is not None

    stale = [
        f"{family}.{name}" for family, names in RUNTIME.items() for name in names if not named(name)
    ]
    assert not stale, f"nothing builds {stale}: remove them from web/catalogue.py"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_id_in_use_has_words_in_every_language(lang: str) -> None:
    messages = entries(lang)
    untranslated = sorted(
        key
        for key in used_ids()
        if key not in messages
        or messages[key].fuzzy
        or not all(f.strip() for f in forms(messages[key]))
    )
    assert not untranslated, f"{lang} has no words for {untranslated} (make translations)"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_catalogue_holds_no_id_the_code_no_longer_uses(lang: str) -> None:
    unused = sorted(set(entries(lang)) - used_ids())
    assert not unused, f"{lang} still has {unused}: nothing uses them (make translations)"
    assert not catalogue(lang).obsolete, f"{lang} keeps obsolete entries"


def test_french_names_the_same_values_as_english_and_every_form_formats() -> None:
    english = entries("en")
    for lang in LANGUAGES:
        for key, message in entries(lang).items():
            if not isinstance(message.id, str):
                assert len(forms(message)) == catalogue(lang).num_plurals, f"{lang} {key}"
            names = {name for f in forms(message) for name in PLACEHOLDER.findall(f)}
            wanted = {name for f in forms(english[key]) for name in PLACEHOLDER.findall(f)}
            assert names == wanted, f"{lang} {key}: {sorted(names)} != {sorted(wanted)}"
            values = dict.fromkeys(names, 1)
            for form in forms(message):
                assert isinstance(form % values, str), key  # "%" alone would raise here


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalogue_says_what_the_source_says(lang: str) -> None:
    with (LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for key, message in entries(lang).items():
        if not all(forms(message)) or message.fuzzy:
            continue  # not compiled: the portal falls back to English (see the test above)
        if isinstance(message.id, str):
            assert compiled.gettext(key) == message.string, f"{lang} {key}: compile it"
            continue
        for count in (0, 1, 2, 5, 1_000_000):
            index = eval_plural(catalogue(lang), count)
            assert compiled.ngettext(key, key, count) == forms(message)[index], (lang, key)


def eval_plural(catalog: Catalog, count: int) -> int:
    """The form ``count`` takes by the catalogue's own Plural-Forms header."""
    return int(gettext.c2py(catalog.plural_expr)(count))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_catalogue_is_marked_fuzzy_as_a_whole(lang: str) -> None:
    """``pybabel compile`` (``make run``, ``make test``) skips a catalogue whose header is
    fuzzy, and the portal would go on reading a stale ``.mo``."""
    assert not catalogue(lang).fuzzy, f"{lang}: the header of messages.po is marked fuzzy"
