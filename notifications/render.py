"""Render a message from its occasion's template in the recipient's language.

Templates live in ``templates/<occasion>/<lang>.txt`` with two blocks, ``subject`` and
``body``. The HTML alternative is the same body placed, escaped, into one layout, so the
two parts never disagree. A missing language falls back to English. Values that reach the
subject are folded to one line: no CR/LF can reach a header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)
from markupsafe import Markup, escape

TEMPLATES = Path(__file__).with_name("templates")
FALLBACK = "en"
_URL = re.compile(r"https?://[^\s<>\"']+")


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
    )
    return env


def one_line(value: str) -> str:
    """Collapse every run of whitespace, CR and LF included, to a single space."""
    return " ".join(value.split())


def available_languages(occasion: str) -> list[str]:
    folder = TEMPLATES / occasion
    return sorted(p.stem for p in folder.glob("*.txt"))


@cache
def resolved_language(occasion: str, language: str) -> str:
    """The language ``render`` will use: ``language`` when its template exists."""
    return language if (TEMPLATES / occasion / f"{language}.txt").exists() else FALLBACK


def occasions() -> list[str]:
    return sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def _date_formatter(language: str) -> Any:
    def fmt(value: date | datetime) -> str:
        if not isinstance(value, date):
            str(value)  # a missing variable (StrictUndefined) raises its own error here
            raise TypeError(f"date() expects a date or datetime, got {value!r}")
        day = value.date() if isinstance(value, datetime) else value
        return str(format_date(day, format="long", locale=language))

    return fmt


def _paragraphs_html(text: str) -> Markup:
    parts = []
    for block in re.split(r"\n\s*\n", text.strip()):
        escaped = str(escape(block))
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        parts.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return Markup("\n".join(parts))


def render(occasion: str, language: str, context: dict[str, Any]) -> Rendered:
    """Subject, plain text and HTML of ``occasion`` in ``language`` (or English)."""
    env = environment()
    used = language
    try:
        template = env.get_template(f"{occasion}/{language}.txt")
    except TemplateNotFound:
        used = FALLBACK
        template = env.get_template(f"{occasion}/{FALLBACK}.txt")
    values = {**context, "date": _date_formatter(used), "lang": used}
    ctx = template.new_context(values)
    subject = one_line("".join(template.blocks["subject"](ctx)))
    body = "".join(template.blocks["body"](template.new_context(values))).strip() + "\n"
    layout = env.get_template("_layout.html")
    # The layout's own names win over a context key of the same name.
    html = layout.render(
        {**context, "subject": subject, "body": _paragraphs_html(body), "lang": used}
    )
    return Rendered(subject=subject, text=body, html=html, language=used)
