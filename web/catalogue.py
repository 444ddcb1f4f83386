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
    # workflow.services.calls.CallStatus: a call's status (pages and templates).
    "call_status": ("upcoming", "open", "closed", "finished", "cancelled"),
    # web/pages/admin_audit.py and admin_preview.py: a filter or day not understood.
    "audit": ("bad_filter",),
    "preview": ("bad_date",),
    # workflow.questionnaires.Problem.why; ReportVersion.outcome ('' is pending).
    "quest.problem": ("missing", "too_long", "not_number", "not_option"),
    "quest.outcome": ("accepted", "returned", "pending"),
    # web/templates/admin/preview.html: the sweep's kinds of change and the mail occasions
    # (notifications/table.py; the outbox's lists name them too).
    "preview.change": ("calls_created", "applications_expired", "reports_created",
                       "reports_overdue", "memberships_overdue", "memberships_inactive"),
    "occasion": ("application_acknowledged", "application_admitted", "application_declined",
                 "application_forwarded", "application_not_admitted", "application_reopened",
                 "application_returned", "application_submitted",
                 "application_submitted_direct", "application_withdrawn", "call_opened",
                 "decision_corrected",
                 "commission_reminder", "draft_reminder", "membership_inactive",
                 "membership_reinstated", "membership_removed", "membership_withdrawn",
                 "password_reset", "report_accepted", "report_due_today", "report_overdue",
                 "report_reminder", "report_returned", "report_submitted", "user_invitation",
                 "jury_review_reminder", "jury_review_due_today"),
    # web/pages/*: ``?done=...`` after an action that is not a workflow trigger.
    "done": ("saved", "uploaded", "password", "created", "extended", "cancelled", "invited",
             # web/pages/auth.py, account.py
             "password_reset", "profile", "password_changed",
             # web/pages/admin_users.py, admin_cities.py, admin_members.py, admin_outbox.py
             "user_saved", "user_deactivated", "user_reactivated", "country_saved",
             "city_created", "city_saved", "member_remove", "member_reinstate",
             "member_withdraw", "outbox_retried", "outbox_discarded",
             # web/pages/questionnaires.py
             "quest_saved", "quest_attached", "quest_removed",
             # web/pages/calendar.py
             "calendar_renewed",
             # web/pages/jury.py
             "jury_scored", "jury_declined", "jury_assigned", "jury_spread", "jury_deadline",
             "juror_invited",
             # web/pages/announcements.py
             "announcement_created", "announcement_added", "announcement_removed",
             "announcement_published", "announcement_corrected"),
    # web/feeds.py: an event's words, by workflow.feeds.EntryKind.
    "calendar.call_window": ("summary", "description"),
    "calendar.commission_deadline": ("summary", "description"),
    "calendar.report_due": ("summary", "description"),
    "calendar.review_deadline": ("summary", "description"),
    # web/templates/admin/outbox*.html: a message's status; members/change.html.
    "outbox.status": ("pending", "sending", "sent", "failed", "dead", "discarded"),
    "member.change": ("remove", "reinstate", "withdraw", "remove_hint", "reinstate_hint",
                      "withdraw_hint", "confirm_remove", "confirm_reinstate",
                      "confirm_withdraw"),
    # web/templates/error.html: ``error.<status>.title`` and ``.text``; a 503 shows its
    # reason instead of a text.
    "error": (*(f"{code}.{part}" for code in (403, 404, 405, 422, 500)
                for part in ("title", "text")), "503.title"),
    # audit actions that are not workflow triggers (services, imports, administration).
    "event": ("create", "upload_signed_form", "import", "revoke_admission", "invite",
              "extend", "cancel",
              # web/accounts.py
              "request_password_reset", "reset_password", "change_password",
              # workflow/services/users.py, directory.py
              "change",
              # workflow/services/jury.py, decisions.py
              "set_review_deadline", "jury_recommendation",
              # workflow/services/announcements.py
              "add_decision", "remove_decision"),
    # web/refusals.py: the ``kind`` of a refusal; templates: the route of an application.
    "kind": ("application", "report", "membership", "call", "city", "country", "user", "message",
             "outbox message", "outbox status", "assignment", "announcement"),
    # workflow/services/jury.py: the default criteria of config/defaults.toml [jury]
    # (a criterion an operator adds needs its words here and in the catalogues).
    # web/templates/jury: a recommendation (jury.RECOMMENDATIONS, ApplicationScores).
    "jury.rec": ("admit", "not_admit", "tied"),
    "jury.criterion": ("commitment", "good_practice", "vision", "implementation_plan",
                       "monitoring"),
    # web/templates/announcements: the jury's recommendation, the list's two groups.
    "announcement.jury": ("admit", "not_admit", "tied"),
    "announcement.list": ("drafts", "published"),
    "route": ("commission", "direct"),
    # web/templates/applications: submission problems by field (form_problems).
    "problem": ("mayor_name", "mayor_title", "contact_name", "contact_email", "signed_form",
                # workflow/services/applications.py FormProblem.key
                "word_count", "rating", "unknown_area", "rate_missing"),
    # web/queries.py: the latest reviewer comment (Feedback.action) and system notes.
    "feedback": ("return_to_city", "decline", "not_admit", "return_for_revision"),
    "note": ("from_application", "late", "caught_up"),
    # web/forms.py LABELS and the form refusals: a field by the id of its label.
    "field": ("value", "endorsement", "comment", "summary", "reason", "opens_on", "closes_on",
              "commission_deadline", "timezone", "call_name", "population", "website",
              "mayor_name", "mayor_title", "contact_name", "contact_email", "contact_phone",
              "motivation", "implementation_plan", "signed_by", "signed_form", "language",
              "email", "password", "new_password", "repeat_password", "name", "role", "code",
              "country", "commission_name", "commission_email", "city_name", "review_deadline",
              # workflow.names: the names per language (forms, CSV columns, refusals)
              "commission_name_en", "commission_name_fr", "commission_name_lv",
              "commission_name_ru", "name_en", "name_fr", "name_lv", "name_ru",
              # workflow/services/announcements.py
              "title"),
    # web/listing.py FilterRefused: the label of a list's page and sort parameters.
    "list": ("page", "sort"),
    # web/pages/messages.py: an outbox row's status, as the person it was sent to reads it.
    "mail.status": ("pending", "sending", "sent", "failed", "dead"),
    # workflow.member_views.Attention.kind: what waits for a city (web/templates/home).
    "home.attention": ("application_returned", "draft_deadline", "report_open",
                       "report_overdue", "report_returned"),
    # web/pages/home.py: the tiles of the Commission's and the Institute's home (plural).
    "home.tile": ("submitted", "returned", "forwarded", "under_review", "reports", "overdue",
                  "inactive"),
    # workflow/regions.py REGIONS (and "none"); workflow/statistics.py OUTCOMES, COMPLIANCE.
    "region": ("africa", "arab_states", "asia_pacific", "europe_north_america",
               "latin_america_caribbean", "none"),
    "stats.outcome": ("admitted", "not_admitted", "declined", "withdrawn", "expired",
                      "in_progress"),
    "stats.compliance": ("on_time", "late", "missing", "not_due"),
    # web/refusals.py: ``refusal.<WorkflowError.reason>``.
    "refusal": (
        "invalid_input.filter_choice", "invalid_input.filter_number",
        # workflow/services/directory.py FieldInvalid, users.py; notifications/operator.py
        "invalid_input.not_email", "invalid_input.not_language", "invalid_input.not_one_line",
        "invalid_input.not_country_code", "invalid_input.not_timezone",
        "invalid_input.no_country", "invalid_input.email_taken", "invalid_input.not_role",
        "invalid_input.city_needed", "invalid_input.country_needed",
        "invalid_input.city_exists", "invalid_input.outbox_not_retryable",
        "invalid_input.outbox_not_discardable", "invalid_input.none_chosen",
        "call_overlap", "call.closes_before_opens", "call.deadline_before_close",
        "call.timezone", "call.quota", "call.cancelled", "call.ends_earlier",
        "call.window_closed", "call.finished", "call.deadline_earlier",
        "call.already_cancelled", "call.cannot_cancel", "call.reason_required", "date_range",
        "not_found", "forbidden.role", "forbidden.role_for", "forbidden.other_city",
        "forbidden.other_country", "transition_not_allowed", "outside_window",
        "deadline_passed.resubmit", "deadline_passed.endorse", "quota_exceeded", "conflict",
        "unexplained", "sign_in_failed", "too_many_attempts.account",
        "too_many_attempts.client", "csrf",
        "busy", "database_unavailable", "upload_quota_exceeded", "upload_not_stored",
        "invalid_input.password_empty", "invalid_input.password_short",
        "invalid_input.password_personal", "invalid_input.password_guessable",
        "invalid_input.password_differ", "invalid_input.too_long", "invalid_input.required",
        "invalid_input.not_date", "invalid_input.not_number", "invalid_input.too_small",
        "invalid_input.too_large", "invalid_input.not_valid", "invalid_input.upload_empty",
        "invalid_input.upload_too_large", "invalid_input.upload_not_pdf",
        "invalid_input.signed_form_missing",
        # workflow/services/questionnaire_reports.py
        "invalid_input.no_questionnaire", "invalid_input.answers_incomplete",
        "invalid_input.answers_locked", "invalid_input.report_file_type",
        "invalid_input.unknown_question",
        # workflow/services (applications, submissions, reports, common), web/actions.py
        "invalid_input.form_not_ready", "invalid_input.endorsement_missing",
        "invalid_input.summary_missing", "invalid_input.reports_closed",
        "invalid_input.comment_needed", "not_confirmed",
        # web/accounts.py: password reset and change
        "wrong_password", "too_many_resets", "invalid_input.reset_link_used",
        "invalid_input.reset_link_expired",
        # workflow/services/announcements.py
        "invalid_input.title_missing", "invalid_input.announcement_published",
        "invalid_input.announcement_draft", "invalid_input.announcement_empty",
        "invalid_input.not_in_announcement", "invalid_input.not_unannounced",
        "invalid_input.in_other_announcement", "invalid_input.no_such_call",
        "invalid_input.no_decisions_chosen",
        # workflow/services/decisions.py check_decide: the city and Commission after a decision
        "invalid_input.decided_unannounced",
        # workflow/services/directory.py upsert_country: a region not in workflow.regions
        "invalid_input.not_region",
        # InvalidInput(message, why, **params) / NotAllowed(message, why) at their raise
        # sites (tests/integration/test_refusal_reasons.py finds every one).
        "forbidden.own_city", "forbidden.disabled", "invalid_input.already_member",
        "invalid_input.no_call", "invalid_input.application_exists",
        "invalid_input.unknown_fields", "invalid_input.ratings", "invalid_input.rating",
        "invalid_input.form_locked", "invalid_input.signed_form_locked",
        "invalid_input.own_action", "invalid_input.not_expired.draft",
        "invalid_input.announcement_step",
        "invalid_input.not_expired.returned", "invalid_input.call_cancelled",
        "invalid_input.invitation_used", "invalid_input.invitation_expired",
        "invalid_input.out_of_range", "invalid_input.not_status",
        "invalid_input.city_ambiguous", "invalid_input.csv_columns", "invalid_input.csv_rows",
        "invalid_input.csv_required", "invalid_input.not_year", "invalid_input.not_change",
        "invalid_input.not_review",
        # workflow/services/jury.py and the juror's scope (actors, users)
        "forbidden.not_assigned", "invalid_input.not_juror", "invalid_input.own_country",
        "invalid_input.already_assigned", "invalid_input.not_reviewable",
        "invalid_input.scores_missing", "invalid_input.unknown_criteria",
        "invalid_input.score_range", "invalid_input.not_recommendation",
        "invalid_input.jurors_too_few", "invalid_input.juror_country_needed",
        # web/pages/jury.py, web/api_jury.py
        "invalid_input.decline_reason_needed", "invalid_input.juror_needed",
        "invalid_input.call_needed", "invalid_input.not_of_call",
    ),
}  # fmt: skip

