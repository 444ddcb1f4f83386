"""Domain errors. Each builds its own message from its arguments and says what to do."""

from __future__ import annotations

from datetime import date


class WorkflowError(Exception):
    """Base of every refusal a person can act on. ``code`` is stable for the API;
    ``params`` hold the message's parts so that a page can say it in another language."""

    code = "workflow_error"
    status = 400
    params: dict[str, object] = {}  # noqa: RUF012 (replaced per instance, never mutated)

    @property
    def reason(self) -> str:
        """``code``, refined where one code covers several refusals (``forbidden``)."""
        return self.code


#: Where a person finds the keys of each kind of record (the command line's list; the
#: portal's pages show the same lists).
WHERE_TO_LOOK = {
    "country": ("codes", "gnlc country list"),
    "city": ("names", "gnlc city list"),
    "application": ("numbers", "gnlc app list"),
    "call": ("names", "gnlc call list"),
    "user": ("addresses", "gnlc user list"),
    "membership of": ("members", "gnlc member list"),
    "report": ("numbers", "gnlc report list"),
    "outbox message": ("numbers", "gnlc outbox list"),
}


class NotFound(WorkflowError):
    code = "not_found"
    status = 404

    def __init__(self, kind: str, key: object) -> None:
        what, command = WHERE_TO_LOOK.get(kind, ("", ""))
        hint = f"`{command}` lists the {what}." if command else "Check it in the list."
        super().__init__(f"No {kind} {key!r}. {hint}")
        self.params = {"kind": kind, "key": key}


class NotAllowed(WorkflowError):
    """Wrong role or outside the actor's scope."""

    code = "forbidden"
    status = 403

    def __init__(self, message: str, why: str = "", **params: object) -> None:
        super().__init__(message)
        self.why = why
        self.params = params

    @property
    def reason(self) -> str:
        return f"{self.code}.{self.why}" if self.why else self.code


class TransitionNotAllowed(WorkflowError):
    code = "transition_not_allowed"
    status = 409

    def __init__(self, kind: str, key: object, action: str, state: str, allowed: list[str]) -> None:
        hint = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"Cannot {action.replace('_', ' ')} {kind} {key}: it is {state.replace('_', ' ')}. "
            f"Actions allowed now: {hint}."
        )
        self.action = action
        self.state = state
        self.params = {"kind": kind, "key": key, "action": action, "state": state,
                       "allowed": allowed}  # fmt: skip


class OutsideWindow(WorkflowError):
    code = "outside_window"
    status = 409

    def __init__(self, what: str, opens: date, closes: date, timezone: str, call: str) -> None:
        super().__init__(
            f"{what} is only possible from {opens:%d %B %Y} to {closes:%d %B %Y} "
            f"(23:59:59 {timezone}), the window of call {call}. "
            "Keep the draft and submit it in the next window."
        )
        self.params = {"opens": opens, "closes": closes, "timezone": timezone, "call": call}


class DeadlinePassed(WorkflowError):
    code = "deadline_passed"
    status = 409

    def __init__(self, what: str, deadline: date, timezone: str, hint: str, why: str) -> None:
        super().__init__(
            f"{what}: the deadline was {deadline:%d %B %Y} 23:59:59 {timezone}. {hint}"
        )
        self.why = why
        self.params = {"deadline": deadline, "timezone": timezone}

    @property
    def reason(self) -> str:
        return f"{self.code}.{self.why}"


class QuotaExceeded(WorkflowError):
    code = "quota_exceeded"
    status = 409

    def __init__(self, country: str, call: str, quota: int) -> None:
        super().__init__(
            f"{country} has already endorsed {quota} cities in call {call}, its quota: "
            "no further city can be endorsed in this call. This application can still be "
            "returned to the city or declined; for questions about the quota, ask the Institute."
        )
        self.params = {"country": country, "call": call, "quota": quota}


class Conflict(WorkflowError):
    """Someone else changed the record first (stale version or a lost race)."""

    code = "conflict"
    status = 409

    def __init__(self, kind: str, key: object, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"{kind.capitalize()} {key} was changed by someone else meanwhile{extra}. "
            "Reload it, check the new state and try again."
        )
        self.params = {"kind": kind, "key": key}


class InvalidInput(WorkflowError):
    """Input a rule refuses. ``why`` names the rule: the reason ``invalid_input.<why>``
    (the catalogue's ``refusal.invalid_input.<why>`` says it to a reader, with ``params``);
    every refusal a person can meet has one (tests/integration/test_refusal_reasons.py)."""

    code = "invalid_input"
    status = 422
    why = ""

    def __init__(self, message: str, why: str = "", **params: object) -> None:
        super().__init__(message)
        # A subclass may have set its own ``why``/``params`` before calling this.
        if why:
            self.why = why
        if params:
            self.params = params

    @property
    def reason(self) -> str:
        return f"{self.code}.{self.why}" if self.why else self.code


class CallOverlap(InvalidInput):
    """A call's window would overlap the window of another call that is not cancelled."""

    code = "call_overlap"
    status = 409

    def __init__(self, call: str, other: str, opens: date, closes: date, timezone: str) -> None:
        super().__init__(
            f"The window of call {call} would overlap call {other} ({opens:%d %B %Y} to "
            f"{closes:%d %B %Y}, {timezone}). Pick other dates, or extend or cancel call "
            f"{other} instead."
        )
        self.params = {"call": call, "other": other, "opens": opens, "closes": closes,
                       "timezone": timezone}  # fmt: skip


class CallRefused(InvalidInput):
    """A call cannot be created, extended or cancelled like this; ``why`` says which rule
    (its reason is ``call.<why>``)."""

    code = "call"

    def __init__(self, why: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.why = why
        self.params = params

    @property
    def reason(self) -> str:
        return f"{self.code}.{self.why}"


class DateRangeReversed(InvalidInput):
    """A filter's date range ends before it begins."""

    code = "date_range"

    def __init__(self, since: date, until: date) -> None:
        super().__init__(
            f"The range ends ({until:%d %B %Y}) before it begins ({since:%d %B %Y}): "
            "swap the dates."
        )
        self.params = {"since": since, "until": until}


class Busy(WorkflowError):
    """Other changes to the same records kept colliding with this one (deadlocks or
    serialization failures, retried a few times). Nothing was saved."""

    code = "busy"
    status = 503

    def __init__(self) -> None:
        super().__init__(
            "Other changes to the same records got in the way, and nothing was saved. "
            "Try again in a moment."
        )


class Unavailable(WorkflowError):
    """The database server did not answer: down, restarting, or refusing connections
    (``workflow.db.unreachable``). A change in flight may or may not have been saved (its
    COMMIT may have reached the server), so the reader is asked to look before sending
    it again."""

    code = "database_unavailable"
    status = 503
    #: Seconds a client is asked to wait (``Retry-After``): a restart takes a few.
    retry_after = 30

    def __init__(self) -> None:
        super().__init__(
            "The service is briefly unavailable: its database did not answer. Try again "
            "in a minute. If you were saving a change, check whether it is there before "
            "you send it again."
        )
