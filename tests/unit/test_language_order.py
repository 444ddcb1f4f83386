"""Which language a page speaks: the account's, then the switch's, then the browser's."""

from __future__ import annotations

import pytest

from web.i18n import DEFAULT, accepted_languages, pick_language


@pytest.mark.parametrize(
    ("cookie", "account", "accept", "expected"),
    [
        ("en", "lv", "fr", "lv"),  # signed in: the account wins over switch and browser
        ("en", "", "fr", "en"),  # an account with no language yet: the switch
        (None, None, "fr-CH, fr;q=0.9", "fr"),  # first visit: the browser
        ("de", None, "ru", "ru"),  # a language the portal does not speak is passed over
        (None, None, "de, ru;q=0.2, fr;q=0.8", "fr"),  # by preference, not by position
        (None, None, "fr;q=0, lv", "lv"),  # q=0: not acceptable
        (None, None, "", DEFAULT),
        (None, None, "*;q=0.5, x;q=y", DEFAULT),
    ],
)
def test_the_order_of_the_languages(
    cookie: str | None, account: str | None, accept: str, expected: str
) -> None:
    assert pick_language(cookie, account, accept) == expected


def test_accept_language_keeps_the_written_order_among_equals() -> None:
    assert accepted_languages("ru, lv, fr;q=0.9") == ["ru", "lv", "fr"]
