"""Who is acting: a role and a scope, and the checks every service makes."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.errors import NotAllowed
from workflow.states import Role


@dataclass(frozen=True)
class Actor:
    """The person (or the scheduler) on whose behalf a service runs."""

    role: Role
    name: str
    user_id: int | None = None
    country_code: str | None = None  # a Commission's country; a city's country
    city_id: int | None = None  # a city's own id

    def __post_init__(self) -> None:
        if self.role is Role.CITY and self.city_id is None:
            raise ValueError("a city actor needs city_id")
        if self.role is Role.COMMISSION and not self.country_code:
            raise ValueError("a Commission actor needs country_code")
        if self.role is Role.JUROR and (self.user_id is None or not self.country_code):
            raise ValueError("a juror actor needs user_id and country_code (their own)")

    @property
    def label(self) -> str:
        scope = self.country_code if self.role is Role.COMMISSION else ""
        return f"{self.name} ({self.role.value}{' ' + scope if scope else ''})"


SYSTEM = Actor(Role.SYSTEM, "scheduler")


def require_role(actor: Actor, *roles: Role, doing: str) -> None:
    if actor.role not in roles:
        names = ", ".join(r.value for r in roles)
        raise NotAllowed(
            f"Only {names} may {doing}; you are signed in as {actor.role.value}.",
            "role_for",
            roles=[r.value for r in roles],
            role=actor.role.value,
        )


def require_city_scope(actor: Actor, city_id: int, country_code: str, kind: str) -> None:
    """A city touches only its own records; a Commission only its own country's; a juror
    none of these (the applications assigned to them are checked by
    ``workflow.services.jury.require_assigned``)."""
    if actor.role is Role.JUROR:
        raise NotAllowed(
            f"A juror sees only the applications assigned to them, not this {kind}.",
            "not_assigned",
            kind=kind,
        )
    if actor.role is Role.CITY and actor.city_id != city_id:
        raise NotAllowed(
            f"This {kind} belongs to another city; you can act only on your own.",
            "other_city",
            kind=kind,
        )
    if actor.role is Role.COMMISSION and actor.country_code != country_code:
        raise NotAllowed(
            f"This {kind} belongs to a city of another country; "
            f"your Commission acts only for {actor.country_code}.",
            "other_country",
            kind=kind,
            country=actor.country_code,
        )


def can_see(actor: Actor, city_id: int, country_code: str) -> bool:
    if actor.role is Role.CITY:
        return actor.city_id == city_id
    if actor.role is Role.COMMISSION:
        return actor.country_code == country_code
    return actor.role is not Role.JUROR
