"""The portal's message ids that code builds at run time, for ``pybabel extract``.

Babel finds the ids written out in ``_("...")``/``ngettext(...)`` calls in the templates and
the Python code by itself. Ids assembled at run time (``_('state.' ~ app.state)``) it cannot
see; :func:`extract` yields them so that ``make translations`` keeps them in the
catalogues. Most come from the workflow tables (states, triggers, roles, challenges), so a
new state or trigger asks for its words the next time the catalogues are updated; the rest
are listed in :data:`RUNTIME` next to the place that builds them.

babel.cfg maps this file to :func:`extract` (``[web.catalogue.extract: web/catalogue.py]``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from workflow.machines import WORKFLOWS
from workflow.services.applications import CHALLENGES, FORM_FIELDS
from workflow.states import Role

#: Ids named in variables rather than in a ``_()`` call, by the code that names them.
RUNTIME: dict[str, tuple[str, ...]] = {
    # web/pages/*: ``?done=...`` after an action that is not a workflow trigger.
    "done": ("saved", "uploaded", "password", "created", "extended", "cancelled", "invited"),
    # audit actions that are not workflow triggers (services, imports, administration).
    "event": ("create", "upload_signed_form", "import", "revoke_admission", "invite",
              "extend", "cancel"),
    # web/refusals.py: the ``kind`` of a refusal; templates: the route of an application.
    "kind": ("application", "report", "membership", "call", "city", "country", "user"),
    "route": ("commission", "direct"),
    # web/templates/applications: submission problems by field (form_problems).
    "problem": ("mayor_name", "mayor_title", "contact_name", "contact_email", "signed_form"),
    # web/forms.py LABELS and the form refusals: a field by the id of its label.
    "field": ("value", "endorsement", "comment", "summary", "reason", "opens_on", "closes_on",
              "commission_deadline", "timezone", "call_name", "population", "website",
              "mayor_name", "mayor_title", "contact_name", "contact_email", "contact_phone",
              "motivation", "implementation_plan", "signed_by", "signed_form", "language",
              "email", "password", "new_password", "repeat_password", "name", "role", "code",
              "country", "commission_name", "commission_email"),
    # web/refusals.py: ``refusal.<WorkflowError.reason>``.
    "refusal": (
        "not_found", "forbidden.role", "forbidden.role_for", "forbidden.other_city",
        "forbidden.other_country", "transition_not_allowed", "outside_window",
        "deadline_passed.resubmit", "deadline_passed.endorse", "quota_exceeded", "conflict",
        "sign_in_failed", "too_many_attempts.account", "too_many_attempts.client", "csrf",
        "busy", "upload_quota_exceeded", "upload_not_stored",
        "invalid_input.password_empty", "invalid_input.password_short",
        "invalid_input.password_personal", "invalid_input.password_guessable",
        "invalid_input.password_differ", "invalid_input.too_long", "invalid_input.required",
        "invalid_input.not_date", "invalid_input.not_number", "invalid_input.too_small",
        "invalid_input.too_large", "invalid_input.not_valid", "invalid_input.upload_empty",
        "invalid_input.upload_too_large", "invalid_input.upload_not_pdf",
        "invalid_input.signed_form_missing",
    ),
}  # fmt: skip

#: Triggers of a report with a confirmation page (``?done=report_<trigger>``).
_REPORT_DONE = ("submit", "accept", "return_for_revision")


def runtime_ids() -> set[str]:
    """Every message id that the code assembles at run time."""
    ids: set[str] = set()
    for workflow in WORKFLOWS.values():
        ids.add(f"diagram.{workflow.name}")
        ids.update(f"state.{s.value}" for s in workflow.states)
        ids.update(f"action.{workflow.name}.{t}" for t in workflow.triggers)
        ids.update(f"event.{t}" for t in workflow.triggers)
    application = WORKFLOWS["application"]
    ids.update(f"next.{s.value}" for s in application.states)
    ids.update(f"done.{t}" for t in application.triggers)
    ids.update(f"done.report_{t}" for t in _REPORT_DONE)
    ids.update(f"role.{r.value}" for r in Role)
    ids.update(f"challenge.{c}" for c in CHALLENGES)
    ids.update(f"problem.{f}" for f in FORM_FIELDS)
    for family, names in RUNTIME.items():
        ids.update(f"{family}.{name}" for name in names)
    return ids


def extract(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, str, list[str]]]:
    """A Babel extraction method: the run-time ids, each as a ``gettext`` call on line 1."""
    for message_id in sorted(runtime_ids()):
        yield 1, "gettext", message_id, []
