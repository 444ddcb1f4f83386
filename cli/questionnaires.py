"""``gnlc questionnaire``: progress reports answered as questionnaires: the questionnaire,
a report's answers, the draft, supporting files, submission, the Institute's review with
comments per section, the submitted versions, and per cycle the CSV and compliance."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.context import JsonOption, NowOption, clear_errors, cli_state, console
from cli.output import AsOption, resolve_actor, show, table
from config.paths import uploads_folder
from workflow import questionnaires as qn
from workflow.db import transaction
from workflow.errors import InvalidInput, NotFound
from workflow.models import Report
from workflow.services import questionnaire_reports as qr
from workflow.services import reports as report_service

app = typer.Typer(
    help="Questionnaire reports: show, answers, answer, attach, submit, review, versions, "
    "cycles, cycle-csv.",
    no_args_is_help=True,
)
PairsOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="QUESTION=ANSWER (repeat); an empty answer removes it."),
]


def _pairs(given: list[str] | None, what: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in given or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"Give each {what} as KEY=TEXT, not {item!r}.", "not_valid")
        found[key.strip()] = value
    return found


def _answers_dict(session: Any, report: Report) -> dict[str, Any]:
    questionnaire = qr.questionnaire_of(report)
    if questionnaire is None:
        raise qr.NoQuestionnaire(report.id)
    return {
        "id": report.id,
        "state": report.state,
        "questionnaire": questionnaire.version,
        "answers": dict(report.answers or {}),
        "files": [
            {"id": f.id, "question": f.question, "filename": f.filename, "size": f.size}
            for f in qr.files_of(session, report.id)
        ],
        "problems": [
            {"section": p.section.key, "question": p.question.key, "why": p.why}
            for p in qn.problems(questionnaire, qr._answers_with_files(session, report))
        ],
        "comments": qr.returned_comments(session, report),
    }


def _print_answers(data: dict[str, Any]) -> None:
    console.print(f"Report {data['id']} ({data['state']}), questionnaire {data['questionnaire']}")
    questionnaire = qn.version(data["questionnaire"])
    assert questionnaire is not None
    for section in questionnaire.sections:
        console.print(f"\n[bold]{section.title('en')}[/bold]")
        if section.key in data["comments"]:
            console.print(f"  Institute: {data['comments'][section.key]}")
        for q in section.questions:
            value = data["answers"].get(q.key, "")
            console.print(f"  {q.key}: {value}")
    for p in data["problems"]:
        console.print(f"still to do: {p['question']} ({p['why']})")


@app.command("show")
def show_questionnaire(
    version: Annotated[str | None, typer.Option("--version", help="e.g. 2026")] = None,
    due: Annotated[str | None, typer.Option(help="The cycle's due date, YYYY-MM-DD.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A questionnaire version (or the one of a cycle): sections and questions."""
    state = cli_state()
    with clear_errors():
        found = (
            qn.version(version)
            if version
            else qn.for_cycle(date.fromisoformat(due) if due else date.today())
        )
        if found is None:
            raise NotFound("questionnaire", version or due or "")
        data = {
            "version": found.version,
            "applies_from": found.applies_from.isoformat(),
            "sections": [
                {
                    "key": s.key,
                    "title": s.titles,
                    "questions": [
                        {
                            "key": q.key,
                            "kind": q.kind,
                            "required": q.required,
                            "words": q.words,
                            "title": q.titles,
                            "options": [o.key for o in q.options],
                        }
                        for q in s.questions
                    ],
                }
                for s in found.sections
            ],
        }
        show(
            data,
            state.wants_json(as_json),
            lambda: table(
                f"Questionnaire {found.version}",
                ["section", "question", "kind", "required", "title"],
                [
                    [s.key, q.key, q.kind, "yes" if q.required else "", q.title("en")]
                    for s, q in found.questions
                ],
            ),
        )