#: Kinds whose states have words of their own (``state.report.submitted``): a language may
#: need them to agree with the noun ("rapport soumis", "candidature soumise"). The states of
#: other kinds say ``state.<state>`` (web.i18n.state_word).
KIND_STATES = ("membership", "report")

#: Triggers of a report with a confirmation page (``?done=report_<trigger>``).
_REPORT_DONE = ("submit", "accept", "return_for_revision")


#: Families of :data:`RUNTIME` said with a count (``ngettext(id, id, n)``): extracted as
#: plural entries, so that ``make translations`` keeps their forms.
PLURAL = frozenset({"home.tile"})


def runtime_ids() -> set[str]:
    """Every message id that the code assembles at run time."""
    ids: set[str] = set()
    for workflow in WORKFLOWS.values():
        ids.add(f"diagram.{workflow.name}")
        ids.update(f"state.{s.value}" for s in workflow.states)
        if workflow.name in KIND_STATES:
            ids.update(f"state.{workflow.name}.{s.value}" for s in workflow.states)
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
) -> Iterator[tuple[int, str, str | tuple[str, str], list[str]]]:
    """A Babel extraction method: the run-time ids, each as a ``gettext`` call on line 1
    (``ngettext`` for the families of :data:`PLURAL`)."""
    for message_id in sorted(runtime_ids()):
        if message_id.rsplit(".", 1)[0] in PLURAL:
            yield 1, "ngettext", (message_id, message_id), []
        else:
            yield 1, "gettext", message_id, []
