"""The rules for a new password: not blank, not short, not easy to guess, not the user's
own email or name; each refusal says why."""

from __future__ import annotations

import pytest

from web.accounts import check_new_password, password_problem, personal_words
from workflow.errors import InvalidInput

ANDRIS = personal_words("andris.ravins@jelgava.lv", "Andris Rāviņš")


def refusal(password: str, repeat: str | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        check_new_password(password, password if repeat is None else repeat, user_inputs=ANDRIS)
    return str(caught.value)


def test_personal_words_are_the_email_and_name_whole_and_in_parts() -> None:
    assert ANDRIS == [
        "andris.ravins@jelgava.lv",
        "andris",
        "ravins",
        "jelgava",
        "andris rāviņš",
        "rāviņš",
    ]


@pytest.mark.parametrize("blank", ["", " ", "          ", "\t \n  \t   "])
def test_blank_and_whitespace_only_are_refused(blank: str) -> None:
    assert "empty or only spaces" in refusal(blank)


def test_a_short_password_is_refused_with_the_minimum() -> None:
    said = refusal("Kx9#q")
    assert "too short (5 characters)" in said and "at least 10 characters" in said


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("1234567890", "This is a top-100 common password."),
        ("password123", "This is a very common password."),
        ("qwertyuiop", "This is a top-100 common password."),
        ("aaaaaaaaaaaa", 'Repeats like "aaa" are easy to guess.'),
    ],
)
def test_common_and_patterned_passwords_are_refused_saying_why(password: str, why: str) -> None:
    said = refusal(password)
    assert said.startswith("This password is too easy to guess.")
    assert why in said
    assert "four or five words" in said  # and what to do instead


@pytest.mark.parametrize(
    "password",
    [
        "andris.ravins@jelgava.lv",
        "andrisravins",
        "ravins-andris",
        "Rāviņš-Andris-2019",
        "Jelgava2019!!",
    ],
)
def test_passwords_made_of_the_users_email_or_name_are_refused(password: str) -> None:
    assert "made of your email address or your name" in refusal(password)


def test_the_same_words_are_fine_for_someone_else() -> None:
    assert password_problem("ravins-andris", personal_words("a@b.org", "Anna Berzina")) is None


@pytest.mark.parametrize(
    "passphrase",
    [
        "Quiet harbour lantern 1987",
        "Mēness pār Daugavu un tramvajs",
        "ravins-andris-harbour",  # own words are fine as part of a longer passphrase
        "Quiet harbour lantern 1987 " * 8,  # longer than zxcvbn reads: judged by its start
    ],
)
def test_a_good_passphrase_is_accepted(passphrase: str) -> None:
    check_new_password(passphrase, passphrase, user_inputs=ANDRIS)


def test_two_different_entries_are_refused() -> None:
    said = refusal("Quiet harbour lantern 1987", "Quiet harbour lantern 1988")
    assert "two entries of the password differ" in said


def test_a_long_password_that_starts_weak_is_refused() -> None:
    assert "too easy to guess" in refusal("1234567890" * 10)
