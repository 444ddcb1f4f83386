"""``gnlc member`` and ``gnlc report``: memberships, due dates and progress reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from sqlalchemy import select

from cli.context import JsonOption, NowOption, clear_errors, cli_state, console
from cli.output import (
    AsOption,
    event_dict,
    history_table,
    membership_dict,
    report_dict,
    resolve_actor,
    show,
    table,
)
from cli.registry import summary
from workflow import member_views
from workflow.calendar import local_date
from workflow.db import transaction
from workflow.errors import NotFound
from workflow.machines import REPORT
from workflow.models import Membership
from workflow.services import directory, memberships
from workflow.services import reports as report_service

members = typer.Typer(help=summary("member"), no_args_is_help=True)
reports = typer.Typer(help=summary("report"), no_args_is_help=True)
CommentOption = Annotated[str, typer.Option("--comment", "-m", help="Why.")]
VersionOption = Annotated[int | None, typer.Option("--version")]


@members.command("list")
def list_(
    who: AsOption = "admin",
    state_filter: Annotated[str | None, typer.Option("--state")] = None,
    country: Annotated[str | None, typer.Option(help="Country code, e.g. LV.")] = None,
    search: Annotated[str | None, typer.Option(help="Part of the city's name.")] = None,
    year: Annotated[int | None, typer.Option(help="The admission year.")] = None,
    sort: Annotated[
        str | None,
        typer.Option(help=f"{', '.join(member_views.MEMBER_SORTS)}; -KEY for descending."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 1000,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Members with their reporting status: inactive, then overdue, then active, by city."""
    state = cli_state()
    where = member_views.MemberFilter(
        state=state_filter, country=country, search=search, year=year, sort=sort
    )
    with clear_errors(), transaction(state.factory) as session:
        rows = member_views.member_lines(
            session,
            state.settings,
            resolve_actor(session, who),
            state.now(now),
            where,
            limit=limit,
            offset=offset,
        )
        show(
            [
                {
                    "id": m.id,
                    "city": m.city,
                    "country": m.country_code,
                    "admitted_on": m.admitted_on,
                    "state": m.state,
                    "version": m.version,
                }
                for m in rows
            ],
            state.wants_json(as_json),
            lambda: table(
                "Members",
                ["id", "city", "country", "admitted", "state"],
                [(m.id, m.city, m.country_code, m.admitted_on, m.state) for m in rows],
            ),
        )


def _not_created(due: date, today: date, lead_days: int) -> str:
    if (due - today).days > lead_days:
        return "opens later"
    return "due; the sweep creates it"


