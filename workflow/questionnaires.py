"""Progress-report questionnaires: configuration, one TOML file per version under
``config/questionnaires``, with sections and questions of kind text (a word limit),
number, choice, yesno and file, each required or not, titled in every portal language.

A report cycle (a due date) uses the newest version whose ``applies_from`` is on or
before it; a report keeps the version it was first answered in (``reports.questionnaire``).
Answers are JSON, one value per question key: a draft is stored as it is (never blocked
by limits); :func:`problems` says what stands between an answer set and submission.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent.parent / "config" / "questionnaires"
KINDS = ("text", "number", "choice", "yesno", "file")
LANGUAGES = ("en", "fr", "lv", "ru")


@dataclass(frozen=True)
class Option:
    key: str
    titles: dict[str, str]

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles["en"]


@dataclass(frozen=True)
class Question:
    key: str
    kind: str
    required: bool
    titles: dict[str, str]
    words: int = 0
    options: tuple[Option, ...] = ()

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles["en"]

    def option(self, key: str) -> Option | None:
        return next((o for o in self.options if o.key == key), None)


@dataclass(frozen=True)
class Section:
    key: str
    titles: dict[str, str]
    questions: tuple[Question, ...]

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles["en"]


@dataclass(frozen=True)
class Questionnaire:
    version: str
    applies_from: date
    titles: dict[str, str]
    sections: tuple[Section, ...]

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles["en"]

    @property
    def questions(self) -> list[tuple[Section, Question]]:
        return [(s, q) for s in self.sections for q in s.questions]

    def question(self, key: str) -> Question | None:
        return next((q for _, q in self.questions if q.key == key), None)


class QuestionnaireError(ValueError):
    """A questionnaire file that does not say what it must (the operator's mistake)."""


def _titles(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(lang), str) for lang in LANGUAGES):
        raise QuestionnaireError(f"{where}: a title in each of {', '.join(LANGUAGES)}")
    return {lang: str(raw[lang]) for lang in LANGUAGES}


def _question(raw: dict[str, Any], where: str) -> Question:
    key, kind = str(raw.get("key", "")), str(raw.get("kind", ""))
    where = f"{where} question {key!r}"
    if not key or kind not in KINDS:
        raise QuestionnaireError(f"{where}: a key and a kind among {', '.join(KINDS)}")
    options = tuple(
        Option(str(o["key"]), _titles(o.get("title"), f"{where} option"))
        for o in raw.get("options", [])
    )
    if kind == "choice" and not options:
        raise QuestionnaireError(f"{where}: a choice needs options")
    return Question(
        key=key,
        kind=kind,
        required=bool(raw.get("required", False)),
        titles=_titles(raw.get("title"), where),
        words=int(raw.get("words", 0)),
        options=options,
    )


def parse(raw: dict[str, Any], where: str = "questionnaire") -> Questionnaire:
    sections = tuple(
        Section(
            key=str(s["key"]),
            titles=_titles(s.get("title"), f"{where} section {s.get('key')!r}"),
            questions=tuple(
                _question(q, f"{where} section {s.get('key')!r}") for q in s.get("questions", [])
            ),
        )
        for s in raw.get("sections", [])
    )
    found = Questionnaire(
        version=str(raw["version"]),
        applies_from=raw.get("applies_from", date(2000, 1, 1)),
        titles=_titles(raw.get("title"), where),
        sections=sections,
    )
    keys = [q.key for _, q in found.questions]
    if len(keys) != len(set(keys)) or not keys:
        raise QuestionnaireError(f"{where}: question keys are unique and there is at least one")
    return found


@cache
def versions(folder: Path = FOLDER) -> dict[str, Questionnaire]:
    """Every questionnaire version on file, by version."""
    found: dict[str, Questionnaire] = {}
    for path in sorted(folder.glob("*.toml")):
        q = parse(tomllib.loads(path.read_text(encoding="utf-8")), path.name)
        found[q.version] = q
    return found


def version(name: str) -> Questionnaire | None:
    return versions().get(name)


def for_cycle(due_on: date) -> Questionnaire | None:
    """The version a report cycle uses: the newest applying on its due date."""
    applying = [q for q in versions().values() if q.applies_from <= due_on]
    return max(applying, key=lambda q: q.applies_from) if applying else None


def word_count(text: str) -> int:
    return len(text.split())


def read_number(text: str) -> float:
    """A number as people write it: ``12 500``, ``12,5``, ``12,500.75``."""
    digits = "".join(text.split()).replace("\u202f", "")
    if "," in digits and "." in digits:
        digits = digits.replace(",", "")
    return float(digits.replace(",", "."))


def answered(question: Question, value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return True


@dataclass(frozen=True)
class Problem:
    """What keeps one answer from submission: ``why`` is missing, too_long, not_number
    or not_option."""

    section: Section
    question: Question
    why: str


def problems(questionnaire: Questionnaire, answers: dict[str, Any]) -> list[Problem]:
    found: list[Problem] = []
    for section, q in questionnaire.questions:
        value = answers.get(q.key)
        if not answered(q, value):
            if q.required:
                found.append(Problem(section, q, "missing"))
            continue
        if q.kind == "text" and q.words and word_count(str(value)) > q.words:
            found.append(Problem(section, q, "too_long"))
        elif q.kind == "number" and not isinstance(value, int | float):
            found.append(Problem(section, q, "not_number"))
        elif q.kind == "choice" and q.option(str(value)) is None:
            found.append(Problem(section, q, "not_option"))
    return found


def clean(questionnaire: Questionnaire, given: Mapping[str, object]) -> dict[str, Any]:
    """Answers as stored: known keys only; numbers as numbers when they read as one (a
    draft keeps what does not, to be fixed before submission); yes/no as booleans."""
    answers: dict[str, Any] = {}
    for _, q in questionnaire.questions:
        if q.key not in given or q.kind == "file":
            continue
        value = given[q.key]
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
            if q.kind == "number":
                try:
                    number = read_number(value)
                    value = int(number) if number.is_integer() else number
                except ValueError:
                    pass
            elif q.kind == "yesno" and value in ("yes", "no", "true", "false"):
                value = value in ("yes", "true")
        answers[q.key] = value
    return answers
