"""A refusal from the services, said in French on a French page, with its real values."""

from __future__ import annotations

from datetime import date

import pytest

from web.i18n import has_message, translator
from web.refusals import refusal
from workflow.actors import Actor, require_city_scope
from workflow.errors import (
    Conflict,
    DeadlinePassed,
    InvalidInput,
    NotFound,
    OutsideWindow,
    QuotaExceeded,
    WorkflowError,
)
from workflow.machines import APPLICATION
from workflow.states import Role

FR = translator("fr")


def said(error: WorkflowError) -> str:
    return refusal(error, FR, "fr")


def test_outside_the_window_names_it_in_french() -> None:
    error = OutsideWindow("Submitting an application", date(2019, 3, 1), date(2019, 4, 30),
                          "Europe/Berlin", "2019")  # fmt: skip
    text = said(error)
    assert "du 1 mars 2019 au 30 avril 2019" in text
    assert "Europe/Berlin" in text and "2019" in text
    # English pages read the catalogue too, with English dates (the service's own words
    # are for the command line and the logs).
    assert "from March 1, 2019 to April 30, 2019" in refusal(error, translator("en"), "en")


def test_wrong_role_and_state_use_the_french_words_of_the_workflow() -> None:
    with pytest.raises(WorkflowError) as wrong_role:
        APPLICATION.resolve("endorse", "submitted", Role.CITY, kind="application", key=7)
    assert said(wrong_role.value) == (
        "Seul(e) Commission nationale peut faire cela (Approuver et transmettre à l'Institut) ; "
        "vous êtes connecté(e) en tant que Ville."
    )
    with pytest.raises(WorkflowError) as wrong_state:
        APPLICATION.resolve("endorse", "forwarded", Role.COMMISSION, kind="application", key=7)
    assert said(wrong_state.value) == (
        "Impossible maintenant (Approuver et transmettre à l'Institut) : candidature n° 7 est "
        "à l'état « transmise ». Actions possibles : —."
    )


def test_scope_quota_deadline_conflict_and_missing_records() -> None:
    city = Actor(Role.CITY, "Lyon", city_id=2, country_code="FR")
    with pytest.raises(WorkflowError) as other:
        require_city_scope(city, 1, "LV", "application")
    assert said(other.value).startswith("Cet élément (candidature) appartient à une autre ville")
    assert "son quota" in said(QuotaExceeded("Latvia", "2027", 3))
    late = said(DeadlinePassed("Endorsing", date(2027, 5, 30), "Europe/Berlin", "x", "endorse"))
    assert "30 mai 2027" in late and "prolonger" in late
    assert "modifié entre-temps" in said(Conflict("report", 4))
    assert said(NotFound("application", 99)) == (
        "Aucun(e) candidature n° 99. Vérifiez le numéro dans la liste."
    )


def test_a_refusal_without_a_pattern_keeps_the_services_words() -> None:
    error = InvalidInput("motivation: 201 words, at most 200 allowed")
    assert refusal(error, translator("en"), "en") == str(error)
    assert not has_message("refusal.invalid_input")
    # A French page never shows the English sentence: it says so in French.
    assert said(error) == FR("refusal.unexplained") and "words" not in said(error)


def test_sign_in_password_and_busy_refusals_are_french() -> None:
    from datetime import UTC, datetime

    from web.accounts import SignInFailed, Throttled, check_new_password
    from workflow.errors import Busy

    assert said(SignInFailed()).startswith("Adresse e-mail ou mot de passe incorrect")
    until = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    assert "depuis votre adresse réseau" in said(Throttled(until, client=True))
    assert "pour cette adresse e-mail" in said(Throttled(until))
    assert "09:30:00" in said(Throttled(until))
    assert said(Busy()).startswith("D'autres modifications")
    refusals = {}
    for password, repeat in [
        ("          ", "          "),
        ("short", "short"),
        ("1234567890", "1234567890"),
        ("anna.berzina@riga.lv", "anna.berzina@riga.lv"),
        ("lantern orchard whistle copper", "lantern orchard whistle pepper"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            check_new_password(password, repeat, user_inputs=["anna.berzina@riga.lv", "Anna"])
        refusals[password] = said(caught.value)
    assert refusals["          "].startswith("Le mot de passe est vide")
    assert "(5 caractères)" in refusals["short"] and "au moins 10" in refusals["short"]
    assert "trop facile à deviner" in refusals["1234567890"]
    assert "votre adresse e-mail ou de votre nom" in refusals["anna.berzina@riga.lv"]
    assert refusals["lantern orchard whistle copper"].startswith("Les deux saisies")


def test_an_input_refused_by_a_named_rule_says_it_with_its_values() -> None:
    from datetime import UTC, datetime

    LV = translator("lv")
    exists = InvalidInput("Jelgava already has application 12 (submitted) in call 2027; ...",
                          "application_exists", city="Jelgava", kind="application", key=12,
                          state="submitted", call="2027")  # fmt: skip
    assert exists.reason == "invalid_input.application_exists"
    assert exists.params["key"] == 12 and str(exists).startswith("Jelgava already has")
    assert said(exists) == (
        "Jelgava a déjà la candidature n° 12 (état : « soumise ») dans l'appel 2027. "
        "Ouvrez-la depuis Candidatures et poursuivez celle-ci."
    )
    assert refusal(exists, LV, "lv").startswith(
        "Jelgava jau ir pieteikums 12 (statuss: “iesniegts”) konkursā 2027."
    )
    expired = InvalidInput("This invitation expired on 2027-03-24 09:00 UTC. ...",
                           "invitation_expired",
                           expired=datetime(2027, 3, 24, 9, tzinfo=UTC))  # fmt: skip
    assert said(expired).startswith("Ce lien d'invitation a expiré le 24 mars 2027.")
    assert refusal(expired, LV, "lv").startswith(
        "Šīs ielūguma saites derīguma termiņš ir beidzies (2027. gada 24. marts)."
    )
    big = InvalidInput("'9999999999' is out of range (0 to 2,147,483,647).", "out_of_range",
                       field="field.population", min=0, max=2_147_483_647)  # fmt: skip
    assert said(big) == (
        "« Population » doit être un nombre entier de 0 à 2\u202f147\u202f483\u202f647. "
        "Corrigez-le et réessayez."
    )
    # A subclass that names its rule itself keeps it.
    from workflow.uploads import UploadRefused

    assert UploadRefused("upload_empty").reason == "invalid_input.upload_empty"
