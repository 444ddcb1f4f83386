"""The public directory of the network: its member cities by UNESCO region and country,
with their admission year and website, for anyone (no sign-in), in pages, the API and
the CLI alike.

Who is listed: every member, whatever its reporting standing. A member that is overdue
or inactive with its reports is still a member of the network (it has not been removed):
it is listed. Removed and withdrawn members are not. Nothing private is read: no
address, no person's name, no state.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from workflow.models import City, Country, Membership
from workflow.regions import REGIONS
from workflow.states import MembershipState as M
from workflow.visibility import name_matches

#: The memberships the directory lists: members of the network, in good standing or not.
LISTED = (M.ACTIVE.value, M.OVERDUE.value, M.INACTIVE.value)


@dataclass(frozen=True)
class DirectoryFilter:
    """What narrows the directory: ``search`` part of the city's name, ``region`` a key of
    ``workflow.regions.REGIONS``, ``country`` an ISO code."""

    search: str | None = None
    region: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class DirectoryEntry:
    """One member city as the public sees it."""

    city: str
    country_code: str
    #: The country's name as the directory records it (pages say it in their language).
    country: str
    #: A key of ``workflow.regions.REGIONS``, or "" for a country with no region yet.
    region: str
    admission_year: int
    website: str


def _region_rank(region: str) -> int:
    return REGIONS.index(region) if region in REGIONS else len(REGIONS)


def _where(where: DirectoryFilter) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = Membership.state.in_(LISTED)
    if where.search and where.search.strip():
        clause = clause & name_matches(where.search)
    if where.region:
        clause = clause & (Country.region == where.region)
    if where.country:
        clause = clause & (Country.code == where.country.strip().upper())
    return clause


def directory(session: Session, where: DirectoryFilter | None = None) -> list[DirectoryEntry]:
    """The member cities, by region (UNESCO's order), country code and city name."""
    rows = session.execute(
        select(
            City.name,
            Country.code,
            Country.name,
            Country.region,
            Membership.admission_year,
            City.website,
        )
        .select_from(Membership)
        .join(City, City.id == Membership.city_id)
        .join(Country, Country.code == City.country_code)
        .where(_where(where or DirectoryFilter()))
    ).all()
    entries = [DirectoryEntry(*row) for row in rows]
    entries.sort(key=lambda e: (_region_rank(e.region), e.country_code, e.city.casefold()))
    return entries


@dataclass(frozen=True)
class DirectoryChoices:
    """What the directory's filters offer: the regions and countries that have members."""

    regions: tuple[str, ...]
    countries: tuple[str, ...]


def directory_choices(session: Session) -> DirectoryChoices:
    rows = session.execute(
        select(Country.region, Country.code)
        .distinct()
        .select_from(Membership)
        .join(City, City.id == Membership.city_id)
        .join(Country, Country.code == City.country_code)
        .where(Membership.state.in_(LISTED))
    ).all()
    regions = {region for region, _ in rows if region}
    return DirectoryChoices(
        regions=tuple(r for r in REGIONS if r in regions),
        countries=tuple(sorted({code for _, code in rows})),
    )
