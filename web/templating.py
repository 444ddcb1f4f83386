"""One Jinja2 environment for every page: autoescape, StrictUndefined, feature folders."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import HTMLResponse

from web import diagram
from web.i18n import DEFAULT, LANGUAGE_NAMES, plural_translator, translator
from web.portal import portal_of
from web.refusals import refusal
from web.viewer import viewer
from workflow.machines import WORKFLOWS

TEMPLATES = Path(__file__).with_name("templates")


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
        if value is None:
            return "—"
        return str(format_datetime(value, format="medium", tzinfo=ZoneInfo(tz), locale=lang))

    return {"day": day, "moment": moment}


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
        return diagram.svg(WORKFLOWS[workflow], current, t)

    values: dict[str, Any] = {
        "request": request,
        "viewer": who,
        "t": t,
        "lang": who.lang,
        "languages": LANGUAGE_NAMES,
        "draw": draw,
        "workflows": WORKFLOWS,
        "error": None,
        "notice": None,
        "network": portal_of(request).settings.network.name,
        **_formatters(who.lang),
        **(context or {}),
    }
    html = portal_of(request).templates.get_template(name).render(values)
    return HTMLResponse(html, status_code=status)
