"""Mail speaks the recipient's language throughout: the network's name, the country and
the layout's header, in every occasion and every language of the network."""

from __future__ import annotations

from typing import Any

import pytest

from config import load_settings
from notifications.render import occasions, render
from tests.unit.test_render import context_for

SETTINGS = load_settings({})
NAMES = {"en": SETTINGS.network.name, **SETTINGS.network.names}
COUNTRY = {"en": "Latvia", "fr": "Lettonie", "lv": "Latvija", "ru": "Латвия"}


def localizable(occasion: str) -> dict[str, Any]:
    """The occasion's example context, as notifications.contexts builds it: English
    names, with the network's names by language and the country's code."""
    context = dict(context_for(occasion))
    if "network" in context:
        context["network"] = SETTINGS.network.name
        context["network_names"] = dict(SETTINGS.network.names)
    if "country" in context:
        context["country"] = "Latvia"
        context["country_code"] = "LV"
    if "commission" in context:  # the directory's name, as the Institute recorded it
        context["commission"] = "LNK"
    return context


def test_the_network_has_a_name_in_each_language_of_the_network() -> None:
    assert SETTINGS.network.name_in("lv") == "UNESCO Izglītības pilsētu tīkls"
    assert SETTINGS.network.name_in("fr") == "Réseau mondial UNESCO des villes apprenantes"
    assert SETTINGS.network.name_in("ru") == "Глобальная сеть обучающихся городов ЮНЕСКО"
    assert SETTINGS.network.name_in("en") == SETTINGS.network.name
    renamed = SETTINGS.with_overrides(network={"names": {"fr": "Réseau des villes"}})
    assert renamed.network.name_in("fr") == "Réseau des villes"
    assert renamed.network.name_in("lv") == renamed.network.name  # none given: the default


@pytest.mark.parametrize("language", ["en", "fr", "lv", "ru"])
@pytest.mark.parametrize("occasion", occasions())
def test_network_country_and_header_are_in_the_recipients_language(
    occasion: str, language: str
) -> None:
    context = localizable(occasion)
    mail = render(occasion, language, context)
    assert mail.language == language
    said = mail.subject + "\n" + mail.text
    # The layout's header names the network in the recipient's language, always.
    assert f">{NAMES[language]}</div>" in mail.html
    if language != "en":
        assert "Learning Cities" not in said + mail.html, occasion
        assert "Latvia" not in said, occasion
    if "{{ network }}" in _template(occasion, language):
        assert NAMES[language] in said, occasion
    if "{{ country }}" in _template(occasion, language):
        assert COUNTRY[language] in said, occasion


def test_a_context_without_names_keeps_what_it_says() -> None:
    """Messages stored before the names travelled with the context still render."""
    context = dict(context_for("membership_withdrawn"))
    context.update(network="Old name", country="Latvia")
    mail = render("membership_withdrawn", "fr", context)
    assert "Old name" in mail.text and "Latvia" in mail.text
    assert ">Old name</div>" in mail.html


def _template(occasion: str, language: str) -> str:
    from notifications.render import TEMPLATES

    return (TEMPLATES / occasion / f"{language}.txt").read_text()
