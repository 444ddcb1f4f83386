"""Every refusal a person can meet says what to do, in the reader's language.

A :class:`workflow.errors.WorkflowError` built anywhere in the code (found by reading the
code: every call of a subclass, whether raised at once or returned to be raised later)
must have a reason whose ``refusal.<reason>`` has words in en, fr, lv and ru, listed in
``web.catalogue.RUNTIME`` so that ``make translations`` keeps them. A raise site without
a reason would show only the generic ``refusal.unexplained`` on a French page.

Then the pages, in French and Latvian, on SQLite and PostgreSQL: the refusals a city or
an invited person meets most (an application already started, no call open, the signed
form of a sent application, an expired invitation link, a rating out of range).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from html import unescape
from pathlib import Path

import httpx
import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from tests.conftest import ADMIN, SIGNED_PDF
from tests.e2e.clients import Visitor, visitor
from tests.e2e.live import Live, live_portal
from web.accounts import INVITATION_VALID, invite
from web.catalogue import runtime_ids
from web.i18n import LANGUAGES, LOCALES
from workflow.db import transaction
from workflow.errors import WorkflowError
from workflow.models import Application, User
from workflow.services import calls as call_service

ROOT = Path(__file__).resolve().parents[2]
#: The packages whose code refuses what a person asked for.
PACKAGES = ("workflow", "web", "notifications", "cli", "config")
START = datetime(2027, 3, 10, 9, tzinfo=UTC)


# --- every reason, from the code ----------------------------------------------------------


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _subclasses(cls: type[WorkflowError]) -> Iterator[type[WorkflowError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _defining_modules() -> set[str]:
    """The modules that define a WorkflowError class: read, not imported (importing every
    module would run what the command line and the portal import on demand)."""
    defined: dict[str, str] = {}
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in _modules()}
    known = {"WorkflowError"}
    while True:
        before = len(known)
        for path, tree in trees.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and any(
                    (b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")) in known
                    for b in node.bases
                ):
                    known.add(node.name)
                    defined[node.name] = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if len(known) == before:
            return set(defined.values())


@cache
def refusal_classes() -> dict[str, type[WorkflowError]]:
    """Every WorkflowError class of the code, by its name."""
    for module in sorted(_defining_modules()):
        importlib.import_module(module.removesuffix(".__init__"))
    found: dict[str, type[WorkflowError]] = {}
    classes: list[type[WorkflowError]] = [WorkflowError, *_subclasses(WorkflowError)]
    for cls in classes:
        assert found.setdefault(cls.__name__, cls) is cls, f"two classes named {cls.__name__}"
    return found


@dataclass(frozen=True)
class Site:
    where: str  # path:line
    cls: type[WorkflowError]
    reasons: tuple[str, ...]  # what it may say (a bool argument: both)
    problem: str = ""  # why its reason cannot be known from the code


def _reasons(cls: type[WorkflowError], node: ast.Call | None) -> tuple[tuple[str, ...], str]:
    """The reasons a refusal built by ``node`` gives: its literal arguments bound to the
    class's parameters, set on a bare instance (the ``reason`` property reads them)."""
    signature = inspect.signature(cls.__init__)
    names = [n for n in signature.parameters if n != "self"]
    given: dict[str, ast.expr] = {}
    if node is not None:
        positional = [
            n
            for n in names
            if signature.parameters[n].kind
            in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        given = dict(zip(positional, node.args, strict=False))
        given.update({k.arg: k.value for k in node.keywords if k.arg is not None})
    variants: list[dict[str, object]] = [{}]
    for name in names:
        parameter = signature.parameters[name]
        value: ast.expr | None = given.get(name)
        if value is None:
            if parameter.default is not inspect.Parameter.empty:
                variants = [{**v, name: parameter.default} for v in variants]
        elif isinstance(value, ast.Constant):
            variants = [{**v, name: value.value} for v in variants]
        elif parameter.annotation in (bool, "bool"):
            variants = [{**v, name: flag} for v in variants for flag in (True, False)]
    reasons = []
    for attributes in variants:
        bare = cls.__new__(cls)
        for name, given_value in attributes.items():
            setattr(bare, name, given_value)
        try:
            reasons.append(bare.reason)
        except AttributeError as exc:
            return (), f"its reason depends on an argument that is not written out ({exc})"
    return tuple(dict.fromkeys(reasons)), ""


@cache
def refusal_sites() -> tuple[Site, ...]:
    classes = refusal_classes()
    sites = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            call: ast.Call | None = None
            target: ast.expr
            if isinstance(node, ast.Call):
                call, target = node, node.func
            elif isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc  # ``raise NotConfirmed``: the class itself
            else:
                continue
            name = (
                target.id
                if isinstance(target, ast.Name)
                else (target.attr if isinstance(target, ast.Attribute) else "")
            )
            if name not in classes:
                continue
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                continue  # the Call is visited on its own
            reasons, problem = _reasons(classes[name], call)
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            sites.append(Site(where, classes[name], reasons, problem))
    return tuple(sites)


@cache
def catalogue(lang: str) -> dict[str, str]:
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        found = read_po(po, locale=lang)
    return {m.id: m.string for m in found if isinstance(m.id, str) and isinstance(m.string, str)}


def test_the_scan_finds_the_refusals_of_every_package() -> None:
    sites = refusal_sites()
    reasons = {r for s in sites for r in s.reasons}
    # A few that must be found, from each kind of raise site.
    assert {"invalid_input.application_exists", "invalid_input.signed_form_locked",
            "invalid_input.invitation_expired", "too_many_attempts.client",
            "too_many_attempts.account", "not_confirmed", "call.window_closed",
            "invalid_input.password_short", "invalid_input.none_chosen"} <= reasons  # fmt: skip
    assert len(sites) > 120


def test_every_refusal_has_a_reason_with_words_in_every_language() -> None:
    ids = runtime_ids()
    missing = []
    for site in refusal_sites():
        if site.problem:
            missing.append(f"{site.where} {site.cls.__name__}: {site.problem}")
            continue
        for reason in site.reasons:
            key = f"refusal.{reason}"
            if key not in ids:
                missing.append(f"{site.where} {site.cls.__name__}: {key} is not in RUNTIME")
            for lang in LANGUAGES:
                if not catalogue(lang).get(key):
                    missing.append(f"{site.where} {site.cls.__name__}: {key} has no {lang}")
    assert not missing, (
        "refusals without words of their own (give the raise site a reason, e.g. "
        "InvalidInput(message, 'why', **params), and refusal.<reason> in en/fr/lv/ru):\n"
        + "\n".join(missing)
    )


#: What a reader must never see in a refusal: a command's option, the command, a field's
#: key (``contact_email``, ``challenges.governance``) or code quotes.
DEVELOPER = re.compile(r"--[a-z]|`|\bgnlc\b|\b[a-z]+_[a-z_]+\b|(?<![\w@.])[a-z]+\.[a-z_]+\b")
PLACEHOLDER = re.compile(r"%\(\w+\)s")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_words_of_a_refusal_are_the_readers(lang: str) -> None:
    own, english = catalogue(lang), catalogue("en")
    wrong = []
    for key, words in own.items():
        if not key.startswith("refusal."):
            continue
        if found := DEVELOPER.findall(PLACEHOLDER.sub("", words)):
            wrong.append(f"{key}: {found}")
        if lang != "en" and words == english.get(key):
            wrong.append(f"{key}: still the English words")
        if sorted(PLACEHOLDER.findall(words)) != sorted(PLACEHOLDER.findall(english[key])):
            wrong.append(f"{key}: not the placeholders of the English")
    assert not wrong, "\n".join(wrong)


# --- the pages ----------------------------------------------------------------------------


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[Live]:
    with live_portal(db_url, tmp_path, START) as portal:
        yield portal


def shown(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def speak(person: Visitor, lang: str) -> None:
    person.pages.cookies.set("gnlc_lang", lang)
    assert person.post_form("/language", {"lang": lang, "next": "/"}).status_code == 303


def refused_on(person: Visitor, response: httpx.Response, page: str) -> str:
    """The refusal shown on ``page``, where the refused POST went back to."""
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == page
    alert = re.search(r'<div class="alert error" role="alert">(.*?)</div>',
                      person.pages.get(page).text, re.S)  # fmt: skip
    assert alert, f"no refusal on {page}"
    return shown(alert.group(1))


def not_generic(text: str, lang: str) -> None:
    assert catalogue(lang)["refusal.unexplained"][:30] not in text
    assert "_" not in text and "--" not in text


FORM = {
    "motivation": "Learning for all ages in every district.",
    "implementation_plan": "Map providers; open learning festivals; monitor yearly.",
    "signed_by": "Andris Rāviņš",
    "mayor_name": "Andris Rāviņš",
    "mayor_title": "Mayor",
    "contact_name": "Jelgava focal point",
    "contact_email": "pasts@jelgava.lv",
    **{f"challenge_{a}": "3" for a in
       ("governance", "funding", "partnerships", "monitoring", "inclusion")},
}  # fmt: skip


def new_draft(city: Visitor) -> int:
    saved = city.post_form("/applications", FORM)
    found = re.fullmatch(r"/applications/(\d+)\?done=saved", saved.headers.get("location", ""))
    assert found, saved.text[:300]
    return int(found.group(1))


def test_an_application_already_started_names_it(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        app_id = new_draft(city)
        speak(city, "fr")
        text = refused_on(city, city.post_form("/applications", FORM), "/applications/new")
        assert f"Jelgava a déjà la candidature n° {app_id} (état : « brouillon »)" in text
        assert "Ouvrez-la depuis Candidatures" in text
        not_generic(text, "fr")
        speak(city, "lv")
        text = refused_on(city, city.post_form("/applications", FORM), "/applications/new")
        assert f"Jelgava jau ir pieteikums {app_id} (statuss: “melnraksts”)" in text
        not_generic(text, "lv")
        with live.factory() as session:
            assert len(session.scalars(select(Application.id)).all()) == 1
    finally:
        city.close()


def test_no_call_open_or_planned_says_whom_to_ask(live: Live) -> None:
    with transaction(live.factory) as session:  # every call of the coming years cancelled
        while (call := call_service.current_or_next(session, live.settings, START)) is not None:
            call.cancelled_at = START
            call.cancel_reason = "Test"
            session.flush()
    city = visitor(live.url, "jelgava@example.org")
    try:
        speak(city, "fr")
        text = refused_on(city, city.post_form("/applications", FORM), "/applications/new")
        assert "Aucun appel à candidatures n'est ouvert ni prévu" in text
        assert "demandez-lui quand le prochain ouvrira" in text
        not_generic(text, "fr")
        speak(city, "lv")
        text = refused_on(city, city.post_form("/applications", FORM), "/applications/new")
        assert "Pašlaik nav atvērts vai plānots neviens pieteikumu konkurss" in text
        not_generic(text, "lv")
    finally:
        city.close()


def test_a_member_city_is_told_it_needs_no_application(live: Live) -> None:
    city = visitor(live.url, "valmiera@example.org")
    try:
        speak(city, "fr")
        text = refused_on(city, city.post_form("/applications", FORM), "/applications/new")
        assert "Valmiera est déjà membre du réseau : aucune candidature n'est nécessaire" in text
        speak(city, "lv")
        text = refused_on(city, city.post_form("/applications", FORM), "/applications/new")
        assert "Valmiera jau ir tīkla dalībniece" in text
    finally:
        city.close()


def upload(city: Visitor, app_id: int) -> httpx.Response:
    return city.pages.post(
        f"/applications/{app_id}/signed-form",
        data={"csrf_token": city.csrf},
        files={"signed_form": ("signed.pdf", SIGNED_PDF, "application/pdf")},
    )


def test_the_signed_form_of_a_sent_application_stays(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        app_id = new_draft(city)
        assert upload(city, app_id).status_code == 303
        sent = city.post_form(
            f"/applications/{app_id}/act", {"trigger": "submit", "confirm": "yes"}
        )
        assert sent.headers["location"] == f"/applications/{app_id}?done=submit"
        page = f"/applications/{app_id}"
        speak(city, "fr")
        text = refused_on(city, upload(city, app_id), page)
        assert f"La candidature n° {app_id} est à l'état « soumise »" in text
        assert (
            "son formulaire signé ne peut être remplacé que tant qu'elle est un brouillon" in text
        )
        not_generic(text, "fr")
        speak(city, "lv")
        text = refused_on(city, upload(city, app_id), page)
        assert f"Pieteikuma {app_id} statuss ir “iesniegts”" in text
        assert "parakstīto veidlapu var aizstāt tikai" in text
        not_generic(text, "lv")
        with live.factory() as session:
            assert session.get(Application, app_id).state == "submitted"  # type: ignore[union-attr]
    finally:
        city.close()


def test_an_expired_or_used_invitation_link_says_to_ask_for_a_new_one(live: Live) -> None:
    with transaction(live.factory) as session:
        user_id = session.scalars(select(User.id).where(User.email == "lyon@example.org")).one()
        replaced = invite(session, live.settings, ADMIN, user_id, now=START)
        token = invite(session, live.settings, ADMIN, user_id, now=START)
    live.clock.moment = START + INVITATION_VALID + timedelta(hours=1)
    words = {
        "fr": ("Ce lien d'invitation a expiré le ", "Demandez à un administrateur",
               "Ce lien d'invitation n'est plus valable"),
        "lv": ("Šīs ielūguma saites derīguma termiņš ir beidzies (", "Lūdziet administratoram",
               "Šī ielūguma saite vairs nav derīga"),
    }  # fmt: skip
    with httpx.Client(base_url=live.url, timeout=30) as anyone:
        for lang, (expired, ask, used) in words.items():
            anyone.cookies.set("gnlc_lang", lang)
            page = anyone.get(f"/invitation/{token}")
            assert page.status_code == 422
            text = shown(page.text)
            assert expired in text and ask in text, text[:600]
            assert str((START + INVITATION_VALID).year) in text
            not_generic(text, lang)
            assert used in shown(anyone.get(f"/invitation/{replaced}").text)


def test_a_rating_out_of_range_names_the_challenge(live: Live) -> None:
    city = visitor(live.url, "jelgava@example.org")
    try:
        speak(city, "fr")
        for value in ("9", "beaucoup"):
            posted = city.post_form("/applications", {**FORM, "challenge_funding": value})
            text = refused_on(city, posted, "/applications/new")
            assert "Financement" in text, text
            not_generic(text, "fr")
        speak(city, "lv")
        posted = city.post_form("/applications", {**FORM, "challenge_funding": "9"})
        text = refused_on(city, posted, "/applications/new")
        assert "novērtējiet no 1 līdz 5" in text, text
        not_generic(text, "lv")
        with live.factory() as session:
            assert session.scalars(select(Application.id)).all() == []
    finally:
        city.close()
