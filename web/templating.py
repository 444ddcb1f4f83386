"""One Jinja2 environment for every page: autoescape, StrictUndefined, feature folders."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format
from fastapi import Request
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import HTMLResponse

from web import diagram, flash
from web.i18n import (
    DEFAULT,
    LANGUAGE_NAMES,
    country_name,
    country_words,
    plural_translator,
    state_word,
    translator,
)
from web.portal import portal_of
from web.refusals import refusal
from web.viewer import viewer
from workflow import names
from workflow.machines import WORKFLOWS
from workflow.models import City, Country

TEMPLATES = Path(__file__).with_name("templates")
#: Comments the services write themselves (workflow.services.memberships.admit).
_SYSTEM_COMMENT = re.compile(r"application (\d+)")


@pass_context
def _gettext(context: Context, key: str, /, **values: object) -> str:
    return translator(context.get("lang", DEFAULT))(key, **values)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int, /, **values: object) -> str:
    return plural_translator(context.get("lang", DEFAULT))(singular, plural, count, **values)


def environment() -> Environment:
    """Templates say ``{{ _('id', name=value) }}`` and ``{{ ngettext('id', 'id', count) }}``
    (``jinja2.ext.i18n``), in the language of the page's ``lang``. The words are plain text,
    escaped like any value."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship with the code: compile each once, never stat the files again.
        auto_reload=False,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=_gettext, ngettext=_ngettext, newstyle=False
    )
    return env


@lru_cache(maxsize=512)
def _diagram(workflow: str, current: str | None, lang: str) -> Markup:
    # The same few drawings on every page: the tables and the catalogues never change
    # while the portal runs (drawing one costs about 0.2 ms).
    return diagram.svg(WORKFLOWS[workflow], current, translator(lang))


@lru_cache(maxsize=4096)
def _medium_date(value: date, lang: str) -> str:
    # Babel's formatting costs tens of microseconds; a list shows the same few dates.
    return str(format_date(value, format="medium", locale=lang))


def _formatters(lang: str) -> dict[str, Any]:
    def day(value: date | datetime | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, datetime):
            value = value.date()
        return _medium_date(value, lang)

    def moment(value: datetime | None, tz: str = "UTC") -> str:
        """An instant as ``day`` writes its date, then the hour and minute and the zone:
        one date format per locale on every page ("30 janv. 2027, 23:59 (UTC)")."""
        if value is None:
            return "—"
        local = value.astimezone(ZoneInfo(tz))
        time = str(format_time(local, format="short", locale=lang))
        pattern = str(get_datetime_format("medium", locale=lang))
        when = pattern.replace("{1}", _medium_date(local.date(), lang)).replace("{0}", time)
        return f"{when} ({tz})"

    def country(code: str | None, fallback: str = "") -> str:
        """A country by its code (else its recorded name), in the page's language."""
        if code and not fallback:
            return country_words(code, lang)
        return country_name(code, lang, fallback)

    t = translator(lang)

    def state(value: str, kind: str = "") -> str:
        """A state's words, agreeing with its kind where the language needs it."""
        return state_word(t, value, kind)

    def comment(text: str) -> str:
        """A history comment: the system's own ("application 7") in the page's language,
        what a person wrote as written."""
        found = _SYSTEM_COMMENT.fullmatch(text.strip())
        return t("app.number", id=found.group(1)) if found else text

    def commission(found: Country | None) -> str:
        """A country's National Commission in the page's language (``workflow.names``)."""
        return names.commission_name(found, lang)

    def city(found: City | None) -> str:
        """A city in the page's language (``workflow.names``)."""
        return names.city_name(found, lang)

    def country_choices(codes: Sequence[str], selected: str | None) -> Markup:
        """The ``<option>`` elements of a country filter, in the page's language."""
        return _country_options(lang, tuple(codes), selected or "")

    return {
        "day": day,
        "moment": moment,
        "country": country,
        "country_options": country_choices,
        "commission_name": commission,
        "city_name": city,
        "state_word": state,
        "system_comment": comment,
    }


@lru_cache(maxsize=256)
def _country_options(lang: str, codes: tuple[str, ...], selected: str) -> Markup:
    """Every country a filter offers, made once per language, list and choice: a list
    of every member names hundreds of countries, each a CLDR lookup in a template loop."""
    return Markup("").join(
        Markup('<option value="{}"{}>{}</option>').format(
            code, Markup(" selected") if code == selected else "", country_words(code, lang)
        )
        for code in codes
    )


@lru_cache(maxsize=8192)
def _fragment(template: Template, lang: str, values: tuple[tuple[str, Hashable], ...]) -> Markup:
    """``template`` drawn in ``lang`` from ``values`` alone, once: a fragment that depends
    on nothing else (no viewer, no request) is the same text each time it is asked for."""
    t = translator(lang)

    def draw(workflow: str, current: str | None = None) -> Markup:
        return _diagram(workflow, current, lang)

    context = {"_": t, "t": t, "lang": lang, "draw": draw, "workflows": WORKFLOWS}
    return Markup(template.render({**context, **_formatters(lang), **dict(values)}))


def table_rows(env: Environment, lang: str, name: str, lines: Iterable[Hashable]) -> Markup:
    """The rows of a list's table, each line drawn by the row template ``name`` (as ``r``).

    A row is made once per (template, language, line) and kept: a line is a frozen record
    of exactly what its row shows, so an equal line draws the same row. A list page's 50
    rows were about 2,400 pieces for Jinja to escape and join at each view, the most of
    a Commission queue's time; the ones seen before now cost a lookup each."""
    template = env.get_template(name)
    return Markup("").join([_fragment(template, lang, (("r", line),)) for line in lines])


def diagram_box(
    env: Environment, lang: str, name: str, current: str | None, open: bool = False
) -> Markup:
    """A workflow's drawing and its table of steps (``_diagram_box.html``), made once per
    workflow, state shown and language: the table was a hundred cells drawn at each view
    of an application's page, about a third of its rendering."""
    values = (("name", name), ("current", current), ("open", open))
    return _fragment(env.get_template("_diagram_box.html"), lang, values)


def said(request: Request, error: BaseException) -> str:
    """A refusal in the viewer's language (see :mod:`web.refusals`)."""
    who = viewer(request)
    return refusal(error, translator(who.lang), who.lang)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render ``name`` with what every page needs: the viewer, its language (``_``), dates,
    the diagram."""
    who = viewer(request)
    t = translator(who.lang)

    def draw(workflow: str, current: str | None = None) -> Markup:
        return _diagram(workflow, current, who.lang)

    values: dict[str, Any] = {
        "request": request,
        "viewer": who,
        "t": t,
        # ``_`` is the page language's translator itself: jinja2.ext.i18n's own ``_`` is a
        # context-passing alias that calls ``gettext`` through the context again, twice
        # the work on a list that says a few hundred words.
        "_": t,
        "lang": who.lang,
        "languages": LANGUAGE_NAMES,
        "draw": draw,
        "workflows": WORKFLOWS,
        "error": None,
        "notice": None,
        "network": portal_of(request).settings.network.name_in(who.lang),
        "table_rows": partial(table_rows, portal_of(request).templates, who.lang),
        "diagram_box": partial(diagram_box, portal_of(request).templates, who.lang),
        **_formatters(who.lang),
        **(context or {}),
    }
    if values["error"] is None and request.method == "GET":
        values["error"] = flash.refusal(request)  # a refused form came back here
    html = portal_of(request).templates.get_template(name).render(values)
    return HTMLResponse(html, status_code=status)
