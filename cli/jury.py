"""``gnlc jury``: the expert jury of a call: jurors, assignments (by hand or spread
evenly), a juror's scores or their declining, the scores by juror, the ranking and its CSV.

Jurors are users of role ``juror`` with their own country (``gnlc user add --role juror
--country XX``, then ``gnlc user invite``); the rules are ``workflow.services.jury``'s.
"""

from __future__ import annotations

import csv
import sys
from datetime import date
from typing import Annotated

import typer

from cli.context import JsonOption, NowOption, clear_errors, cli_state, console, fail
from cli.output import AsOption, resolve_actor, show, table
from workflow.db import transaction
from workflow.services import jury

app = typer.Typer(
    help="The expert jury: assign jurors, score, decline, see the scores and the ranking.",
    no_args_is_help=True,
)
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV (for a spreadsheet).")]


def _csv(rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        key, sep, said = value.partition("=")
        if not sep or not key.strip():
            fail(f"{what} {value!r}: write criterion=value, for example vision=4.")
        found[key.strip()] = said.strip()
    return found


@app.command("jurors")
def jurors(who: AsOption = "institute", as_json: JsonOption = False) -> None:
    """The active jurors and their own country."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        found = jury.jurors(session, resolve_actor(session, who))
        rows = [{"email": u.email, "name": u.name, "country": u.country_code} for u in found]
    show(
        rows,
        state.wants_json(as_json),
        lambda: table("Jurors", ["email", "name", "country"], [list(r.values()) for r in rows]),
    )


@app.command("assign")
def assign(
    application_id: int,
    juror: Annotated[str, typer.Option("--juror", help="The juror's email address.")],
    who: AsOption = "institute",
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give one forwarded (or under-review) application to a juror of another country."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        record = jury.assign(
            session, state.settings, resolve_actor(session, who), application_id, juror,
            now=state.now(now),
        )  # fmt: skip
        shown = {"assignment_id": record.id, "application_id": application_id, "juror": juror}
    show(
        shown,
        state.wants_json(as_json),
        lambda: console.print(
            f"Assignment {shown['assignment_id']}: application {application_id} to {juror}."
        ),
    )


@app.command("spread")
def spread(
    call: str,
    per: Annotated[
        int | None,
        typer.Option("--per", help="Jurors per application ([jury] jurors_per_application)."),
    ] = None,
    who: AsOption = "institute",
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give every reviewable application of CALL its jurors, evenly, none of the city's
    own country; applications that have some keep them."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        done = jury.spread(
            session, state.settings, resolve_actor(session, who), call, now=state.now(now),
            per_application=per,
        )  # fmt: skip
        shown = {
            "created": [
                {"assignment_id": a.id, "application_id": a.application_id, "juror": a.juror.email}
                for a in done.created
            ],
            "short": {str(k): v for k, v in done.short.items()},
        }

    def say() -> None:
        console.print(f"{len(done.created)} new assignment(s) in call {call}.")
        for app_id, missing in done.short.items():
            console.print(
                f"Application {app_id} lacks {missing} juror(s): no other juror of "
                "another country is left."
            )

    show(shown, state.wants_json(as_json), say)


@app.command("mine")
def mine(who: AsOption, as_json: JsonOption = False) -> None:
    """A juror's assignments (``--as`` the juror's email)."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        found = jury.assignments_of(session, resolve_actor(session, who))
        rows = [
            {
                "assignment_id": a.id,
                "application_id": a.application_id,
                "city": a.application.city.name,
                "state": a.state,
                "review_deadline": a.application.call.review_deadline,
            }
            for a in found
        ]
    show(
        rows,
        state.wants_json(as_json),
        lambda: table(
            "Your assignments",
            ["assignment", "application", "city", "state", "review deadline"],
            [list(r.values()) for r in rows],
        ),
    )


