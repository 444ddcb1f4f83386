"""docs/domain.md says what the code does: its workflow tables are the machines' tables.

Each workflow's two tables in docs/domain.md (its states, and its steps: trigger, from,
to, who, comment required, effects, label) follow a marker comment
``<!-- machine: <workflow> states -->`` or ``<!-- machine: <workflow> steps -->``. They
must equal ``workflow.machines`` row for row, in table order. When a step changes, the
failure prints the table to paste. The document also names every mail occasion that has
templates, and nothing in the repository cites a brief outside it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflow.machines import WORKFLOWS, Workflow

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "domain.md"
TEMPLATES = ROOT / "notifications" / "templates"

Row = tuple[str, ...]
NEW = "(new)"


def state_rows(workflow: Workflow) -> list[Row]:
    return [(s.value,) for s in workflow.states]


def step_rows(workflow: Workflow) -> list[Row]:
    """trigger, from ("(new)": the row creates the record), to, who ("(internal)": only as
    another step's effect), comment required, effects, label."""
    return [
        (
            s.trigger,
            ", ".join(src.value for src in s.sources) or NEW,
            s.dest.value,
            ", ".join(sorted(r.value for r in s.roles)) + (" (internal)" if s.internal else ""),
            "yes" if s.needs_comment else "",
            ", ".join(s.effects),
            s.label,
        )
        for s in workflow.steps
    ]


def markdown(workflow: Workflow) -> str:
    """Both tables of ``workflow`` as docs/domain.md holds them (meanings left blank)."""
    code = "`{}`".format
    lines = [
        f"<!-- machine: {workflow.name} states -->",
        "| state | meaning |",
        "|---|---|",
        *(f"| {code(state)} | |" for (state,) in state_rows(workflow)),
        "",
        f"<!-- machine: {workflow.name} steps -->",
        "| trigger | from | to | who | comment required | effects | label |",
        "|---|---|---|---|---|---|---|",
    ]
    for trigger, sources, dest, roles, comment, effects, label in step_rows(workflow):
        froms = sources if sources == NEW else ", ".join(map(code, sources.split(", ")))
        runs = ", ".join(map(code, effects.split(", "))) if effects else ""
        lines.append(
            f"| {code(trigger)} | {froms} | {code(dest)} | {roles} | {comment} | {runs} | {label} |"
        )
    return "\n".join(lines)


def table_after(text: str, marker: str) -> list[list[str]]:
    """The cells of the markdown table that follows ``marker``, header and rule dropped."""
    start = text.find(marker)
    assert start >= 0, f"docs/domain.md has no {marker!r}"
    rows: list[list[str]] = []
    for line in text[start + len(marker) :].lstrip("\n").splitlines():
        if not line.startswith("|"):
            break
        rows.append([cell.strip().replace("`", "") for cell in line.strip().strip("|").split("|")])
    assert len(rows) >= 2, f"no table after {marker!r}"
    return rows[2:]


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_states_table_is_the_machine(doc: str, name: str) -> None:
    workflow = WORKFLOWS[name]
    found = [(row[0],) for row in table_after(doc, f"<!-- machine: {name} states -->")]
    assert found == state_rows(workflow), f"docs/domain.md should hold:\n{markdown(workflow)}"


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_steps_table_is_the_machine(doc: str, name: str) -> None:
    workflow = WORKFLOWS[name]
    found = [tuple(row) for row in table_after(doc, f"<!-- machine: {name} steps -->")]
    assert found == step_rows(workflow), f"docs/domain.md should hold:\n{markdown(workflow)}"


def test_every_workflow_has_its_tables(doc: str) -> None:
    named = set(re.findall(r"<!-- machine: (\w+) (?:states|steps) -->", doc))
    assert named == set(WORKFLOWS)


def test_every_mail_occasion_is_documented(doc: str) -> None:
    occasions = sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir() and p.name[0] != "_")
    assert "report_due_today" in occasions
    missing = [o for o in occasions if f"`{o}`" not in doc]
    assert not missing, f"docs/domain.md does not describe: {', '.join(missing)}"


def test_nothing_cites_a_brief_outside_the_repository() -> None:
    """Tests, code and docs cite docs/domain.md, not a DOMAIN.md the checkout lacks."""
    folders = ("workflow", "notifications", "web", "cli", "config", "tests", "docs", "bench")
    files = [ROOT / "README.md", ROOT / "run_scheduler.py"]
    for folder in folders:
        files.extend(p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md", ".txt"})
    citing = [
        str(p.relative_to(ROOT))
        for p in files
        if p.is_file() and p != Path(__file__).resolve() and "DOMAIN.md" in p.read_text("utf-8")
    ]
    assert not citing, f"cite docs/domain.md instead: {', '.join(citing)}"
