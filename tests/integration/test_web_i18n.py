"""Both languages are complete: every message id used by a page exists in English and in
French, and every state, role, action and history entry of the workflows has its words."""

from __future__ import annotations

import re
from pathlib import Path

from web.i18n import translator
from web.messages import CATALOGUE, ROWS
from workflow.machines import WORKFLOWS
from workflow.services.applications import CHALLENGES
from workflow.states import Role

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
USED = re.compile(r"""\bt\(\s*'([a-z_.]+)'""")


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
    needed = needed_keys()
    for lang in ("en", "fr"):
        missing = sorted(needed - set(CATALOGUE[lang]))
        assert not missing, f"{lang} lacks {missing}"


def test_french_is_written_out_and_ids_are_unique() -> None:
    ids = [key for key, _, _ in ROWS]
    assert len(ids) == len(set(ids))
    assert CATALOGUE["en"].keys() == CATALOGUE["fr"].keys()
    for key, en, fr in ROWS:
        assert fr.strip(), key
        placeholders = set(re.findall(r"\{(\w+)", en))
        assert placeholders == set(re.findall(r"\{(\w+)", fr)), key


def test_translator_formats_and_falls_back_to_the_id() -> None:
    t = translator("fr")
    assert t("app.number", id=7) == "Candidature 7"
    assert t("no.such.key") == "no.such.key"