@members.command("show")
def show_member(
    city: Annotated[str, typer.Argument(help="Name, CC/Name or city id.")],
    who: AsOption = "admin",
    count: Annotated[int, typer.Option(help="How many due dates.")] = 5,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """A member's due dates by the rule, its report obligations and its history."""
    state = cli_state()
    moment = state.now(now)
    with clear_errors(), transaction(state.factory) as session:
        actor = resolve_actor(session, who)
        found = directory.find_city(session, city)
        membership = session.scalars(
            select(Membership).where(Membership.city_id == found.id)
        ).first()
        if membership is None:
            raise NotFound("membership of", found.name)
        rows = report_service.reports_of(session, actor, membership.id)
        events = memberships.membership_history(session, actor, membership.id)
        dues = memberships.due_dates(state.settings, membership, count)
        today = local_date(moment, found.country.timezone)
        data = {
            **membership_dict(membership),
            "due_dates": dues,
            "reports": [report_dict(r) for r in rows],
            "history": [event_dict(e) for e in events],
        }

        def render() -> None:
            console.print(
                f"{found.name} ({found.country_code}): member since "
                f"{membership.admitted_on}, [bold]{membership.state}[/bold]"
            )
            table(
                "Due dates",
                ["due", "report", "state", "late"],
                [
                    (
                        d,
                        *next(
                            (
                                (r.id, r.state, "yes" if r.late else "")
                                for r in rows
                                if r.due_on == d
                            ),
                            (
                                "",
                                _not_created(d, today, state.settings.reports.open_days_before),
                                "",
                            ),
                        ),
                    )
                    for d in dues
                ],
            )
            history_table(events)

        show(data, state.wants_json(as_json), render)


def _membership_change(trigger: str, doc: str) -> None:
    def command(
        city: str,
        who: AsOption,
        comment: CommentOption = "",
        version: VersionOption = None,
        now: NowOption = None,
    ) -> None:
        state = cli_state()
        with clear_errors(), transaction(state.factory) as session:
            found = directory.find_city(session, city)
            membership = session.scalars(
                select(Membership).where(Membership.city_id == found.id)
            ).first()
            if membership is None:
                raise NotFound("membership of", found.name)
            m = memberships.change_membership(
                session,
                state.settings,
                resolve_actor(session, who),
                membership.id,
                trigger,
                now=state.now(now),
                comment=comment,
                version=version,
            )
            console.print(f"{found.name}: membership {m.state}.")

    command.__doc__ = doc
    members.command(trigger)(command)


_membership_change(
    "remove", "Remove a member from the network (the Institute or an admin; --comment required)."
)
_membership_change(
    "reinstate", "Reinstate a removed member (the Institute or an admin; --comment required)."
)
_membership_change(
    "withdraw",
    "Leave the network: the city itself, or the Institute or an admin on the city's written "
    "request (then --comment, naming the request, is required).",
)


@reports.command("list")
def list_reports(
    who: AsOption = "admin",
    state_filter: Annotated[str | None, typer.Option("--state")] = None,
    country: Annotated[str | None, typer.Option(help="Country code, e.g. LV.")] = None,
    search: Annotated[str | None, typer.Option(help="Part of the city's name.")] = None,
    year: Annotated[int | None, typer.Option(help="The year of the due date.")] = None,
    sort: Annotated[
        str | None,
        typer.Option(help=f"{', '.join(member_views.REPORT_SORTS)}; -KEY for descending."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Report obligations the actor may see, by due date."""
    state = cli_state()
    where = member_views.ReportFilter(
        state=state_filter, country=country, search=search, year=year, sort=sort
    )
    with clear_errors(), transaction(state.factory) as session:
        rows = member_views.list_reports(session, resolve_actor(session, who), where)
        show(
            [report_dict(r) for r in rows],
            state.wants_json(as_json),
            lambda: table(
                "Reports",
                ["id", "city", "due", "state", "late", "submitted"],
                [
                    (
                        r.id,
                        r.membership.city.name,
                        r.due_on,
                        r.state,
                        "yes" if r.late else "",
                        r.submitted_at,
                    )
                    for r in rows
                ],
            ),
        )


@reports.command("show")
def show_report(report_id: int, who: AsOption = "admin", as_json: JsonOption = False) -> None:
    """One report with the actions allowed now."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        actor = resolve_actor(session, who)
        r = report_service.get_report(session, actor, report_id)
        allowed = [s.trigger for s in REPORT.allowed(r.state, actor.role)]
        show(
            {**report_dict(r), "summary": r.summary, "allowed_actions": allowed},
            state.wants_json(as_json),
            lambda: console.print(
                f"Report {r.id} of {r.membership.city.name}, due {r.due_on}: "
                f"[bold]{r.state}[/bold]{' (late)' if r.late else ''}. "
                f"Allowed: {', '.join(allowed) or 'none'}\n{r.summary}"
            ),
        )


@reports.command("submit")
def submit_report(
    report_id: int,
    who: AsOption,
    summary: Annotated[str, typer.Option(help="The report's content.")],
    version: VersionOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Submit a progress report (after the due date it is recorded as late)."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        r = report_service.submit_report(
            session,
            state.settings,
            resolve_actor(session, who),
            report_id,
            now=state.now(now),
            summary=summary,
            version=version,
        )
        show(
            report_dict(r),
            state.wants_json(as_json),
            lambda: console.print(f"Report {r.id} submitted{' late' if r.late else ' on time'}."),
        )


def _review(trigger: str, name: str, doc: str) -> None:
    def command(
        report_id: int,
        who: AsOption,
        comment: CommentOption = "",
        version: VersionOption = None,
        now: NowOption = None,
    ) -> None:
        state = cli_state()
        with clear_errors(), transaction(state.factory) as session:
            r = report_service.review_report(
                session,
                state.settings,
                resolve_actor(session, who),
                report_id,
                trigger,
                now=state.now(now),
                comment=comment,
                version=version,
            )
            console.print(f"Report {r.id}: {r.state}.")

    command.__doc__ = doc
    reports.command(name)(command)


_review("accept", "accept", "Accept a submitted report (the Institute).")
_review("return_for_revision", "return", "Return a report for revision (the Institute).")
