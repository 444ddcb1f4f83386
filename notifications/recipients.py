"""A recipient and the To and Cc of one message. Who is told what: :mod:`notifications.table`."""

from __future__ import annotations

from dataclasses import dataclass


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
