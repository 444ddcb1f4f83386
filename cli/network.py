"""``gnlc directory`` and ``gnlc stats``: the network in numbers, from the same queries as
the portal's /directory and /statistics (``workflow.directory_views``,
``workflow.statistics``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from cli.context import JsonOption, NowOption, clear_errors, cli_state, console
from cli.output import AsOption, resolve_actor, show, table
from workflow import statistics as stats
from workflow.db import transaction
from workflow.directory_views import DirectoryFilter, directory
from workflow.regions import REGIONS

app = typer.Typer()


@app.command("directory")
def directory_command(
    search: Annotated[str | None, typer.Option(help="Part of the city's name.")] = None,
    region: Annotated[str | None, typer.Option(help=f"One of {', '.join(REGIONS)}.")] = None,
    country: Annotated[str | None, typer.Option(help="Country code, e.g. LV.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The public directory: member cities by region and country, with their admission
    year and website (removed and withdrawn members are not listed)."""
    state = cli_state()
    if region and region not in REGIONS:
        console.print(f"[red]error:[/red] --region: say one of {', '.join(REGIONS)}.")
        raise typer.Exit(1)
    with clear_errors(), transaction(state.factory) as session:
        rows = directory(session, DirectoryFilter(search=search, region=region, country=country))
    show(
        [asdict(r) for r in rows],
        state.wants_json(as_json),
        lambda: table(
            f"Member cities ({len(rows)})",
            ["region", "country", "city", "admitted", "website"],
            [(r.region, r.country_code, r.city, r.admission_year, r.website) for r in rows],
        ),
    )


@app.command("stats")
def stats_command(
    who: AsOption = "institute",
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """The network in numbers: members by region over the years, applications per call
    by outcome, endorsements per country against the quota, reporting compliance."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        figures = stats.statistics(session, resolve_actor(session, who), state.now(now).date())
    show(figures.as_json(), state.wants_json(as_json), lambda: _print(figures))


def _print(figures: stats.Statistics) -> None:
    g = figures.growth
    shown = g.years[-6:]
    table(
        "Members at the end of each year, by region",
        ["region", *map(str, shown)],
        [(region, *counts[-len(shown) :]) for region, counts in g.by_region.items()],
    )
    table(
        "Applications per call, by outcome",
        ["call", *stats.OUTCOMES, "total"],
        [(c.call, *(c.counts[o] for o in stats.OUTCOMES), c.total) for c in figures.outcomes],
    )
    table(
        "Endorsements used per country (against the call's quota)",
        ["call", "country", "used", "quota"],
        [(c.call, code, n, c.quota) for c in figures.endorsements for code, n in c.used.items()],
    )
    table(
        "Reporting compliance per cycle (due date)",
        ["due", *stats.COMPLIANCE, "total"],
        [
            (c.due_on, *(getattr(c, p) for p in stats.COMPLIANCE), c.total)
            for c in figures.compliance
        ],
    )
