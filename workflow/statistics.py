"""The network in numbers, for the Institute and administrators: one module answers the
statistics page, the API (``GET /api/v1/statistics``) and the CLI (``gnlc stats``).

- ``growth``: members at the end of each year, by UNESCO region and by country. A member
  counts from its admission year; a removed or withdrawn member stops counting in the
  year it left (its ``state_since``). A reinstated member counts from its admission year
  on, as if it had never left.
- ``outcomes``: the applications of each call by outcome (admitted, not admitted,
  declined, withdrawn, expired, or still in progress); an admit or not-admit decision
  counts once announced, in progress until then.
- ``endorsements``: per call, the endorsements each country used against the quota
  (counted as the quota is: endorsed applications still forwarded, under review or
  decided).
- ``compliance``: per report cycle (a due date), the reports submitted on time, late, the
  missing ones (past due, not submitted) and those not due yet.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.actors import Actor, require_role
from workflow.models import Application, Call, City, Country, Membership, Report
from workflow.regions import REGIONS
from workflow.services.applications import ENDORSED
from workflow.states import ApplicationState as A
from workflow.states import MembershipState as M
from workflow.states import Role
from workflow.visibility import UNANNOUNCED_DECISIONS

#: The outcomes of an application, in the order the page shows them.
OUTCOMES = ("admitted", "not_admitted", "declined", "withdrawn", "expired", "in_progress")
_OUTCOME_OF = {
    A.ADMITTED.value: "admitted",
    A.NOT_ADMITTED.value: "not_admitted",
    A.DECLINED.value: "declined",
    A.WITHDRAWN.value: "withdrawn",
    A.EXPIRED.value: "expired",
}
#: How the reports of a cycle stand.
COMPLIANCE = ("on_time", "late", "missing", "not_due")
#: A region key for countries that have none yet.
NO_REGION = "none"
_LEFT = (M.REMOVED.value, M.WITHDRAWN.value)


@dataclass(frozen=True)
class Growth:
    """Members at the end of each of ``years``, by region and by country (lists aligned
    with ``years``); ``region_of`` gives each country's region."""

    years: list[int]
    by_region: dict[str, list[int]]
    by_country: dict[str, list[int]]
    region_of: dict[str, str]


@dataclass(frozen=True)
class CallOutcomes:
    call: str
    opens_on: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class CallEndorsements:
    call: str
    opens_on: date
    quota: int
    #: Endorsements used, by country code (countries that used at least one).
    used: dict[str, int]


@dataclass(frozen=True)
class CycleCompliance:
    due_on: date
    on_time: int = 0
    late: int = 0
    missing: int = 0
    not_due: int = 0

    @property
    def total(self) -> int:
        return self.on_time + self.late + self.missing + self.not_due