@app.command("answers")
def answers(report_id: int, who: AsOption = "admin", as_json: JsonOption = False) -> None:
    """A report's answers, what still keeps it from submission, the returned comments."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        report = report_service.get_report(session, resolve_actor(session, who), report_id)
        data = _answers_dict(session, report)
        show(data, state.wants_json(as_json), lambda: _print_answers(data))


@app.command("answer")
def answer(
    report_id: int,
    who: AsOption,
    given: PairsOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Save answers in the draft (never refused for a limit; said at submission)."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        report = qr.save_draft(
            session,
            resolve_actor(session, who),
            report_id,
            _pairs(given, "answer"),
            now=state.now(now),
        )
        data = _answers_dict(session, report)
        show(data, state.wants_json(as_json), lambda: _print_answers(data))


@app.command("attach")
def attach(
    report_id: int,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    who: AsOption,
    question: Annotated[str, typer.Option(help="The file question's key.")] = "evidence",
    now: NowOption = None,
) -> None:
    """Attach a supporting document (PDF, image or office document)."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        limit = state.settings.web.upload_max_bytes
        with path.open("rb") as source:
            data = source.read(limit + 1)
        record = qr.store_file(
            session,
            state.settings,
            resolve_actor(session, who),
            report_id,
            question=question,
            filename=path.name,
            data=data,
            folder=uploads_folder(state.settings),
            now=state.now(now),
        )
        console.print(f"Attached {record.filename} ({record.content_type}) as file {record.id}.")


@app.command("submit")
def submit(report_id: int, who: AsOption, now: NowOption = None) -> None:
    """Submit the questionnaire; refused with each question still missing named."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        r = qr.submit_answers(
            session, state.settings, resolve_actor(session, who), report_id, now=state.now(now)
        )
        console.print(f"Report {r.id} submitted{' late' if r.late else ' on time'}.")


@app.command("review")
def review(
    report_id: int,
    decision: Annotated[str, typer.Argument(help="accept or return")],
    who: AsOption,
    section: Annotated[
        list[str] | None, typer.Option("--section", help="SECTION=COMMENT (repeat).")
    ] = None,
    comment: Annotated[str, typer.Option("--comment", "-m", help="An overall comment.")] = "",
    now: NowOption = None,
) -> None:
    """The Institute accepts or returns the report, with comments per section."""
    state = cli_state()
    trigger = {"accept": "accept", "return": "return_for_revision"}.get(decision, decision)
    with clear_errors(), transaction(state.factory) as session:
        r = qr.review_answers(
            session,
            state.settings,
            resolve_actor(session, who),
            report_id,
            trigger,
            now=state.now(now),
            comments=_pairs(section, "section comment"),
            comment=comment,
        )
        console.print(f"Report {r.id}: {r.state}.")


@app.command("versions")
def versions(report_id: int, who: AsOption = "admin", as_json: JsonOption = False) -> None:
    """Every submitted version with the Institute's comments and outcome."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        report_service.get_report(session, resolve_actor(session, who), report_id)
        rows: list[dict[str, Any]] = [
            {
                "number": v.number,
                "questionnaire": v.questionnaire,
                "submitted_at": v.submitted_at.isoformat(),
                "late": v.late,
                "outcome": v.outcome,
                "comments": v.comments,
                "answers": v.answers,
                "files": v.files,
            }
            for v in qr.versions_of(session, report_id)
        ]
        show(
            rows,
            state.wants_json(as_json),
            lambda: table(
                f"Versions of report {report_id}",
                ["version", "submitted", "outcome", "comments"],
                [
                    [
                        r["number"],
                        r["submitted_at"],
                        r["outcome"] or "pending",
                        "; ".join(f"{k}: {c}" for k, c in r["comments"].items()),
                    ]
                    for r in rows
                ],
            ),
        )


@app.command("cycles")
def cycles(who: AsOption = "admin", now: NowOption = None, as_json: JsonOption = False) -> None:
    """Reporting compliance per cycle: on time, late, missing, not yet due."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        found = qr.cycle_compliance(session, resolve_actor(session, who), state.now(now).date())
        rows = [
            {
                "due_on": c.due_on.isoformat(),
                "on_time": c.on_time,
                "late": c.late,
                "missing": c.missing,
                "not_due": c.not_due,
            }
            for c in found
        ]
        show(
            rows,
            state.wants_json(as_json),
            lambda: table(
                "Reporting compliance per cycle",
                ["due", "on time", "late", "missing", "not due"],
                [[r["due_on"], r["on_time"], r["late"], r["missing"], r["not_due"]] for r in rows],
            ),
        )


@app.command("cycle-csv")
def cycle_csv(
    due: Annotated[str, typer.Argument(help="The cycle's due date, YYYY-MM-DD.")],
    who: AsOption = "admin",
    lang: Annotated[str, typer.Option(help="The language of choices: en, fr, lv, ru.")] = "en",
) -> None:
    """The CSV of a whole cycle: one row per report, one column per question."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        try:
            day = date.fromisoformat(due)
        except ValueError as exc:
            raise InvalidInput(f"{due!r} is not a date (YYYY-MM-DD).", "not_date") from exc
        typer.echo(qr.cycle_csv(session, resolve_actor(session, who), day, lang=lang), nl=False)
