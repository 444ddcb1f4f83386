"""A page's form read into the API's models: refusals name the field by its label, in
plain words, in English and in French; upload refusals give sizes in MB."""

from __future__ import annotations

import pytest

from web.forms import FieldRefused, form_fields, from_form
from web.i18n import translator
from web.refusals import refusal
from web.schemas import ApplicationIn, CallIn
from workflow.uploads import UploadQuotaExceeded, check_pdf

FR = translator("fr")


def refused(model: type[ApplicationIn] | type[CallIn], form: dict[str, str]) -> FieldRefused:
    with pytest.raises(FieldRefused) as caught:
        from_form(model, form_fields(model, form))
    return caught.value


def test_blank_numbers_and_dates_are_absent_text_is_kept_with_plain_newlines() -> None:
    fields = form_fields(
        ApplicationIn, {"population": " ", "motivation": "a\r\nb", "csrf_token": "x"}
    )
    assert fields == {"motivation": "a\nb"}
    assert from_form(ApplicationIn, fields).motivation == "a\nb"


@pytest.mark.parametrize(
    ("form", "english", "french"),
    [
        (
            {"name": "2031", "opens_on": "2031-02-30", "closes_on": "2031-04-30"},
            "“Opens on” is not a date. Write it like 2027-03-01 and try again.",
            "« Ouverture le » n'est pas une date. Écrivez-la comme 2027-03-01 et réessayez.",
        ),
        (
            {"name": "", "opens_on": "2031-03-01", "closes_on": "2031-04-30"},
            "“Name of the call” is required. Fill it in and try again.",
            "« Nom de l'appel » est obligatoire. Remplissez-le et réessayez.",
        ),
        (
            {"name": "2031", "opens_on": "2031-03-01", "closes_on": "2031-04-30", "quota": "0"},
            "“Quota” must be at least 1. Correct it and try again.",
            "« Quota » doit valoir au moins 1. Corrigez-le et réessayez.",
        ),
        (
            {"name": "2031", "opens_on": "2031-03-01", "closes_on": "2031-04-30", "quota": "x"},
            "“Quota” must be a whole number. Correct it and try again.",
            "« Quota » doit être un nombre entier. Corrigez-le et réessayez.",
        ),
    ],
)
def test_call_form_refusals_in_both_languages(
    form: dict[str, str], english: str, french: str
) -> None:
    error = refused(CallIn, form)
    assert str(error) == english
    assert refusal(error, FR, "fr") == french
    assert error.code == "invalid_input" and error.status == 422


def test_a_challenge_is_named_by_its_area() -> None:
    with pytest.raises(FieldRefused) as caught:  # as the page builds it from challenge_*
        from_form(ApplicationIn, {"challenges": {"funding": "lots"}})
    error = caught.value
    assert str(error).startswith("“Funding” must be a whole number")
    assert refusal(error, FR, "fr").startswith("« Financement » doit être un nombre entier")


def test_upload_sizes_are_in_megabytes_in_both_languages() -> None:
    quota = UploadQuotaExceeded(used=47_250_000, size=4_900_000, limit=50_000_000)
    assert "47.2 MB" in str(quota) and "4.9 MB" in str(quota) and "50.0 MB" in str(quota)
    french = refusal(quota, FR, "fr")
    assert "47,2 Mo" in french and "4,9 Mo" in french and "50,0 Mo" in french
    with pytest.raises(Exception) as big:
        check_pdf(b"%PDF-" + b"0" * 5_000_000, 5_000_000)
    assert str(big.value).startswith("The file is too large: at most 5.0 MB are accepted.")
    assert "bytes" not in str(big.value)
