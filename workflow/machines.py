"""The three workflows as tables, each turned once into a ``transitions`` machine.

A table row names the trigger, its source states, its destination and the roles that may
fire it, and the effects that run after the state change: names of functions registered in
the domain (``workflow.services.effects``), so this module stays data. A row without source
states starts a record (a membership is admitted or imported); a row marked ``internal`` is
fired only as the effect of another step (a corrected admission ends the membership) and is
never offered as an action. A trigger may have one row per role from the same states when
the roles differ in what they must give (the city withdraws from the network by itself; the
Institute or an administrator withdraws it on the city's written request, with a reason):
such rows share the trigger's label and their roles never overlap. The machine is built once
at import (``model=None``: no model is bound, no machine per row) and is the single
authority the services ask: *may this role do this now, and where does it lead?* The same
table drives the "allowed actions" shown to a user, their labels, the page and API dispatch,
and renders the diagram.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from transitions import Machine

from workflow.errors import NotAllowed, TransitionNotAllowed
from workflow.states import (
    AnnouncementState,
    ApplicationState,
    AssignmentState,
    MembershipState,
    ReportState,
    Role,
)

A = ApplicationState
N = AnnouncementState
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
    Role.JUROR: "a juror",
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
    #: Names of the effects that run after the state change, in order.
    effects: tuple[str, ...] = ()
    #: Fired only by an effect of another step, never offered as an action.
    internal: bool = False

    @property
    def starts(self) -> bool:
        """A row without sources creates its record in ``dest``."""
        return not self.sources


def step(
    trigger: str,
    sources: StrEnum | Iterable[StrEnum],
    dest: StrEnum,
    roles: Iterable[Role],
    label: str,
    *,
    needs_comment: bool = False,
    effects: Iterable[str] = (),
    internal: bool = False,
) -> Step:
    srcs = (sources,) if isinstance(sources, StrEnum) else tuple(sources)
    return Step(
        trigger, srcs, dest, frozenset(roles), label, needs_comment, tuple(effects), internal
    )


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
    _by_key: dict[tuple[str, str], tuple[Step, ...]] = field(init=False, repr=False)
    _roles_by_trigger: dict[str, frozenset[Role]] = field(init=False, repr=False)
    _allowed: dict[tuple[str, Role], tuple[Step, ...]] = field(init=False, repr=False)

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
                if not s.starts
            ],
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        self._by_key = {}
        for s in self.steps:
            for src in s.sources:
                rows = self._by_key.get((s.trigger, src.value), ())
                if any(r.roles & s.roles for r in rows):
                    raise ValueError(f"{self.name}: two {s.trigger} rows from {src} for one role")
                self._by_key[(s.trigger, src.value)] = (*rows, s)
        self._roles_by_trigger = {}
        for s in self.steps:
            known = self._roles_by_trigger.get(s.trigger, frozenset())
            self._roles_by_trigger[s.trigger] = known | s.roles
        self._allowed = {}

    @property
    def triggers(self) -> list[str]:
        return list(dict.fromkeys(s.trigger for s in self.steps))

    @property
    def offered(self) -> list[Step]:
        """The rows a person may be offered as actions (not internal, not starts)."""
        return [s for s in self.steps if not s.internal and not s.starts]

    def label(self, trigger: str) -> str:
        """The label of ``trigger`` (its first row): one label per trigger."""
        for s in self.steps:
            if s.trigger == trigger:
                return s.label
        raise KeyError(trigger)

    def effect_names(self) -> set[str]:
        return {name for s in self.steps for name in s.effects}

    def resolve_start(self, trigger: str, role: Role, *, kind: str) -> Step:
        """The row that creates a record with ``trigger``, if ``role`` may fire it."""
        for s in self.steps:
            if s.starts and s.trigger == trigger:
                if role not in s.roles:
                    raise _wrong_role(s.roles, role, trigger, kind)
                return s
        raise TransitionNotAllowed(kind, "new", trigger, "(none)", [])

    def step_for(self, trigger: str, state: str, role: Role | None = None) -> Step | None:
        """The row of ``trigger`` from ``state`` (the one for ``role`` when given)."""
        rows = self._by_key.get((trigger, state), ())
        if role is None:
            return rows[0] if rows else None
        return next((s for s in rows if role in s.roles), None)

    def _roles_from(self, trigger: str, state: str) -> frozenset[Role]:
        return frozenset().union(*(s.roles for s in self._by_key[(trigger, state)]))

    def resolve(self, trigger: str, state: str, role: Role, *, kind: str, key: object) -> Step:
        """The step ``role`` fires with ``trigger`` from ``state``, or a domain error."""
        # A role that may never fire this trigger hears so, whatever the state.
        roles = self._roles_by_trigger.get(trigger, frozenset())
        if roles and role not in roles:
            raise _wrong_role(roles, role, trigger, kind)
        candidates = self.machine.get_transitions(trigger=trigger, source=state)
        for transition in candidates:
            if _guards_pass(transition, role):
                found = self.step_for(trigger, state, role)
                assert found is not None and found.dest.value == transition.dest
                return found
        if candidates:
            raise _wrong_role(self._roles_from(trigger, state), role, trigger, kind)
        allowed = [s.trigger for s in self.allowed(state, role)]
        raise TransitionNotAllowed(kind, key, trigger, state, allowed)

    def allowed(self, state: str, role: Role) -> list[Step]:
        """Steps ``role`` may fire from ``state``, in table order (guards of the machine);
        internal rows (fired by an effect) are not offered. The table does not change, so
        each (state, role) is asked of the machine once: a list page asks it per row."""
        known = self._allowed.get((state, role))
        if known is None:
            known = self._allowed[(state, role)] = tuple(self._allowed_now(state, role))
        return list(known)

    def _allowed_now(self, state: str, role: Role) -> list[Step]:
        found = []
        for trigger in self.machine.get_triggers(state):
            for transition in self.machine.get_transitions(trigger=trigger, source=state):
                step = self.step_for(trigger, state, role)
                if _guards_pass(transition, role) and step is not None and not step.internal:
                    found.append(step)
        order = {s: i for i, s in enumerate(self.steps)}
        return sorted(found, key=order.__getitem__)

    def edges(self) -> list[tuple[str, str, str, frozenset[Role]]]:
        """Every (source, trigger, dest, roles) edge of the table; the rows of one trigger
        from one state for different roles are one edge with all their roles."""
        found: dict[tuple[str, str, str], frozenset[Role]] = {}
        for s in self.steps:
            for src in s.sources:
                key = (src.value, s.trigger, s.dest.value)
                found[key] = found.get(key, frozenset()) | s.roles
        return [(src, trigger, dest, roles) for (src, trigger, dest), roles in found.items()]

    def to_mermaid(self) -> str:
        lines = ["stateDiagram-v2"]
        starts = [s for s in self.steps if s.starts]
        for s in starts:
            who = "/".join(sorted(r.value for r in s.roles))
            lines.append(f"    [*] --> {s.dest.value}: {s.trigger} ({who})")
        if not starts:
            lines.append(f"    [*] --> {self.initial.value}")
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
        step(
            "admit",
            A.UNDER_REVIEW,
            A.ADMITTED,
            [INSTITUTE],
            "Admit as a member",
        ),
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
            A.ADMITTED,
            A.UNDER_REVIEW,
            [INSTITUTE],
            "Correct the decision (reopen the review)",
            needs_comment=True,
            effects=["revoke_membership"],
        ),
        step(
            "reopen",
            A.NOT_ADMITTED,
            A.UNDER_REVIEW,
            [INSTITUTE],
            "Correct the decision (reopen the review)",
            needs_comment=True,
        ),
        # An announcement's publication tells each decision in it (the city becomes a
        # member on the announcement's date); a correction after it changes the decision.
        step(
            "announce_admission",
            A.ADMITTED,
            A.ADMITTED,
            [INSTITUTE],
            "Announce the admission",
            effects=["admit_membership"],
            internal=True,
        ),
        step(
            "announce_non_admission",
            A.NOT_ADMITTED,
            A.NOT_ADMITTED,
            [INSTITUTE],
            "Announce the decision not to admit",
            internal=True,
        ),
        step(
            "correct_admission",
            A.ADMITTED,
            A.NOT_ADMITTED,
            [INSTITUTE],
            "Correct the announced admission (not admitted)",
            needs_comment=True,
            effects=["revoke_membership"],
            internal=True,
        ),
        step(
            "correct_non_admission",
            A.NOT_ADMITTED,
            A.ADMITTED,
            [INSTITUTE],
            "Correct the announced decision (admitted)",
            needs_comment=True,
            effects=["admit_membership"],
            internal=True,
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
        step(
            "admit",
            (),
            M.ACTIVE,
            [INSTITUTE],
            "Admitted with the application",
            effects=["create_report_obligations"],
        ),
        step(
            "import",
            (),
            M.ACTIVE,
            [ADMIN, INSTITUTE],
            "Imported as an existing member",
            effects=["create_report_obligations"],
        ),
        step(
            "admit",
            (M.REMOVED, M.WITHDRAWN),
            M.ACTIVE,
            [INSTITUTE],
            "Admitted with the application",
            effects=["create_report_obligations"],
            internal=True,
        ),
        step(
            "revoke_admission",
            (M.ACTIVE, M.OVERDUE, M.INACTIVE),
            M.REMOVED,
            [INSTITUTE],
            "The admission was corrected",
            internal=True,
        ),
        step("mark_overdue", M.ACTIVE, M.OVERDUE, [SYSTEM], "A report is past due"),
        step("mark_inactive", M.OVERDUE, M.INACTIVE, [SYSTEM], "Past the grace period"),
        step("restore", (M.OVERDUE, M.INACTIVE), M.ACTIVE, [SYSTEM], "Every due report is in"),
        step(
            "remove",
            (M.ACTIVE, M.OVERDUE, M.INACTIVE),
            M.REMOVED,
            [INSTITUTE, ADMIN],
            "Remove from the network",
            needs_comment=True,
        ),
        step(
            "reinstate",
            M.REMOVED,
            M.ACTIVE,
            [INSTITUTE, ADMIN],
            "Reinstate",
            needs_comment=True,
            effects=["create_report_obligations"],
        ),
        step(
            "withdraw", (M.ACTIVE, M.OVERDUE, M.INACTIVE), M.WITHDRAWN, [CITY], "Leave the network"
        ),
        # on the city's written request: who withdraws it says which request (the reason)
        step(
            "withdraw",
            (M.ACTIVE, M.OVERDUE, M.INACTIVE),
            M.WITHDRAWN,
            [INSTITUTE, ADMIN],
            "Leave the network",
            needs_comment=True,
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

ANNOUNCEMENT = Workflow(
    "announcement",
    AnnouncementState,
    N.DRAFT,
    (
        step("create", (), N.DRAFT, [INSTITUTE], "Start an announcement"),
        step(
            "publish",
            N.DRAFT,
            N.PUBLISHED,
            [INSTITUTE],
            "Publish the announcement",
            effects=["announce_decisions"],
        ),
        step(
            "correct",
            (N.PUBLISHED, N.CORRECTED),
            N.CORRECTED,
            [INSTITUTE],
            "Correct a decision of the announcement",
            needs_comment=True,
            internal=True,
        ),
    ),
)

J = AssignmentState

#: An application given to one juror (``workflow.services.jury``): the Institute assigns
#: it (never to a juror of the city's own country), the juror scores it or declines it with
#: a reason (a conflict of interest); a declined one is assigned to another juror.
ASSIGNMENT = Workflow(
    "assignment",
    AssignmentState,
    J.ASSIGNED,
    (
        step("assign", (), J.ASSIGNED, [INSTITUTE, ADMIN], "Assign to a juror"),
        step("submit_scores", J.ASSIGNED, J.SCORED, [Role.JUROR], "Submit the scores"),
        step(
            "decline_assignment",
            J.ASSIGNED,
            J.DECLINED,
            [Role.JUROR],
            "Decline the assignment",
            needs_comment=True,
        ),
    ),
)

WORKFLOWS = {w.name: w for w in (APPLICATION, MEMBERSHIP, REPORT, ANNOUNCEMENT, ASSIGNMENT)}
