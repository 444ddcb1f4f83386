"""What a page draws once and keeps (web.templating): a list's rows per template, language
and line; a workflow's diagram box per workflow, state and language. What each shows
follows its inputs and the page's language, never a fragment made before."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from web.templating import environment, table_rows
from workflow.machines import WORKFLOWS
from workflow.states import Role
from workflow.views import QueueLine

ENV = environment()


def line(state: str = "submitted", **changes: object) -> QueueLine:
    actions = tuple(WORKFLOWS["application"].allowed(state, Role.COMMISSION))
    base = QueueLine(
        id=7, city="Rīga <b>", country_code="LV", call="2027 call", state=state,
        route="commission", deadline=date(2027, 3, 31), quota=3, quota_left=2,
        actions=actions,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def rows(lang: str, *lines: QueueLine) -> str:
    return str(table_rows(ENV, lang, "applications/_row.html", lines))


def test_a_row_follows_its_line() -> None:
    first = rows("en", line())
    assert "Rīga &lt;b&gt;" in first and "<b>" not in first  # escaped, as any value
    assert "2 / 3" in first and 'href="/applications/7"' in first
    again = rows("en", line())
    assert again == first
    fewer = rows("en", line(quota_left=1))
    assert "1 / 3" in fewer and "2 / 3" not in fewer
    other = rows("en", line(state="endorsed"))
    assert "state-endorsed" in other and "state-submitted" not in other


def test_a_row_is_in_the_pages_language() -> None:
    english, french = rows("en", line()), rows("fr", line())
    assert english != french
    assert 'data-label="City"' in english
    assert 'data-label="Ville"' in french
    assert "31 mars 2027" in french


def test_rows_keep_their_order() -> None:
    drawn = rows("en", line(id=3), line(id=1), line(id=2))
    assert [drawn.index(f'href="/applications/{n}"') for n in (3, 1, 2)] == sorted(
        drawn.index(f'href="/applications/{n}"') for n in (3, 1, 2)
    )


def test_a_diagram_box_marks_its_state_in_its_language() -> None:
    from web.templating import diagram_box

    submitted = str(diagram_box(ENV, "en", "application", "submitted"))
    endorsed = str(diagram_box(ENV, "en", "application", "endorsed"))
    assert submitted != endorsed
    assert submitted.count('class="here"') >= 1
    assert "<svg" in submitted and "<details" in submitted and " open" not in submitted
    assert " open>" in str(diagram_box(ENV, "en", "application", None, True))
    french = str(diagram_box(ENV, "fr", "application", "submitted"))
    assert french != submitted and french.count('class="here"') == submitted.count('class="here"')
