"""``gnlc import``, ``gnlc country``, ``gnlc city``, ``gnlc user``: who is who."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import select

from cli.context import JsonOption, NowOption, clear_errors, cli_state, console, fail
from cli.output import AsOption, count, resolve_actor, show, table
from workflow import member_views
from workflow.db import transaction
from workflow.models import Country, User
from workflow.names import commission_name
from workflow.services import directory
from workflow.services import imports as import_service
from workflow.services import users as user_service

imports = typer.Typer(
    help="Import countries, cities and existing members from CSV files "
    "(all or nothing: one bad row imports nothing and names the line).",
    no_args_is_help=True,
)
countries = typer.Typer(help="Countries and their National Commissions.", no_args_is_help=True)
cities = typer.Typer(help="Cities.", no_args_is_help=True)
users = typer.Typer(help="People who sign in, with a role and a scope.", no_args_is_help=True)

#: What an import counts, singular and plural.
NOUNS = {
    "countries": ("country", "countries"),
    "cities": ("city", "cities"),
    "members": ("member", "members"),
}

FileArg = Annotated[Path, typer.Argument(help="CSV file with a header row (UTF-8).")]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file.")
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text; save the CSV as UTF-8 and try again.")


def _run_import(kind: str, path: Path, now: str | None, as_json: bool) -> None:
    state = cli_state()
    text = _read(path)
    rows = max(len(text.strip().splitlines()) - 1, 0)
    moment = state.now(now)
    with (
        clear_errors(),
        transaction(state.factory) as session,
        Progress(
            TextColumn(f"importing {kind}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
            disable=state.wants_json(as_json),
        ) as progress,
    ):
        task = progress.add_task(kind, total=rows)
        actor = resolve_actor(session, "admin")

        def advance(n: int) -> None:
            progress.advance(task, n)

        languages = state.settings.network.languages
        if kind == "countries":
            result = import_service.import_countries(
                session, actor, text, now=moment, progress=advance, languages=languages
            )
        elif kind == "cities":
            result = import_service.import_cities(
                session, actor, text, now=moment, progress=advance, languages=languages
            )
        else:
            result = import_service.import_members(
                session, state.settings, actor, text, now=moment, progress=advance
            )
    show(
        {"kind": kind, "rows": result.rows, "created": result.created},
        state.wants_json(as_json),
        lambda: console.print(
            f"Imported {count(result.rows, *NOUNS[kind])} ({result.created:,} new)."
        ),
    )


@imports.command("countries")
def import_countries(path: FileArg, now: NowOption = None, as_json: JsonOption = False) -> None:
    """Columns: code, name, commission_name, commission_email, language, timezone; optional
    commission_name_<lang> (the Commission's name per language, e.g. commission_name_fr)."""
    _run_import("countries", path, now, as_json)


@imports.command("cities")
def import_cities(path: FileArg, now: NowOption = None, as_json: JsonOption = False) -> None:
    """Columns: country, name, contact_email, contact_name, contact_phone, mayor_name,
    mayor_title, website, population, language; optional name_<lang> (the city's name per
    language, e.g. name_ru)."""
    _run_import("cities", path, now, as_json)


@imports.command("members")
def import_members(path: FileArg, now: NowOption = None, as_json: JsonOption = False) -> None:
    """The city columns plus `admitted` (a year, 2016, or a date, 2016-11-05). Reports are
    owed from the import day on."""
    _run_import("members", path, now, as_json)


@countries.command("list")
def list_countries(as_json: JsonOption = False) -> None:
    """Countries with their Commission's address, language and timezone."""
    state = cli_state()
    with transaction(state.factory) as session:
        rows = list(session.scalars(select(Country).order_by(Country.code)))
        data = [
            {
                "code": c.code,
                "name": c.name,
                "commission": commission_name(c, "en"),
                "commission_names": dict(c.commission_names),
                "email": c.commission_email,
                "language": c.language,
                "timezone": c.timezone,
            }
            for c in rows
        ]
        columns = ("code", "name", "commission", "email", "language", "timezone")
        show(
            data,
            state.wants_json(as_json),
            lambda: table(
                "Countries",
                ["code", "name", "Commission", "email", "language", "timezone"],
                [tuple(d[k] for k in columns) for d in data],
            ),
        )


@countries.command("add")
def add_country(
    code: str,
    name: str,
    email: Annotated[str, typer.Option(help="The National Commission's address.")],
    commission: Annotated[str, typer.Option(help="The Commission's name.")] = "",
    language: Annotated[
        str, typer.Option(help="One of [network] languages: en, fr, lv, ru.")
    ] = "en",
    timezone: Annotated[str, typer.Option(help="IANA zone, e.g. Europe/Riga.")] = "UTC",
    now: NowOption = None,
) -> None:
    """Add or update a country and its National Commission."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        country = directory.upsert_country(
            session,
            resolve_actor(session, "admin"),
            code=code,
            name=name,
            commission_name=commission,
            commission_email=email,
            language=language,
            timezone=timezone,
            now=state.now(now),
            languages=state.settings.network.languages,
        )
        console.print(f"{country.code} {country.name}: {country.commission_email}")


@cities.command("list")
def list_cities(
    country: Annotated[str | None, typer.Option()] = None,
    who: AsOption = "admin",
    as_json: JsonOption = False,
) -> None:
    """Cities the actor may see, optionally of one country, by country and name."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        rows = member_views.list_cities(session, resolve_actor(session, who), country=country)
        data = [
            {
                "id": c.id,
                "country": c.country_code,
                "name": c.name,
                "names": dict(c.names),
                "contact_email": c.contact_email,
                "language": c.language,
            }
            for c in rows
        ]
        columns = ("id", "country", "name", "contact_email", "language")
        show(
            data,
            state.wants_json(as_json),
            lambda: table(
                "Cities",
                ["id", "country", "name", "contact", "language"],
                [tuple(d[k] for k in columns) for d in data],
            ),
        )


@users.command("add")
def add_user(
    email: str,
    role: Annotated[str, typer.Option(help="city, commission, institute, admin or juror.")],
    name: Annotated[str, typer.Option()] = "",
    country: Annotated[
        str | None, typer.Option(help="A Commission's country; a juror's own country.")
    ] = None,
    city: Annotated[
        str | None, typer.Option(help="A city user's city: name, CC/Name or id.")
    ] = None,
    language: Annotated[str, typer.Option()] = "en",
    who: AsOption = "admin",
    now: NowOption = None,
) -> None:
    """Create a user (the portal's invitation sets the password)."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        city_id = directory.find_city(session, city).id if city else None
        user = user_service.create_user(
            session,
            resolve_actor(session, who),
            email=email,
            name=name,
            role=role,
            country_code=country,
            city_id=city_id,
            language=language,
            now=state.now(now),
        )
        console.print(f"User {user.email} ({user.role}) created.")


@users.command("set")
def set_user(
    email: str,
    role: Annotated[str | None, typer.Option(help="city, commission, institute or admin.")] = None,
    country: Annotated[str | None, typer.Option(help="A Commission's country.")] = None,
    city: Annotated[
        str | None, typer.Option(help="A city user's city: name, CC/Name or id.")
    ] = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="Allow or stop this account's sign-ins."),
    ] = None,
    who: AsOption = "admin",
    now: NowOption = None,
) -> None:
    """Change a user's role, scope or whether they may sign in; ends their sessions."""
    state = cli_state()
    with clear_errors(), transaction(state.factory) as session:
        city_id = directory.find_city(session, city).id if city else None
        user = user_service.change_user(
            session,
            resolve_actor(session, who),
            email,
            role=role,
            country_code=country,
            city_id=city_id,
            active=active,
            now=state.now(now),
        )
        scope = user.country_code or ""
        console.print(
            f"User {user.email}: {user.role}{' (' + scope + ')' if scope else ''}, "
            f"{'active' if user.active else 'inactive'}; they sign in again."
        )


@users.command("list")
def list_users(as_json: JsonOption = False) -> None:
    """Every user with role and scope."""
    state = cli_state()
    with transaction(state.factory) as session:
        rows = list(session.scalars(select(User).order_by(User.email)))
        data = [
            {
                "email": u.email,
                "name": u.name,
                "role": u.role,
                "country": u.country_code,
                "city_id": u.city_id,
                "active": u.active,
            }
            for u in rows
        ]
        show(
            data,
            state.wants_json(as_json),
            lambda: table(
                "Users",
                ["email", "name", "role", "country", "city", "active"],
                [tuple(d.values()) for d in data],
            ),
        )
