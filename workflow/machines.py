"""The three workflows as tables, each turned once into a ``transitions`` machine.

A table row names the trigger, its source states, its destination and the roles that may
fire it. The machine is built once at import (``model=None``: no model is bound, no
machine per row) and is the single authority the services ask: *may this role do this
now, and where does it lead?* The same table drives the "allowed actions" shown to a
user and renders the diagram.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from transitions import Machine

from workflow.errors import NotAllowed, TransitionNotAllowed
from workflow.states import ApplicationState, MembershipState, ReportState, Role

A = ApplicationState
M = MembershipState
R = ReportState
CITY, COMMISSION, INSTITUTE, ADMIN, SYSTEM = (
    Role.CITY,
    Role.COMMISSION,
    Role.INSTITUTE,
    Role.ADMIN,
    Role.SYSTEM,
)

ROLE_NAMES = {
    Role.CITY: "the city",
    Role.COMMISSION: "the National Commission",
    Role.INSTITUTE: "the Institute",
    Role.ADMIN: "an administrator",
    Role.SYSTEM: "the scheduler",
}


@dataclass(frozen=True)
class Step:
    """One row of a workflow table."""

    trigger: str
    sources: tuple[StrEnum, ...]
    dest: StrEnum
    roles: frozenset[Role]
    label: str
    needs_comment: bool = False


def step(
    trigger: str,
    sources: StrEnum | Iterable[StrEnum],
    dest: StrEnum,
    roles: Iterable[Role],
    label: str,
    *,
    needs_comment: bool = False,
) -> Step:
    srcs = (sources,) if isinstance(sources, StrEnum) else tuple(sources)
    return Step(trigger, srcs, dest, frozenset(roles), label, needs_comment)


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def _wrong_role(roles: frozenset[Role], role: Role, trigger: str, kind: str) -> NotAllowed:
    names = " or ".join(sorted(ROLE_NAMES[r] for r in roles))
    return NotAllowed(
        f"Only {names} can {trigger.replace('_', ' ')} {_article(kind)} {kind}; "
        f"you are signed in as {ROLE_NAMES[role]}.",
        "role",
        roles=sorted(r.value for r in roles),
        action=trigger,
        kind=kind,
        role=role.value,
    )


def _guards_pass(transition: Any, role: Role) -> bool:
    return all(c.func(role) == c.target for c in transition.conditions)


def _role_guard(roles: frozenset[Role]) -> Callable[[Role], bool]:
    def role_may_fire(role: Role) -> bool:
        return role in roles

    return role_may_fire


@dataclass
class Workflow:
    """A workflow table and the ``transitions`` machine built from it."""

    name: str
    states: type[StrEnum]
    initial: StrEnum
    steps: tuple[Step, ...]
    machine: Machine = field(init=False, repr=False)
    _by_key: dict[tuple[str, str], Step] = field(init=False, repr=False)
    _roles_by_trigger: dict[str, frozenset[Role]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.machine = Machine(
            model=None,
            states=[s.value for s in self.states],
            initial=self.initial.value,
            transitions=[
                {
                    "trigger": s.trigger,
                    "source": [src.value for src in s.sources],
                    "dest": s.dest.value,
                    "conditions": [_role_guard(s.roles)],
                }
                for s in self.steps
            ],
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        self._by_key = {(s.trigger, src.value): s for s in self.steps for src in s.sources}
        self._roles_by_trigger = {}
        for s in self.steps:
            known = self._roles_by_trigger.get(s.trigger, frozenset())
            self._roles_by_trigger[s.trigger] = known | s.roles

    @property
    def triggers(self) -> list[str]:
        return list(dict.fromkeys(s.trigger for s in self.steps))

    def step_for(self, trigger: str, state: str) -> Step | None:
        return self._by_key.get((trigger, state))

    def resolve(self, trigger: str, state: str, role: Role, *, kind: str, key: object) -> Step:
        """The step ``role`` fires with ``trigger`` from ``state``, or a domain error."""
        # A role that may never fire this trigger hears so, whatever the state.
        roles = self._roles_by_trigger.get(trigger, frozenset())
        if roles and role not in roles:
            raise _wrong_role(roles, role, trigger, kind)
        candidates = self.machine.get_transitions(trigger=trigger, source=state)
        for transition in candidates:
            if _guards_pass(transition, role):
                found = self._by_key[(trigger, state)]
                assert found.dest.value == transition.dest
                return found
        if candidates:
            raise _wrong_role(self._by_key[(trigger, state)].roles, role, trigger, kind)
        allowed = [s.trigger for s in self.allowed(state, role)]
        raise TransitionNotAllowed(kind, key, trigger, state, allowed)

    def allowed(self, state: str, role: Role) -> list[Step]:
        """Steps ``role`` may fire from ``state``, in table order (guards of the machine)."""
        found = []
        for trigger in self.machine.get_triggers(state):
            for transition in self.machine.get_transitions(trigger=trigger, source=state):
                if _guards_pass(transition, role):
                    found.append(self._by_key[(trigger, state)])
        order = {s: i for i, s in enumerate(self.steps)}
        return sorted(found, key=order.__getitem__)

    def edges(self) -> list[tuple[str, str, str, frozenset[Role]]]:
        """Every (source, trigger, dest, roles) edge of the table."""
        return [
            (src.value, s.trigger, s.dest.value, s.roles) for s in self.steps for src in s.sources
        ]

    def to_mermaid(self) -> str:
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial.value}"]
        for src, trigger, dest, roles in self.edges():
            who = "/".join(sorted(r.value for r in roles))
            lines.append(f"    {src} --> {dest}: {trigger} ({who})")
        return "\n".join(lines)


APPLICATION = Workflow(
    "application",
    ApplicationState,
    A.DRAFT,
    (
        step(
            "submit",
            (A.DRAFT, A.RETURNED),
            A.SUBMITTED,
            [CITY],
            "Submit to the National Commission",
        ),
        step(
            "submit_direct",
            (A.DRAFT, A.RETURNED),
            A.FORWARDED,
            [CITY],
            "Submit directly to the Institute with the Commission's endorsement",
        ),
        step(
            "endorse",
            A.SUBMITTED,
            A.FORWARDED,
            [COMMISSION],
            "Endorse and forward to the Institute",
        ),
        step(
            "return_to_city",
            A.SUBMITTED,
            A.RETURNED,
            [COMMISSION],
            "Return to the city for changes",
            needs_comment=True,
        ),
        step(
            "decline",
            A.SUBMITTED,
            A.DECLINED,
            [COMMISSION],
            "Decline (not endorsed)",
            needs_comment=True,
        ),
        step("start_review", A.FORWARDED, A.UNDER_REVIEW, [INSTITUTE], "Start the review"),
        step("admit", A.UNDER_REVIEW, A.ADMITTED, [INSTITUTE], "Admit as a member"),
        step(
            "not_admit",
            A.UNDER_REVIEW,
            A.NOT_ADMITTED,
            [INSTITUTE],
            "Do not admit",
            needs_comment=True,
        ),
        step(
            "reopen",
            (A.ADMITTED, A.NOT_ADMITTED),
            A.UNDER_REVIEW,
            [INSTITUTE],
            "Correct the decision (reopen the review)",
            needs_comment=True,
        ),
        step(
            "withdraw",
            (A.DRAFT, A.SUBMITTED, A.RETURNED, A.FORWARDED, A.UNDER_REVIEW),
            A.WITHDRAWN,
            [CITY],
            "Withdraw the application",
        ),
        step(
            "expire",
            (A.DRAFT, A.RETURNED),
            A.EXPIRED,
            [SYSTEM],
            "Expire (never submitted before the deadline)",
        ),
    ),
)

MEMBERSHIP = Workflow(
    "membership",
    MembershipState,
    M.ACTIVE,
    (
        step("mark_overdue", M.ACTIVE, M.OVERDUE, [SYSTEM], "A report is past due"),
        step("mark_inactive", M.OVERDUE, M.INACTIVE, [SYSTEM], "Past the grace period"),
        step("restore", (M.OVERDUE, M.INACTIVE), M.ACTIVE, [SYSTEM], "Every due report is in"),
        step(
            "remove",
            (M.ACTIVE, M.OVERDUE, M.INACTIVE),
            M.REMOVED,
            [INSTITUTE],
            "Remove from the network",
            needs_comment=True,
        ),
        step("reinstate", M.REMOVED, M.ACTIVE, [INSTITUTE], "Reinstate", needs_comment=True),
        step(
            "withdraw", (M.ACTIVE, M.OVERDUE, M.INACTIVE), M.WITHDRAWN, [CITY], "Leave the network"
        ),
    ),
)

REPORT = Workflow(
    "report",
    ReportState,
    R.OPEN,
    (
        step(
            "submit",
            (R.OPEN, R.OVERDUE, R.RETURNED),
            R.SUBMITTED,
            [CITY],
            "Submit the progress report",
        ),
        step("accept", R.SUBMITTED, R.ACCEPTED, [INSTITUTE], "Accept the report"),
        step(
            "return_for_revision",
            R.SUBMITTED,
            R.RETURNED,
            [INSTITUTE],
            "Return for revision",
            needs_comment=True,
        ),
        step("mark_overdue", R.OPEN, R.OVERDUE, [SYSTEM], "Past its due date"),
    ),
)

WORKFLOWS = {w.name: w for w in (APPLICATION, MEMBERSHIP, REPORT)}
