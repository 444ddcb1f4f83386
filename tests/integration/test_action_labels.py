"""Action labels come from the workflow tables only; pages and API show the same one.

The English label of ``action.<workflow>.<trigger>`` is the table's (``Workflow.label``),
every other language has its own words for that message id, and a page lists exactly the
labels the API gives for the same record and person.
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from tests.conftest import utc
from tests.e2e.clients import visitor
from tests.e2e.live import live_portal
from web.actions import DISPATCH, service_for
from web.i18n import LANGUAGES, translator
from workflow.machines import WORKFLOWS

IN_2027 = utc(2027, 3, 10, 9)
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_one_label_a_trigger_and_the_catalogue_says_the_tables_english(name: str) -> None:
    workflow = WORKFLOWS[name]
    english = translator("en")
    for trigger in workflow.triggers:
        labels = {s.label for s in workflow.steps if s.trigger == trigger}
        assert labels == {workflow.label(trigger)}, (name, trigger)
        assert english(f"action.{name}.{trigger}") == workflow.label(trigger), (name, trigger)
        for lang in sorted(set(LANGUAGES) - {"en"}):
            said = translator(lang)(f"action.{name}.{trigger}")
            assert said and said != f"action.{name}.{trigger}", (lang, name, trigger)


def test_every_offered_action_has_one_service_from_the_table() -> None:
    for name in ("application", "report"):
        offered = {s.trigger for s in WORKFLOWS[name].offered}
        assert {t for w, t in DISPATCH if w == name} == offered
        for trigger in offered:
            assert service_for(name, trigger) is DISPATCH[(name, trigger)]
    # the table's internal and start rows are no actions of a page or the API
    assert not any(w == "membership" for w, _ in DISPATCH)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_page_and_the_api_show_the_same_labels(db_url: str, tmp_path: Path) -> None:
    with live_portal(db_url, tmp_path, IN_2027) as live:
        city = visitor(live.url, "jelgava@example.org")
        try:
            created = city.api.post(
                "/api/v1/applications",
                json={"motivation": "Learning for all.", "signed_by": "The Mayor"},
            )
            assert created.status_code == 201, created.text
            app_id = created.json()["id"]
            detail = city.api.get(f"/api/v1/applications/{app_id}").json()
            labels = [a["label"] for a in detail["actions"]]
            assert {a["trigger"] for a in detail["actions"]} >= {"submit", "submit_direct"}
            table = WORKFLOWS["application"]
            assert labels == [table.label(a["trigger"]) for a in detail["actions"]]
            page = html.unescape(city.pages.get(f"/applications/{app_id}").text)
            for label in labels:
                assert label in page, label
        finally:
            city.close()
