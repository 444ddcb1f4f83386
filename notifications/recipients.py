"""Who receives what (DOMAIN.md, "Email rules"), each in their own language.

| occasion | To | Cc |
|---|---|---|
| application submitted | National Commission | network; acknowledgement to the city |
| endorsed and forwarded | Institute | applicant city |
| direct submission with endorsement | Institute | National Commission |
| returned / declined / admitted / not admitted | city | National Commission |
| report reminders and overdue notices | city | Commission on escalation |
"""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from workflow.models import City, Country


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str
    language: str


@dataclass(frozen=True)
class Addressing:
    """The To and Cc of one occasion. Each recipient gets an own copy in their language."""

    to: tuple[Recipient, ...]
    cc: tuple[Recipient, ...] = ()

    @property
    def everyone(self) -> tuple[Recipient, ...]:
        seen: dict[str, Recipient] = {}
        for r in (*self.to, *self.cc):
            seen.setdefault(r.address.lower(), r)
        return tuple(seen.values())


def city(c: City) -> Recipient:
    return Recipient(c.contact_email, c.contact_name or c.name, c.language)


def commission(country: Country) -> Recipient:
    return Recipient(country.commission_email, country.commission_name, country.language)


def network(settings: Settings) -> Recipient:
    return Recipient(settings.network.address, settings.network.name, settings.network.language)


def institute(settings: Settings) -> Recipient:
    return Recipient(
        settings.network.institute_address,
        "UNESCO Institute for Lifelong Learning",
        settings.network.language,
    )


def to_city_cc_commission(c: City) -> Addressing:
    return Addressing(to=(city(c),), cc=(commission(c.country),))


APPLICATION_OCCASIONS = {
    # trigger -> occasion
    "submit": "application_submitted",
    "submit_direct": "application_submitted_direct",
    "endorse": "application_forwarded",
    "return_to_city": "application_returned",
    "decline": "application_declined",
    "admit": "application_admitted",
    "not_admit": "application_not_admitted",
    "reopen": "application_reopened",
    "withdraw": "application_withdrawn",
}


def for_application(trigger: str, c: City, settings: Settings) -> list[tuple[str, Addressing]]:
    """(occasion, addressing) pairs owed when ``trigger`` fires on a city's application."""
    if trigger == "submit":
        return [
            (
                "application_submitted",
                Addressing(to=(commission(c.country),), cc=(network(settings),)),
            ),
            ("application_acknowledged", Addressing(to=(city(c),))),
        ]
    if trigger == "submit_direct":
        return [
            (
                "application_submitted_direct",
                Addressing(to=(institute(settings),), cc=(commission(c.country),)),
            ),
            ("application_acknowledged", Addressing(to=(city(c),))),
        ]
    if trigger == "endorse":
        return [("application_forwarded", Addressing(to=(institute(settings),), cc=(city(c),)))]
    if trigger in APPLICATION_OCCASIONS:
        return [(APPLICATION_OCCASIONS[trigger], to_city_cc_commission(c))]
    return []
