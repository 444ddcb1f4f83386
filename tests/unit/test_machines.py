"""The three workflow tables, checked against tables written out here from docs/domain.md.

Every (state, trigger, role) combination is tried: the expected ones lead where the table
says; a trigger fired by a role that may not fire it from this state, or from any state,
is NotAllowed; anything else (a role that could fire it, but not from this state, or an
unknown trigger) is TransitionNotAllowed. The expected tables are literal, not computed
from the code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy.orm import Session

from config import Settings
from workflow.actors import SYSTEM, Actor
from workflow.errors import InvalidInput, NotAllowed, TransitionNotAllowed
from workflow.machines import ANNOUNCEMENT, APPLICATION, MEMBERSHIP, REPORT, Workflow, step
from workflow.services import (
    announcements,  # noqa: F401 (registers the effects it needs)
    decisions,  # noqa: F401 (registers the effects it needs)
    effects,
)
from workflow.services.common import fire
from workflow.states import Role

CITY, COMMISSION, INSTITUTE, ADMIN, SYS = (
    Role.CITY,
    Role.COMMISSION,
    Role.INSTITUTE,
    Role.ADMIN,
    Role.SYSTEM,
)

#: (state, trigger) -> (destination, roles that may fire it)
Table = dict[tuple[str, str], tuple[str, frozenset[Role]]]

APPLICATION_TABLE: Table = {
    # the seed's main route: city -> National Commission -> Institute
    ("draft", "submit"): ("submitted", frozenset({CITY})),
    ("returned", "submit"): ("submitted", frozenset({CITY})),
    # the alternative route: straight to the Institute, endorsement attached
    ("draft", "submit_direct"): ("forwarded", frozenset({CITY})),
    ("returned", "submit_direct"): ("forwarded", frozenset({CITY})),
    ("submitted", "endorse"): ("forwarded", frozenset({COMMISSION})),
    ("submitted", "return_to_city"): ("returned", frozenset({COMMISSION})),
    ("submitted", "decline"): ("declined", frozenset({COMMISSION})),
    ("forwarded", "start_review"): ("under_review", frozenset({INSTITUTE})),
    ("under_review", "admit"): ("admitted", frozenset({INSTITUTE})),
    ("under_review", "not_admit"): ("not_admitted", frozenset({INSTITUTE})),
    # an announced admission has been corrected at least once
    ("admitted", "reopen"): ("under_review", frozenset({INSTITUTE})),
    ("not_admitted", "reopen"): ("under_review", frozenset({INSTITUTE})),
    # decisions are told by an announcement, and corrected after it (INTERNAL)
    ("admitted", "announce_admission"): ("admitted", frozenset({INSTITUTE})),
    ("not_admitted", "announce_non_admission"): ("not_admitted", frozenset({INSTITUTE})),
    ("admitted", "correct_admission"): ("not_admitted", frozenset({INSTITUTE})),
    ("not_admitted", "correct_non_admission"): ("admitted", frozenset({INSTITUTE})),
    ("draft", "withdraw"): ("withdrawn", frozenset({CITY})),
    ("submitted", "withdraw"): ("withdrawn", frozenset({CITY})),
    ("returned", "withdraw"): ("withdrawn", frozenset({CITY})),
    ("forwarded", "withdraw"): ("withdrawn", frozenset({CITY})),
    ("under_review", "withdraw"): ("withdrawn", frozenset({CITY})),
    # a draft never submitted before the window closed
    ("draft", "expire"): ("expired", frozenset({SYS})),
    ("returned", "expire"): ("expired", frozenset({SYS})),
}
APPLICATION_STATES = {
    "draft",
    "submitted",
    "returned",
    "declined",
    "forwarded",
    "under_review",
    "admitted",
    "not_admitted",
    "withdrawn",
    "expired",
}

MEMBERSHIP_TABLE: Table = {
    ("active", "mark_overdue"): ("overdue", frozenset({SYS})),
    ("overdue", "mark_inactive"): ("inactive", frozenset({SYS})),
    ("overdue", "restore"): ("active", frozenset({SYS})),
    ("inactive", "restore"): ("active", frozenset({SYS})),
    ("active", "remove"): ("removed", frozenset({INSTITUTE, ADMIN})),
    ("overdue", "remove"): ("removed", frozenset({INSTITUTE, ADMIN})),
    ("inactive", "remove"): ("removed", frozenset({INSTITUTE, ADMIN})),
    ("removed", "reinstate"): ("active", frozenset({INSTITUTE, ADMIN})),
    # the city leaves by itself; the Institute or an administrator on its written request
    ("active", "withdraw"): ("withdrawn", frozenset({CITY, INSTITUTE, ADMIN})),
    ("overdue", "withdraw"): ("withdrawn", frozenset({CITY, INSTITUTE, ADMIN})),
    ("inactive", "withdraw"): ("withdrawn", frozenset({CITY, INSTITUTE, ADMIN})),
    # a corrected decision re-admits an earlier member, or ends the membership it began:
    # fired by the application's effects, never offered as actions (INTERNAL)
    ("removed", "admit"): ("active", frozenset({INSTITUTE})),
    ("withdrawn", "admit"): ("active", frozenset({INSTITUTE})),
    ("active", "revoke_admission"): ("removed", frozenset({INSTITUTE})),
    ("overdue", "revoke_admission"): ("removed", frozenset({INSTITUTE})),
    ("inactive", "revoke_admission"): ("removed", frozenset({INSTITUTE})),
}
MEMBERSHIP_STATES = {"active", "overdue", "inactive", "removed", "withdrawn"}

REPORT_TABLE: Table = {
    ("open", "submit"): ("submitted", frozenset({CITY})),
    ("overdue", "submit"): ("submitted", frozenset({CITY})),  # late, recorded as late
    ("returned", "submit"): ("submitted", frozenset({CITY})),
    ("submitted", "accept"): ("accepted", frozenset({INSTITUTE})),
    ("submitted", "return_for_revision"): ("returned", frozenset({INSTITUTE})),
    ("open", "mark_overdue"): ("overdue", frozenset({SYS})),
}
REPORT_STATES = {"open", "overdue", "submitted", "accepted", "returned"}

ANNOUNCEMENT_TABLE: Table = {
    ("draft", "publish"): ("published", frozenset({INSTITUTE})),
    # a decision corrected after publication (by the announcements service: INTERNAL)
    ("published", "correct"): ("corrected", frozenset({INSTITUTE})),
    ("corrected", "correct"): ("corrected", frozenset({INSTITUTE})),
}
ANNOUNCEMENT_STATES = {"draft", "published", "corrected"}

#: Rows without a source: they create the record. trigger -> (first state, roles)
STARTS: dict[str, dict[str, tuple[str, frozenset[Role]]]] = {
    "application": {},
    "membership": {
        "admit": ("active", frozenset({INSTITUTE})),  # the application was admitted
        "import": ("active", frozenset({ADMIN, INSTITUTE})),  # an existing member
    },
    "report": {},
    "announcement": {"create": ("draft", frozenset({INSTITUTE}))},
}
#: (state, trigger) rows fired only as an effect of another step.
INTERNAL: dict[str, set[tuple[str, str]]] = {
    "application": {
        ("admitted", "announce_admission"),
        ("not_admitted", "announce_non_admission"),
        ("admitted", "correct_admission"),
        ("not_admitted", "correct_non_admission"),
    },
    "membership": {
        ("removed", "admit"),
        ("withdrawn", "admit"),
        ("active", "revoke_admission"),
        ("overdue", "revoke_admission"),
        ("inactive", "revoke_admission"),
    },
    "report": set(),
    "announcement": {("published", "correct"), ("corrected", "correct")},
}
#: (workflow, trigger, source or None for a start) -> the effects the row names, in order
EFFECTS = {
    ("application", "announce_admission", "admitted"): ("admit_membership",),
    ("application", "correct_admission", "admitted"): ("revoke_membership",),
    ("application", "correct_non_admission", "not_admitted"): ("admit_membership",),
    ("application", "reopen", "admitted"): ("revoke_membership",),
    ("announcement", "publish", "draft"): ("announce_decisions",),
    ("membership", "admit", None): ("create_report_obligations",),
    ("membership", "import", None): ("create_report_obligations",),
    ("membership", "admit", "removed"): ("create_report_obligations",),
    ("membership", "admit", "withdrawn"): ("create_report_obligations",),
    ("membership", "reinstate", "removed"): ("create_report_obligations",),
}

NEEDS_COMMENT = {
    "application": {
        "return_to_city",
        "decline",
        "not_admit",
        "reopen",
        "correct_admission",
        "correct_non_admission",
    },
    "membership": {"remove", "reinstate", "withdraw"},
    "report": {"return_for_revision"},
    "announcement": {"correct"},
}
#: (workflow, trigger) -> the roles that may fire it without a comment, where some may
#: and some may not (a row per role).
COMMENT_OPTIONAL_FOR = {("membership", "withdraw"): frozenset({CITY})}

CASES = [
    pytest.param(APPLICATION, APPLICATION_TABLE, APPLICATION_STATES, "draft", id="application"),
    pytest.param(MEMBERSHIP, MEMBERSHIP_TABLE, MEMBERSHIP_STATES, "active", id="membership"),
    pytest.param(REPORT, REPORT_TABLE, REPORT_STATES, "open", id="report"),
    pytest.param(ANNOUNCEMENT, ANNOUNCEMENT_TABLE, ANNOUNCEMENT_STATES, "draft", id="announcement"),
]
#: Triggers no table has, tried too: auto transitions and other machines' names.
FOREIGN_TRIGGERS = ("to_draft", "to_active", "to_open", "approve", "endorse", "accept")


@pytest.mark.parametrize(("workflow", "table", "states", "initial"), CASES)
def test_states_triggers_and_initial_state(
    workflow: Workflow, table: Table, states: set[str], initial: str
) -> None:
    assert {s.value for s in workflow.states} == states
    assert workflow.initial.value == initial
    assert set(workflow.triggers) == {trigger for _, trigger in table} | set(STARTS[workflow.name])
    starts = {s.trigger: (s.dest.value, s.roles) for s in workflow.steps if s.starts}
    assert starts == STARTS[workflow.name]
    edges = {(src, trigger): (dest, roles) for src, trigger, dest, roles in workflow.edges()}
    assert edges == table


@pytest.mark.parametrize(("workflow", "table", "states", "initial"), CASES)
def test_every_state_trigger_role_combination(
    workflow: Workflow, table: Table, states: set[str], initial: str
) -> None:
    triggers = sorted({t for _, t in table} | set(FOREIGN_TRIGGERS))
    checked = 0
    for state, trigger, role in itertools.product(sorted(states), triggers, Role):
        checked += 1
        expected = table.get((state, trigger))
        ever = frozenset().union(*(r for (_, t), (_, r) in table.items() if t == trigger))
        if expected is not None and role in expected[1]:
            step = workflow.resolve(trigger, state, role, kind=workflow.name, key=7)
            assert step.dest.value == expected[0], (state, trigger, role)
        elif expected is not None or (ever and role not in ever):
            # the trigger exists from this state for another role, or this role may never
            # fire it at all: either way the answer is about the role, not the state
            with pytest.raises(NotAllowed, match=r"Only .* can"):
                workflow.resolve(trigger, state, role, kind=workflow.name, key=7)
        else:
            with pytest.raises(TransitionNotAllowed) as refused:
                workflow.resolve(trigger, state, role, kind=workflow.name, key=7)
            assert refused.value.state == state
            assert refused.value.action == trigger
    assert checked == len(states) * len(triggers) * len(Role)


@pytest.mark.parametrize(("workflow", "table", "states", "initial"), CASES)
def test_allowed_lists_exactly_the_expected_triggers(
    workflow: Workflow, table: Table, states: set[str], initial: str
) -> None:
    internal = INTERNAL[workflow.name]
    for state, role in itertools.product(sorted(states), Role):
        expected = sorted(
            t
            for (s, t), (_, roles) in table.items()
            if s == state and role in roles and (s, t) not in internal
        )
        listed = [step.trigger for step in workflow.allowed(state, role)]
        assert sorted(listed) == expected, (state, role)
        assert len(listed) == len(set(listed))


@pytest.mark.parametrize(("workflow", "table", "states", "initial"), CASES)
def test_refusal_names_the_actions_allowed_now(
    workflow: Workflow, table: Table, states: set[str], initial: str
) -> None:
    internal = INTERNAL[workflow.name]
    for (state, trigger), (_, roles) in table.items():
        if (state, trigger) in internal:
            continue
        role = min(roles)
        others = [
            t
            for (s, t), (_, r) in table.items()
            if s == state and role in r and (s, t) not in internal
        ]
        with pytest.raises(TransitionNotAllowed) as refused:
            workflow.resolve("to_" + state, state, role, kind=workflow.name, key=1)
        for other in others:
            assert other in str(refused.value)
        assert trigger in others


@pytest.mark.parametrize(("workflow", "table", "states", "initial"), CASES)
def test_no_auto_transitions(
    workflow: Workflow, table: Table, states: set[str], initial: str
) -> None:
    machine = workflow.machine
    assert machine.auto_transitions is False
    for state in states:
        assert not hasattr(machine, f"to_{state}")
        assert not any(t.startswith("to_") for t in machine.get_triggers(state))


@pytest.mark.parametrize(("workflow", "table", "states", "initial"), CASES)
def test_comment_required_exactly_where_expected(
    workflow: Workflow, table: Table, states: set[str], initial: str
) -> None:
    needing = {s.trigger for s in workflow.steps if s.needs_comment}
    assert needing == NEEDS_COMMENT[workflow.name]
    for (state, trigger), (_, roles) in table.items():
        optional = COMMENT_OPTIONAL_FOR.get((workflow.name, trigger), frozenset())
        for role in roles:
            found = workflow.resolve(trigger, state, role, kind=workflow.name, key=1)
            wanted = trigger in NEEDS_COMMENT[workflow.name] and role not in optional
            assert found.needs_comment is wanted, (state, trigger, role)


def test_a_row_per_role_shares_the_trigger_and_its_label() -> None:
    city = MEMBERSHIP.step_for("withdraw", "active", CITY)
    for role in (INSTITUTE, ADMIN):
        on_request = MEMBERSHIP.step_for("withdraw", "active", role)
        assert on_request is not None and city is not None and on_request is not city
        assert on_request.needs_comment and not city.needs_comment
        assert on_request.label == city.label == MEMBERSHIP.label("withdraw")
        assert [s.trigger for s in MEMBERSHIP.allowed("active", role)] == [
            "remove",
            "withdraw",
        ]
    assert MEMBERSHIP.step_for("withdraw", "active", COMMISSION) is None
    assert MEMBERSHIP.step_for("withdraw", "active") is city
    with pytest.raises(NotAllowed, match="Only an administrator or the Institute or the city can"):
        MEMBERSHIP.resolve("withdraw", "active", COMMISSION, kind="membership", key=1)


def test_two_rows_for_one_role_from_one_state_are_refused() -> None:
    rows = (
        step("haunt", REPORT.initial, REPORT.initial, [INSTITUTE, ADMIN], "Haunt"),
        step("haunt", REPORT.initial, REPORT.initial, [ADMIN], "Haunt", needs_comment=True),
    )
    with pytest.raises(ValueError, match="two haunt rows"):
        Workflow("ghost", REPORT.states, REPORT.initial, rows)


def test_mermaid_diagram_draws_every_edge() -> None:
    diagram = APPLICATION.to_mermaid()
    assert diagram.startswith("stateDiagram-v2")
    assert "[*] --> draft" in diagram
    assert "submitted --> forwarded: endorse (commission)" in diagram
    assert diagram.count("-->") == len(APPLICATION_TABLE) + 1


def test_membership_diagram_starts_with_admission_and_import() -> None:
    diagram = MEMBERSHIP.to_mermaid()
    assert "[*] --> active: admit (institute)" in diagram
    assert "[*] --> active: import (admin/institute)" in diagram
    assert diagram.count("-->") == len(MEMBERSHIP_TABLE) + len(STARTS["membership"])


@pytest.mark.parametrize(("workflow", "table", "states", "initial"), CASES)
def test_effects_are_where_expected_and_each_is_registered(
    workflow: Workflow, table: Table, states: set[str], initial: str
) -> None:
    named = {
        (workflow.name, s.trigger, src.value if src else None): s.effects
        for s in workflow.steps
        for src in (s.sources or (None,))
        if s.effects
    }
    assert named == {k: v for k, v in EFFECTS.items() if k[0] == workflow.name}
    assert effects.missing(workflow) == set()
    for name in workflow.effect_names():
        assert callable(effects.EFFECTS[name])


def test_membership_admission_and_revocation_go_through_the_machine() -> None:
    admit = MEMBERSHIP.resolve_start("admit", INSTITUTE, kind="membership")
    assert admit.dest.value == "active"
    assert admit.effects == ("create_report_obligations",)
    with pytest.raises(NotAllowed, match="Only the Institute can admit"):
        MEMBERSHIP.resolve_start("admit", COMMISSION, kind="membership")
    with pytest.raises(TransitionNotAllowed):
        MEMBERSHIP.resolve_start("remove", INSTITUTE, kind="membership")
    for state in ("active", "overdue", "inactive"):
        revoke = MEMBERSHIP.resolve("revoke_admission", state, INSTITUTE, kind="m", key=1)
        assert revoke.dest.value == "removed" and revoke.internal
    # the application's rows name the membership effects: admitted when announced
    assert APPLICATION.step_for("admit", "under_review").effects == ()  # type: ignore[union-attr]
    assert APPLICATION.step_for("announce_admission", "admitted").effects == ("admit_membership",)  # type: ignore[union-attr]
    assert APPLICATION.step_for("reopen", "admitted").effects == ("revoke_membership",)  # type: ignore[union-attr]
    assert APPLICATION.step_for("reopen", "not_admitted").effects == ()  # type: ignore[union-attr]


def test_an_effect_without_a_function_is_an_error() -> None:
    ghost = Workflow(
        "ghost",
        REPORT.states,
        REPORT.initial,
        (step("haunt", REPORT.initial, REPORT.initial, [INSTITUTE], "Haunt", effects=["boo"]),),
    )
    assert effects.missing(ghost) == {"boo"}
    record = Record(id=1, version=1, state=REPORT.initial.value)
    haunt = ghost.steps[0]
    applied = effects.Applied(
        Session(),
        cast(Settings, None),
        Actor(INSTITUTE, "uil"),
        ghost,
        haunt,
        record,
        "open",
        _now(),
    )
    with pytest.raises(LookupError, match="names effect 'boo'"):
        effects.run(applied)


@dataclass
class Record:
    """A stand-in for a row: what ``fire`` reads and writes."""

    id: int
    version: int
    state: str


@pytest.mark.parametrize(
    ("actor", "trigger", "error"),
    [
        (Actor(Role.CITY, "city", city_id=1), "endorse", NotAllowed),
        (Actor(Role.COMMISSION, "c", country_code="LV"), "admit", NotAllowed),
        (Actor(Role.INSTITUTE, "uil"), "admit", TransitionNotAllowed),
        (SYSTEM, "endorse", NotAllowed),
        (Actor(Role.CITY, "city", city_id=1), "submit", TransitionNotAllowed),
        (Actor(Role.INSTITUTE, "uil"), "to_forwarded", TransitionNotAllowed),
    ],
)
def test_failed_transition_leaves_the_state_unchanged(
    actor: Actor, trigger: str, error: type[Exception]
) -> None:
    record = Record(id=3, version=5, state="submitted")
    with Session() as session:
        with pytest.raises(error):
            fire(session, APPLICATION, record, trigger, actor, now=_now())
        assert not session.new
    assert record == Record(id=3, version=5, state="submitted")


def test_comment_missing_leaves_the_state_unchanged() -> None:
    record = Record(id=3, version=1, state="submitted")
    commission = Actor(Role.COMMISSION, "c", country_code="LV")
    with Session() as session, pytest.raises(InvalidInput, match="needs a comment"):
        fire(session, APPLICATION, record, "decline", commission, now=_now(), comment="  ")
    assert record.state == "submitted"


def _now() -> datetime:
    return datetime(2027, 3, 2, tzinfo=UTC)