@app.command("decline")
def decline(
    assignment_id: int,
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why (a conflict of interest).")],
    who: AsOption,
    now: NowOption = None,
) -> None:
    """The juror declines an assignment, saying why; the Institute assigns it again."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        jury.decline(
            session, state.settings, resolve_actor(session, who), assignment_id, reason=reason,
            now=state.now(now),
        )  # fmt: skip
    console.print(f"Assignment {assignment_id} declined.")


@app.command("score")
def score(
    assignment_id: int,
    scores: Annotated[
        list[str], typer.Option("--score", help="criterion=1..5, once per criterion.")
    ],
    recommend: Annotated[str, typer.Option("--recommend", help="admit or not_admit.")],
    who: AsOption,
    notes: Annotated[
        list[str] | None, typer.Option("--note", help="criterion=comment (optional).")
    ] = None,
    comment: Annotated[str, typer.Option("--comment", "-m", help="A general comment.")] = "",
    now: NowOption = None,
) -> None:
    """The juror's scores of every criterion ([jury] criteria) and recommendation; final."""
    state = cli_state()
    numbers: dict[str, int] = {}
    for key, value in _pairs(scores, "--score").items():
        if not value.isdigit():
            fail(f"--score {key}={value}: a score is a whole number from 1 to 5.")
        numbers[key] = int(value)
    with clear_errors(), transaction(state.factory) as session:
        jury.submit_scores(
            session, state.settings, resolve_actor(session, who), assignment_id,
            scores=numbers, comments=_pairs(notes or [], "--note"), recommendation=recommend,
            comment=comment, now=state.now(now),
        )  # fmt: skip
    console.print(f"Assignment {assignment_id}: scores submitted.")


@app.command("scores")
def scores_of(
    application_id: int,
    who: AsOption = "institute",
    as_csv: CsvOption = False,
    as_json: JsonOption = False,
) -> None:
    """An application's scores by juror (a juror sees the others' once theirs are in)."""
    state = cli_state()
    criteria = state.settings.jury.criteria
    with clear_errors(), transaction(state.factory) as session:
        found = jury.scores_of(session, resolve_actor(session, who), application_id)
    rows = jury.score_rows([found], criteria)
    if as_csv:
        _csv(rows)
        return
    show(
        {"mean": found.mean, "spread": found.spread, "jurors": rows},
        state.wants_json(as_json),
        lambda: table(
            f"Application {application_id} ({found.city}): mean "
            f"{'' if found.mean is None else f'{found.mean:.2f}'}, spread "
            f"{'' if found.spread is None else f'{found.spread:.2f}'}",
            ["juror", "state", *criteria, "mean", "recommendation"],
            [[r["juror"], r["state"], *(r[c] for c in criteria), r["mean"], r["recommendation"]]
             for r in rows],
        ),
    )  # fmt: skip


@app.command("ranking")
def ranking(
    call: str,
    who: AsOption = "institute",
    as_csv: CsvOption = False,
    by_juror: Annotated[
        bool, typer.Option("--by-juror", help="With --csv: one row per juror's scores.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The call's applications by the jury's mean score, best first."""
    state = cli_state()
    criteria = state.settings.jury.criteria
    with clear_errors(), transaction(state.factory) as session:
        ranked = jury.ranking(session, resolve_actor(session, who), call)
    ranks = jury.ranking_rows(ranked, criteria)
    rows = jury.score_rows(ranked, criteria) if by_juror else ranks
    if as_csv:
        _csv(rows)
        return
    show(
        rows,
        state.wants_json(as_json),
        lambda: table(
            f"Ranking of call {call}",
            ["rank", "application", "city", "country", "scored", "mean", "spread", "jury"],
            [[r["rank"], r["application_id"], r["city"], r["country"], r["jurors_scored"],
              r["mean"], r["spread"], r["recommendation"]] for r in ranks],
        ),
    )  # fmt: skip


@app.command("deadline")
def deadline(
    call: str,
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD, or none.")],
    who: AsOption = "institute",
    now: NowOption = None,
) -> None:
    """Set the day the jurors' scores of CALL are due."""
    state = cli_state()
    try:
        parsed = None if day == "none" else date.fromisoformat(day)
    except ValueError:
        fail(f"{day!r} is not a date: write YYYY-MM-DD, or none.")
    with clear_errors(), transaction(state.factory) as session:
        jury.set_review_deadline(
            session, resolve_actor(session, who), call, parsed, now=state.now(now)
        )
    console.print(f"Call {call}: review deadline {day}.")
