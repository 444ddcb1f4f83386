"""A service's refusal in the reader's language.

The services raise :class:`workflow.errors.WorkflowError` with an English message and its
parts (``params``); a page in French says the same from the catalogue's
``refusal.<reason>`` message (see :mod:`web.i18n`), with dates, states, roles and actions
in French too. Every refusal the code raises has its reason and words in each language
(tests/integration/test_refusal_reasons.py reads every raise site); one without would keep
the service's words in English and say a general ``refusal.unexplained`` in the others.
English pages use the catalogue too: a service's own English is written for the command
line and the logs (``contact_email: ...``, ``(--city)``), the catalogue's for a reader.
"""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal

from web.i18n import Translate, country_words, has_message, state_word
from workflow.errors import WorkflowError


def refusal(error: BaseException, t: Translate, lang: str) -> str:
    """What to show for ``error`` in ``lang``."""
    if not isinstance(error, WorkflowError):
        return str(error)
    key = f"refusal.{error.reason}"
    if not has_message(key):
        # No words for this refusal yet: an English page keeps the service's; another
        # language says so in its own words rather than in English.
        return str(error) if lang == "en" else t("refusal.unexplained")
    params = error.params
    kind = str(params.get("kind", ""))
    shown = {name: _show(name, value, kind, t, lang) for name, value in params.items()}
    try:
        return t(key, **shown)
    except (KeyError, TypeError, ValueError):
        return str(error)


#: Numbers of a refusal written with the language's separators: counts, sizes in MB.
_NUMBERS = {"length": "#,##0", "max": "#,##0", "min": "#,##0", "used_mb": "#,##0.0",
            "size_mb": "#,##0.0", "limit_mb": "#,##0.0", "words": "#,##0",
            "limit": "#,##0"}  # fmt: skip


def problem_text(key: str, params: dict[str, object], t: Translate, lang: str) -> str:
    """One problem of a form (``workflow.services.applications.FormProblem``: its id and
    params) in ``lang``."""
    shown = {name: _show(name, value, "", t, lang) for name, value in params.items()}
    try:
        return t(key, **shown)
    except (KeyError, TypeError, ValueError):
        return key


def _word(t: Translate, key: str, fallback: str) -> str:
    found = t(key)
    return fallback if found == key else found


def _show(name: str, value: object, kind: str, t: Translate, lang: str) -> str:
    if isinstance(value, date):
        return str(format_date(value, format="long", locale=lang))
    if name == "kind":
        return _word(t, f"kind.{value}", str(value))
    if name == "field":  # a form field, by the message id of its label
        return _word(t, str(value), str(value))
    if name in _NUMBERS and isinstance(value, int | float) and not isinstance(value, bool):
        return str(format_decimal(value, format=_NUMBERS[name], locale=lang))
    if name == "state":
        return state_word(t, str(value), kind)
    if name == "country" and isinstance(value, str):
        return country_words(value, lang)
    if name == "role":
        return _word(t, f"role.{value}", str(value))
    if name == "questions" and isinstance(value, list):
        # questionnaire questions, each by its titles {lang: title} (workflow.questionnaires)
        return "; ".join(
            str(q.get(lang) or q.get("en", "")) if isinstance(q, dict) else str(q) for q in value
        )
    if name == "roles" and isinstance(value, list):
        return ", ".join(_word(t, f"role.{r}", str(r)) for r in value)
    if name == "action":
        return _word(t, f"action.{kind}.{value}", str(value).replace("_", " "))
    if name == "allowed" and isinstance(value, list):
        if not value:
            return "—"
        return ", ".join(_word(t, f"action.{kind}.{a}", str(a)) for a in value)
    if name == "criterion":  # a criterion of the jury ([jury] criteria)
        return _word(t, f"jury.criterion.{value}", str(value))
    if name == "criteria" and isinstance(value, list):
        return ", ".join(_word(t, f"jury.criterion.{c}", str(c)) for c in value)
    if name == "area":  # a challenge area of the form
        return _word(t, f"challenge.{value}", str(value))
    if name == "areas" and isinstance(value, list):
        return ", ".join(_word(t, f"challenge.{a}", str(a)) for a in value)
    if name == "problems" and isinstance(value, list):  # a form's problems, one by one
        return " ".join(problem_text(str(k), dict(p), t, lang) for k, p in value)
    return str(value)
