"""Both languages are complete and the pages really speak them: every message id a page
uses has English and French words, and French pages show French written out here by hand,
not read back from the catalogue."""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.clients import visitor
from tests.e2e.live import Live, live_portal
from web.i18n import DOMAIN, LOCALES, plural_translator, translator
from workflow.machines import WORKFLOWS
from workflow.services.applications import CHALLENGES
from workflow.states import Role

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
USED = re.compile(r"""\b(?:_|t|ngettext)\(\s*'([a-z_.]+)'""")
START = datetime(2027, 3, 10, 9, tzinfo=UTC)


def needed_keys() -> set[str]:
    keys: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        keys.update(k for k in USED.findall(path.read_text()) if not k.endswith("."))
    for workflow in WORKFLOWS.values():
        keys.add(f"diagram.{workflow.name}")
        keys.update(f"state.{s.value}" for s in workflow.states)
        keys.update(f"action.{workflow.name}.{t}" for t in workflow.triggers)
        keys.update(f"event.{t}" for t in workflow.triggers)
    keys.update(f"role.{r.value}" for r in Role)
    keys.update(f"challenge.{c}" for c in CHALLENGES)
    keys.update(f"next.{s.value}" for s in WORKFLOWS["application"].states)
    keys.update(f"done.{t}" for t in WORKFLOWS["application"].triggers)
    keys.update(f"done.report_{t}" for t in ("submit", "accept", "return_for_revision"))
    return keys


def test_every_needed_message_exists_in_english_and_french() -> None:
    for lang in ("en", "fr"):
        # The compiled catalogue alone, without the English fallback the portal adds.
        with (LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as mo:
            own = gettext.GNUTranslations(mo)
        missing = sorted(k for k in needed_keys() if own.gettext(k) == k)
        assert not missing, f"{lang} lacks {missing}"


def test_translator_formats_and_falls_back_to_the_id() -> None:
    t = translator("fr")
    assert t("app.number", id=7) == "Candidature 7"
    assert t("no.such.key") == "no.such.key"
    assert translator("lv")("nav.home") == "Sākums"
    assert translator("de")("nav.home") == "Home"  # an unsupported language reads English


def test_counts_take_the_plural_form_of_each_language() -> None:
    fr, en = plural_translator("fr"), plural_translator("en")
    assert [fr("form.words", "form.words", n) for n in (0, 1, 2)] == [
        "0 mot au plus.",  # French counts 0 and 1 in the singular
        "1 mot au plus.",
        "2 mots au plus.",
    ]
    assert [en("form.words", "form.words", n) for n in (0, 1, 2)] == [
        "At most 0 words.",
        "At most 1 word.",
        "At most 2 words.",
    ]


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(sqlite_url, tmp_path, START) as portal:
        yield portal


def shown(html: str) -> str:
    """The text a reader sees: tags dropped, entities read, spaces collapsed."""
    from html import unescape

    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_french_pages_say_it_in_french(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    institute = visitor(live.url, "institute@example.org")
    try:
        for person in (city, institute):
            person.pages.cookies.set("gnlc_lang", "fr")
            person.post_form("/language", {"lang": "fr", "next": "/"})  # the account's, too
        home = shown(city.pages.get("/").text)
        for words in ("Accueil", "Candidatures", "Se déconnecter", "Aller au contenu",
                      "Commencer une candidature", "Aucune candidature ici.",
                      "Réseau mondial UNESCO des villes apprenantes"):  # fmt: skip
            assert words in home, words
        assert "Sign out" not in home and "Home" not in home
        form = shown(city.pages.get("/applications/new").text)
        assert "Formulaire de candidature · partie 1" in form
        assert "Motivation et plan : 200 mots au plus chacun." in form
        assert form.count("200 mots au plus.") == 2  # under each long answer
        assert "Plan de mise en œuvre" in form and "Signé par (le maire)" in form
        assert "téléversez le formulaire signé par le maire en PDF (5 Mo au plus)" in form
        steps = shown(city.pages.get("/workflow").text)
        assert "Approuver et transmettre à l'Institut (Commission nationale)" in steps
        assert "Déroulement d'une candidature" in steps
        reports = shown(institute.pages.get("/reports").text)
        assert "Rapports d'avancement à examiner" in reports
        assert "31 mars 2026" in reports and "Valmiera" in reports
        members = shown(institute.pages.get("/members").text)
        assert "Les membres en retard de rapport apparaissent en premier." in members
        # "adhésion active": the membership's states agree with their noun.
        assert " active " in members and "actif" not in members and "31 mars 2028" in members
        # The same page in English, for contrast: the switch is the language, not the data.
        city.pages.cookies.set("gnlc_lang", "en")
        city.post_form("/language", {"lang": "en", "next": "/"})
        english = shown(city.pages.get("/applications/new").text)
        assert "Motivation and plan: at most 200 words each." in english
        assert english.count("At most 200 words.") == 2
    finally:
        city.close()
        institute.close()
