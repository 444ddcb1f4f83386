"""Every template of every occasion, in every configured language, with realistic data.

Occasions are discovered from the templates folder, so occasions added later are
covered too: their variables are read from the template source and given realistic
values by name when the table below does not know the occasion.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from jinja2 import UndefinedError, meta, nodes

from config import load_settings
from notifications.recipients import Recipient
from notifications.render import TEMPLATES, available_languages, environment, occasions, render

SETTINGS = load_settings({})
LANGUAGES = SETTINGS.network.languages
NETWORK = SETTINGS.network.name
BASE: dict[str, Any] = {
    "city": "Jelgava",
    "country": "Latvia",
    "commission": "Latvian National Commission for UNESCO",
    "network": NETWORK,
    "call": "2027",
    "application_id": 42,
    "comment": "Please add the budget of the learning festival.",
    "url": "http://127.0.0.1:8000/applications/42",
    "timezone": "Europe/Riga",
    "recipient": Recipient("office@unesco.lv", "Latvian National Commission", "lv"),
}
APPLICATION = {
    **BASE,
    "opens_on": date(2027, 3, 1),
    "closes_on": date(2027, 4, 30),
    "commission_deadline": date(2027, 5, 30),
    "endorsement": "",
}
REPORT = {**BASE, "report_id": 7, "due_on": date(2029, 3, 31), "late": False}
MEMBERSHIP = {k: BASE[k] for k in ("city", "country", "comment", "network", "recipient")}
#: Example contexts of the occasions this module knows, as the services build them.
EXAMPLES: dict[str, dict[str, Any]] = {
    **{
        o: APPLICATION
        for o in (
            "application_acknowledged",
            "application_admitted",
            "application_declined",
            "application_forwarded",
            "application_not_admitted",
            "application_reopened",
            "application_returned",
            "application_submitted",
            "application_withdrawn",
        )
    },
    "application_submitted_direct": {**APPLICATION, "endorsement": "Letter LNK-2027/14"},
    **{o: MEMBERSHIP for o in ("membership_reinstated", "membership_removed")},
    "membership_withdrawn": MEMBERSHIP,
    **{o: REPORT for o in ("report_accepted", "report_returned", "report_submitted")},
    "user_invitation": {
        "name": "Anna Bērziņa",
        "role": "commission",
        "url": "http://127.0.0.1:8000/invite/abc123",
        "expires_at": datetime(2027, 3, 8, 12, 0, tzinfo=UTC),
        "network": NETWORK,
    },
}


def _sources(occasion: str) -> list[str]:
    env = environment()
    assert env.loader is not None
    return [
        env.loader.get_source(env, f"{occasion}/{language}.txt")[0]
        for language in available_languages(occasion)
    ]


def variables(occasion: str) -> set[str]:
    """Every variable any language of ``occasion`` uses (minus the ones render adds)."""
    env = environment()
    names: set[str] = set()
    for source in _sources(occasion):
        names |= meta.find_undeclared_variables(env.parse(source))
    return names - {"date", "plural", "lang"}


def sequences(occasion: str) -> set[str]:
    """Variables the templates loop over or count: they need a list."""
    found: set[str] = set()
    for source in _sources(occasion):
        tree = environment().parse(source)
        found |= {n.iter.name for n in tree.find_all(nodes.For) if isinstance(n.iter, nodes.Name)}
        found |= {
            n.node.name
            for n in tree.find_all(nodes.Filter)
            if n.name == "length" and isinstance(n.node, nodes.Name)
        }
    return found


class Item:
    """One element of a list the template loops over: any attribute is guessed by name."""

    def __getattr__(self, name: str) -> Any:
        return guess(name)

    def __getitem__(self, name: str) -> Any:
        return guess(name)


def guess(name: str) -> Any:
    """A realistic value for a variable known only by its name."""
    if name in BASE:
        return BASE[name]
    if name.endswith(("_on", "deadline", "_date", "_day", "_since")) or name in {"due", "today"}:
        return date(2029, 3, 31)
    if name.endswith(("_at", "_until")):
        return datetime(2029, 3, 1, 9, 30, tzinfo=UTC)
    if "days" in name:
        return 30
    if name.endswith(("_id", "_count", "count", "year", "number", "quota", "interval")):
        return 2029 if "year" in name else 3
    if name in {"late", "escalated"} or name.startswith(("is_", "has_")):
        return True
    if name in {"name", "recipient_name"}:
        return "Anna Bērziņa"
    if name.endswith("email") or name == "address":
        return "office@unesco.lv"
    return f"Example {name.replace('_', ' ')}"


def context_for(occasion: str) -> dict[str, Any]:
    known = EXAMPLES.get(occasion, {})
    lists = sequences(occasion)
    return {
        name: known[name] if name in known else [Item(), Item()] if name in lists else guess(name)
        for name in variables(occasion)
    }


ALL = [(o, lang) for o in occasions() for lang in LANGUAGES]


def test_every_occasion_has_a_complete_english_template() -> None:
    assert occasions(), f"no occasions under {TEMPLATES}"
    for occasion in occasions():
        assert "en" in available_languages(occasion), occasion
    # The occasions this helper owns exist in every configured language.
    for occasion in EXAMPLES:
        assert set(available_languages(occasion)) >= set(LANGUAGES), occasion


@pytest.mark.parametrize(("occasion", "language"), ALL)
def test_renders_in_each_language(occasion: str, language: str) -> None:
    rendered = render(occasion, language, context_for(occasion))
    expected = language if language in available_languages(occasion) else "en"
    assert rendered.language == expected
    assert (
        rendered.subject.strip() and "\n" not in rendered.subject and "\r" not in rendered.subject
    )
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "{{" not in part and "{%" not in part and "}}" not in part
    assert rendered.text.strip() and rendered.text.endswith("\n")
    assert f'<html lang="{expected}">' in rendered.html
    assert "<p>" in rendered.html
    # Read on a phone at the phone's width, not shrunk from a 980 px desktop layout.
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in rendered.html


@pytest.mark.parametrize("occasion", occasions())
def test_a_missing_variable_is_an_error_not_a_blank(occasion: str) -> None:
    context = context_for(occasion)
    for name in sorted(variables(occasion)):
        partial = {k: v for k, v in context.items() if k != name}
        try:
            render(occasion, "en", partial)
        except UndefinedError as exc:
            assert name in str(exc)
        else:
            # Only a variable used solely behind a false condition may be absent.
            source = (TEMPLATES / occasion / "en.txt").read_text(encoding="utf-8")
            assert "{% if" in source, f"{occasion}: {name} missing went unnoticed"


def test_a_hostile_city_name_is_escaped_and_stays_on_one_line() -> None:
    hostile = 'Evil<script>alert("x")</script>\r\nBcc: victim@example.org\nX-Injected: 1'
    for occasion in occasions():
        context = {**context_for(occasion), "city": hostile, "comment": "<b>bold</b> & more"}
        for language in LANGUAGES:
            rendered = render(occasion, language, context)
            assert "\n" not in rendered.subject and "\r" not in rendered.subject
            assert "<script>" not in rendered.html and "<b>bold</b>" not in rendered.html
            if "city" in variables(occasion):
                assert "&lt;script&gt;" in rendered.html
                assert "<script>" in rendered.subject + rendered.text  # plain text stays text


def test_dates_are_written_in_the_recipients_language() -> None:
    context = context_for("report_accepted")
    assert "March 31, 2029" in render("report_accepted", "en", context).text
    assert "31 mars 2029" in render("report_accepted", "fr", context).text
    assert "2029. gada 31. marts" in render("report_accepted", "lv", context).text
    assert "31 марта 2029" in render("report_accepted", "ru", context).text


def test_an_unknown_language_falls_back_to_english() -> None:
    rendered = render("application_admitted", "de", context_for("application_admitted"))
    assert rendered.language == "en" and rendered.subject.startswith("Welcome")


@pytest.mark.parametrize(
    ("language", "days", "expected"),
    [
        ("en", 1, "1 day from now"),
        ("en", 21, "21 days from now"),
        ("fr", 1, "dans 1 jour."),
        ("fr", 21, "dans 21 jours."),
    ],
)
def test_counts_in_mail_take_the_languages_plural_form(
    language: str, days: int, expected: str
) -> None:
    context = {**context_for("report_reminder"), "days_left": days}
    text = render("report_reminder", language, context).text
    assert expected in text
    assert "(s)" not in text


def test_a_commission_reminder_counts_its_applications_in_words() -> None:
    one = {**context_for("commission_reminder"), "days_left": 1}
    one["pending"] = one["pending"][:1]
    assert "1 application awaits your decision" in render("commission_reminder", "en", one).subject
    assert "1 candidature attend" in render("commission_reminder", "fr", one).subject
