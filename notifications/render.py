"""Render a message from its occasion's template in the recipient's language.

Templates live in ``templates/<occasion>/<lang>.txt`` with two blocks, ``subject`` and
``body``. The HTML alternative is the same body placed, escaped, into one layout, so the
two parts never disagree. A missing language falls back to English. Values that reach the
subject are folded to one line: no CR/LF can reach a header.

In the HTML part only the system's own links are links: a context value named ``url``
(or ``*_url``), which the services build from the portal's address. Everything else a
template prints from its context (comments, city and person names) is user text: it is
escaped, never made a link by us, and its ``://``, dots and ``@`` carry a zero-width
joiner, so that mail clients do not turn a URL or an address in it into a link either.
The plain-text part keeps every value exactly as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from babel import Locale
from babel.dates import format_date
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)
from markupsafe import Markup, escape

from config.settings import NETWORK_NAMES

# Re-exported: which templates exist is told by notifications.template_files.
from notifications.template_files import FALLBACK as FALLBACK
from notifications.template_files import TEMPLATES as TEMPLATES
from notifications.template_files import available_languages as available_languages
from notifications.template_files import occasions as occasions
from notifications.template_files import resolved_language as resolved_language
from workflow.names import name_in

_URL = re.compile(r"https?://[^\s<>\"']+")
#: Private-use marks around what the templates print from the context, so that the HTML
#: part can tell user text and system links from the template's own words.
_TEXT, _LINK, _END = "\ue000", "\ue001", "\ue002"
_MARKS = re.compile("[\ue000-\ue002]")
_MARKED = re.compile("([\ue000\ue001])([^\ue000-\ue002]*)\ue002")
#: Joined to ``://``, dots and ``@`` in user text: invisible, and no client links it.
ZWJ = "\u200d"
_DOT = re.compile(r"\.(?=\w)")


#: The layout's header for an occasion whose context does not name the network.
_HEADER: dict[str, str] = {"en": "UNESCO Global Network of Learning Cities", **NETWORK_NAMES}


class Link(str):
    """A URL the system built (the portal's address): a link in the HTML part."""


def _with_links(value: Any, key: str = "") -> Any:
    """``value`` with the strings under ``url`` / ``*_url`` keys marked as :class:`Link`."""
    if isinstance(value, str):
        return Link(value) if key == "url" or key.endswith("_url") else value
    if isinstance(value, dict):
        return {k: _with_links(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_with_links(v, key) for v in value]
    return value


def _finalize(value: Any) -> str:
    """Every ``{{ value }}`` of a template, marked as user text or system link."""
    text = _MARKS.sub("", str(value))  # str() of an undefined value raises, as it should
    return f"{_LINK if isinstance(value, Link) else _TEXT}{text}{_END}"


def _unmarked(text: str) -> str:
    return _MARKS.sub("", text)


def defused(text: str) -> str:
    """User text that no mail client will auto-link (still reading the same)."""
    text = text.replace("://", ":" + ZWJ + "//").replace("@", "@" + ZWJ)
    return _DOT.sub("." + ZWJ, text)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        finalize=_finalize,
        auto_reload=False,  # the templates ship with the code: no stat of the file per mail
    )
    return env


@cache
def _layout() -> Any:
    """The HTML layout, from an environment without the marks of :func:`_finalize`."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    return env.get_template("_layout.html")


def one_line(value: str) -> str:
    """Collapse every run of whitespace, CR and LF included, to a single space."""
    return " ".join(value.split())


def _date_formatter(language: str) -> Any:
    def fmt(value: date | datetime) -> str:
        if not isinstance(value, date):
            str(value)  # a missing variable (StrictUndefined) raises its own error here
            raise TypeError(f"date() expects a date or datetime, got {value!r}")
        day = value.date() if isinstance(value, datetime) else value
        return str(format_date(day, format="long", locale=language))

    return fmt


def _segment_html(match: re.Match[str]) -> str:
    kind, text = match.group(1), match.group(2)
    if kind == _LINK and _URL.fullmatch(text.strip()):
        url = str(escape(text.strip()))
        return f'<a href="{url}">{url}</a>'
    return str(escape(defused(text)))


def _body_html(marked: str) -> Markup:
    """The marked body as HTML paragraphs: template words escaped, user text escaped and
    defused, system links as links."""
    pieces: list[str] = []
    position = 0
    for match in _MARKED.finditer(marked):
        pieces.append(str(escape(_unmarked(marked[position : match.start()]))))
        pieces.append(_segment_html(match))
        position = match.end()
    pieces.append(str(escape(_unmarked(marked[position:]))))
    html = "".join(pieces)
    parts = [
        "<p>" + block.replace("\n", "<br>\n") + "</p>"
        for block in re.split(r"\n\s*\n", html.strip())
    ]
    return Markup("\n".join(parts))


def _plural_chooser(language: str) -> Any:
    """``plural(n, one=..., few=..., many=..., other=...)`` in templates: the form the
    language's plural rule (CLDR, through Babel) asks for, ``other`` when one is missing."""
    locale = Locale.parse(language)

    def plural(count: int, **forms: str) -> str:
        return forms.get(str(locale.plural_form(count))) or forms["other"]

    return plural


def country_in(code: str, language: str, fallback: str) -> str:
    """A country by its ISO code in ``language`` (CLDR, through Babel), else ``fallback``."""
    try:
        found = Locale.parse(language).territories.get(code.upper())
    except (ValueError, TypeError):
        found = None
    return str(found) if found else fallback


def localized(context: dict[str, Any], language: str) -> dict[str, Any]:
    """``context`` with the network's, the country's, the Commission's and the city's names
    in ``language``: from its ``network_names``, ``country_code``, ``commission_names``
    and ``city_names`` (see :mod:`notifications.contexts`)."""
    names = context.get("network_names")
    code = context.get("country_code")
    per_language = [
        (key, map_) for key, map_ in (("commission", "commission_names"), ("city", "city_names"))
        if key in context and isinstance(context.get(map_), dict)
    ]  # fmt: skip
    if not isinstance(names, dict) and not isinstance(code, str) and not per_language:
        return context
    found = dict(context)
    if isinstance(names, dict) and isinstance(names.get(language), str) and names[language]:
        found["network"] = names[language]
    if isinstance(code, str) and code and "country" in context:
        found["country"] = country_in(code, language, str(context["country"]))
    for key, map_ in per_language:  # a Commission's, a city's name (workflow.names)
        found[key] = name_in(context[map_], language, str(context[key]))
    return found


def render(occasion: str, language: str, context: dict[str, Any]) -> Rendered:
    """Subject, plain text and HTML of ``occasion`` in ``language`` (or English)."""
    env = environment()
    used = language
    try:
        template = env.get_template(f"{occasion}/{language}.txt")
    except TemplateNotFound:
        used = FALLBACK
        template = env.get_template(f"{occasion}/{FALLBACK}.txt")
    context = localized(context, used)
    values = {
        **_with_links(context),
        "date": _date_formatter(used),
        "plural": _plural_chooser(used),
        "lang": used,
    }
    ctx = template.new_context(values)
    subject = one_line(_unmarked("".join(template.blocks["subject"](ctx))))
    marked = "".join(template.blocks["body"](template.new_context(values))).strip()
    body = _unmarked(marked).strip() + "\n"
    # The layout's own names win over a context key of the same name.
    network = context.get("network")
    if not (isinstance(network, str) and network):
        network = _HEADER.get(used, _HEADER["en"])
    html = _layout().render(
        {
            **context,
            "subject": defused(subject),
            "body": _body_html(marked),
            "lang": used,
            "header": network,
        }
    )
    return Rendered(subject=subject, text=body, html=html, language=used)