@dataclass(frozen=True)
class Statistics:
    today: date
    growth: Growth
    outcomes: list[CallOutcomes] = field(default_factory=list)
    endorsements: list[CallEndorsements] = field(default_factory=list)
    compliance: list[CycleCompliance] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values: dates as ISO strings, totals included."""
        data = asdict(self)
        data["today"] = self.today.isoformat()
        for item, call in zip(data["outcomes"], self.outcomes, strict=True):
            item["opens_on"] = call.opens_on.isoformat()
            item["total"] = call.total
        for item, quota in zip(data["endorsements"], self.endorsements, strict=True):
            item["opens_on"] = quota.opens_on.isoformat()
        for item, cycle in zip(data["compliance"], self.compliance, strict=True):
            item["due_on"] = cycle.due_on.isoformat()
            item["total"] = cycle.total
        return data


def growth(session: Session, today: date) -> Growth:
    rows = session.execute(
        select(
            Country.code,
            Country.region,
            Membership.admission_year,
            Membership.state,
            Membership.state_since,
        )
        .select_from(Membership)
        .join(City, City.id == Membership.city_id)
        .join(Country, Country.code == City.country_code)
    ).all()
    if not rows:
        return Growth([], {}, {}, {})
    first = min(min(r.admission_year for r in rows), today.year)
    years = list(range(first, today.year + 1))
    by_region: dict[str, list[int]] = {}
    by_country: dict[str, list[int]] = {}
    region_of: dict[str, str] = {}
    for code, region, admitted, state, since in rows:
        region = region or NO_REGION
        region_of[code] = region
        left = since.year if state in _LEFT else None
        for column in (by_region.setdefault(region, [0] * len(years)),
                       by_country.setdefault(code, [0] * len(years))):  # fmt: skip
            for i, year in enumerate(years):
                if admitted <= year and (left is None or year < left):
                    column[i] += 1
    order = [*REGIONS, NO_REGION]
    return Growth(
        years,
        {r: by_region[r] for r in order if r in by_region},
        dict(sorted(by_country.items())),
        dict(sorted(region_of.items())),
    )


def outcomes(session: Session) -> list[CallOutcomes]:
    rows = session.execute(
        select(
            Call.name,
            Call.opens_on,
            Application.state,
            Application.announced_at.is_not(None),
            func.count(Application.id),
        )
        .join(Application, Application.call_id == Call.id)
        .group_by(
            Call.id,
            Call.name,
            Call.opens_on,
            Application.state,
            Application.announced_at.is_not(None),
        )
    ).all()
    calls: dict[tuple[date, str], dict[str, int]] = {}
    for name, opens_on, state, announced, n in rows:
        counts = calls.setdefault((opens_on, name), dict.fromkeys(OUTCOMES, 0))
        if state in UNANNOUNCED_DECISIONS and not announced:
            # Decided but not yet announced: still in progress for the network.
            state = "in_progress"
        counts[_OUTCOME_OF.get(state, "in_progress")] += n
    return [CallOutcomes(name, opens, counts) for (opens, name), counts in sorted(calls.items())]


def endorsements(session: Session) -> list[CallEndorsements]:
    rows = session.execute(
        select(Call.name, Call.opens_on, Call.quota, Application.country_code, func.count())
        .join(Application, Application.call_id == Call.id)
        .where(Application.endorsed_at.is_not(None), Application.state.in_(list(ENDORSED)))
        .group_by(Call.id, Call.name, Call.opens_on, Call.quota, Application.country_code)
    ).all()
    calls: dict[tuple[date, str, int], dict[str, int]] = defaultdict(dict)
    for name, opens_on, quota, code, n in rows:
        calls[(opens_on, name, quota)][code] = n
    return [
        CallEndorsements(name, opens, quota, dict(sorted(used.items())))
        for (opens, name, quota), used in sorted(calls.items())
    ]


def compliance(session: Session, today: date) -> list[CycleCompliance]:
    rows = session.execute(
        select(
            Report.due_on,
            Report.submitted_at.is_not(None),
            Report.late,
            func.count(Report.id),
        ).group_by(Report.due_on, Report.submitted_at.is_not(None), Report.late)
    ).all()
    cycles: dict[date, dict[str, int]] = {}
    for due_on, submitted, late, n in rows:
        counts = cycles.setdefault(due_on, dict.fromkeys(COMPLIANCE, 0))
        if submitted:
            counts["late" if late else "on_time"] += n
        else:
            counts["missing" if due_on < today else "not_due"] += n
    return [CycleCompliance(due, **counts) for due, counts in sorted(cycles.items())]


def statistics(session: Session, actor: Actor, today: date) -> Statistics:
    """Every figure of the statistics page, for the Institute and administrators."""
    require_role(actor, Role.INSTITUTE, Role.ADMIN, doing="see the network's statistics")
    return Statistics(
        today=today,
        growth=growth(session, today),
        outcomes=outcomes(session),
        endorsements=endorsements(session),
        compliance=compliance(session, today),
    )
