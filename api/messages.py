"""Every message the API sends a person: problem titles, details and field reasons.

Msgids are English and marked with ``N_`` so Babel extracts them; they are
translated when a response is built, in the requester's language.
"""

from __future__ import annotations

from chefoskop.i18n import N_, gettext

# problem code -> (title, detail). Details may use the problem's params.
PROBLEMS: dict[str, tuple[str, str]] = {
    "not_found": (N_("Not found"), N_("There is nothing here, or it is not yours to see.")),
    "illegal_transition": (N_("Not possible now"),
                           N_("This cannot be done in the state the item is in.")),
    "gate_unmet": (N_("A gate stands in the way"),
                   N_("A condition that guards this change has not been met yet.")),
    "unknown_role": (N_("Unknown role"), N_("The role is not one of the method's roles.")),
    "not_role_holder": (N_("Not your role"), N_("This needs a role you do not hold in the process.")),
    "stale_version": (N_("Changed by someone else"),
                      N_("The item has changed since you read it. Reload it and try again.")),
    "conflict": (N_("Someone else got there first"),
                 N_("The item was changed at the same moment by someone else.")),
    "invalid_data": (N_("The request has errors"), N_("Correct the fields named below.")),
    "validation": (N_("The request has errors"), N_("Correct the fields named below.")),
    "unauthenticated": (N_("Sign in first"), N_("You need to sign in to do this.")),
    "forbidden": (N_("Not allowed"), N_("You may not do this.")),
    "csrf_failed": (N_("The form has expired"),
                    N_("The request lacked a valid CSRF token. Reload the page and try again.")),
    "invalid_credentials": (N_("Sign-in failed"), N_("The e-mail address or the password is wrong.")),
    "organisation_required": (N_("Choose your organisation"),
                              N_("The address exists in several organisations; name yours.")),
    "rate_limited": (N_("Too many attempts"),
                     N_("Wait %(seconds)s seconds before you try to sign in again.")),
    "idempotency_mismatch": (N_("The key is already used"),
                             N_("This Idempotency-Key was used with a different request.")),
    "idempotency_in_progress": (N_("The request is still running"),
                                N_("A request with this Idempotency-Key has not finished yet.")),
    "payload_too_large": (N_("Too large"), N_("The request is larger than %(limit)s bytes.")),
    "unsupported_media_type": (N_("Unsupported file"),
                               N_("Send CSV files or an XLSX workbook.")),
    "method_not_allowed": (N_("Method not allowed"), N_("This address does not accept that method.")),
    "bad_request": (N_("Bad request"), N_("The request could not be understood.")),
    "link_invalid": (N_("The link does not work"),
                     N_("The link is damaged or was not made by us. Sign in to find your tasks.")),
    "link_expired": (N_("The link has expired"),
                     N_("The link is too old. Sign in to find your tasks.")),
    "task_closed": (N_("The task is already done"),
                    N_("This task has been completed or cancelled; nothing more is needed.")),
    "task_reassigned": (N_("The task has been handed on"),
                        N_("Someone else has this task now. Sign in to see your own tasks.")),
    "import_invalid": (N_("The file has errors"),
                       N_("Nothing was imported. Correct the rows listed below and try again.")),
    "instrument_invalid": (N_("The instrument file has errors"),
                           N_("Nothing was imported. Correct the places listed below and try again.")),
    "not_configured": (N_("Not configured"), N_("Single sign-on is not set up here.")),
    "sign_on_failed": (N_("Single sign-on failed"),
                       N_("The identity provider did not confirm who you are.")),
    "sign_on_unavailable": (N_("Single sign-on is out of reach"),
                            N_("The identity provider cannot be reached just now. Try again in a moment.")),
    "no_account": (N_("No account"), N_("There is no active account for this address.")),
    "service_unavailable": (N_("Try again shortly"),
                            N_("The service is busy. Try again in a moment.")),
    "server_error": (N_("Something went wrong"),
                     N_("An unexpected error happened; it has been logged.")),
}

# gate code of a GateUnmet refusal -> what is missing, said in place of the generic
# "gate_unmet" detail (``problem_text(locale, "gate_unmet", gate=...)``).
GATE_DETAILS: dict[str, str] = {
    "risk_assessment": N_("The action has no approved risk assessment of its current content. Record "
                          "the risk assessment, with a safety representative taking part, and have it "
                          "approved before the action starts."),
    "plan_consultation": N_("The plan has no recorded samverkan consultation. Record the consultation "
                            "(the body, who took part, the unions' views and the outcome) before the plan "
                            "is adopted."),
    "plan_actions": N_("The plan has no actions. Add at least one action before the plan is adopted."),
    "step_7_open": N_("Development areas are prioritised at Dela värld (step 7), which the process has "
                      "not reached yet."),
    "step_8_open": N_("Action plans are made from step 8 (Åtgärda), which the process has not reached "
                      "yet."),
    "step_9_open": N_("The process is evaluated in step 9 (Följ upp), which is not open."),
    "follow_up_meeting": N_("Every adopted plan needs a follow-up meeting before the process is "
                            "evaluated."),
}

# reason code -> message, for one field.
REASONS: dict[str, str] = {
    "required": N_("This field is required."),
    "invalid": N_("This value is not valid."),
    "not_found": N_("No such item in your organisation."),
    "too_long": N_("The value is too long."),
    "too_short": N_("The value is too short."),
    "too_large": N_("The value is too large or too deeply nested."),
    "not_a_number": N_("Enter a number."),
    "not_an_integer": N_("Enter a whole number."),
    "not_a_date": N_("Enter a date as YYYY-MM-DD."),
    "not_a_datetime": N_("Enter a date and time with a time zone."),
    "not_text": N_("Enter text."),
    "not_a_boolean": N_("Enter true or false."),
    "not_a_list": N_("Enter a list."),
    "not_an_object": N_("Enter an object with named fields."),
    "not_allowed": N_("This value is not one of the allowed choices."),
    "out_of_range": N_("The value is out of range."),
    "unknown_field": N_("This field is not expected."),
    "invalid_json": N_("The body is not valid JSON."),
    "invalid_email": N_("Enter a valid e-mail address."),
    "invalid_character": N_("The text contains a character that is not allowed."),
    "before_start": N_("The end comes before the start."),
    "in_past": N_("The date has already passed."),
    "in_future": N_("The date lies in the future."),
    "self": N_("A role cannot be delegated to oneself."),
    "ended": N_("This has already ended."),
    "revoked": N_("This has already been revoked."),
    "person_xor_body": N_("Give either a person or a body."),
    "level": N_("The unit is not at the plan's level."),
    "negative": N_("The value cannot be negative."),
    "missing_roles": N_("These roles have no holder: %(roles)s."),
    "unknown_role": N_("Unknown role."),
    "duplicate": N_("The value appears more than once in the file."),
    "duplicate_sheet": N_("Another sheet of the file holds the same kind of rows."),
    "taken": N_("The value is already in use."),
    "unknown_parent": N_("No unit has this code."),
    "unknown_unit": N_("No unit has this code."),
    "unknown_person": N_("No person has this e-mail address."),
    "parent_level": N_("A unit's parent must be at a higher level (A above B above C)."),
    "cycle": N_("The units would form a loop."),
    "not_active": N_("The person is not active."),
    "inactive": N_("The person is not active."),
    "missing_column": N_("The column is missing."),
    "unreadable": N_("The file cannot be read."),
    "empty": N_("The file has no rows."),
    "too_many_rows": N_("The file has too many rows."),
    "not_running": N_("The process is not running."),
    "no_sheets": N_("The workbook has none of the sheets units, people or roles."),
    "missing_reviews": N_("These actions need a review: %(actions)s."),
    "no_mandate": N_("The person holds no role with mandate at this level."),
    "holds_active_role": N_("The person still holds a role in a running process; hand it over first."),
    "not_in_plan": N_("The action is not part of this plan."),
    "not_after_meeting": N_("The next follow-up must come after the meeting."),
    "not_a_plan_area": N_("Name one of the plan's development areas."),
    "no_development_area": N_("No development area is assigned to this level and unit."),
    "no_unit_mandate": N_("The owner holds no mandate for this unit: the plan belongs to the manager "
                          "of the unit."),
    "before_action_start": N_("The follow-up date comes before the action starts."),
    "not_a_participant": N_("The safety representative must be one of the participants."),
    "not_a_safety_representative": N_("Name one of the process's safety representatives "
                                      "(skyddsombud)."),
    "unions_views": N_("Record the unions' views, even if they had no objections."),
}

FIELD_PREFIX = N_("%(field)s: %(message)s")
FALLBACK_PROBLEM = "bad_request"
FALLBACK_REASON = "invalid"


def problem_text(locale: str, code: str, **params: object) -> tuple[str, str]:
    """The title and detail of problem ``code`` in ``locale``.

    A refused gate (``gate_unmet`` with a ``gate`` param the engine gave) says which gate and
    what is missing: pass the error's params, ``problem_text(lang, exc.code, **exc.params)``.
    """
    fallback = PROBLEMS[FALLBACK_PROBLEM]
    title, detail = PROBLEMS.get(code, fallback)
    if code == "gate_unmet" and isinstance(params.get("gate"), str):
        detail = GATE_DETAILS.get(params["gate"], detail)
    try:
        return gettext(locale, title), gettext(locale, detail, **params)
    except (KeyError, ValueError):  # a detail whose params were not given
        return gettext(locale, title), gettext(locale, fallback[1])


def reason_text(locale: str, reason: str, **params: object) -> str:
    """The message for one field's reason code in ``locale``."""
    fallback = REASONS[FALLBACK_REASON]
    msgid = REASONS.get(reason, fallback)
    try:
        return gettext(locale, msgid, **params)
    except (KeyError, ValueError):
        return gettext(locale, fallback)


def field_message(locale: str, label: str, reason: str, **params: object) -> str:
    """'<label>: <reason message>' in ``locale``, naming the field for the reader."""
    return gettext(locale, FIELD_PREFIX, field=label, message=reason_text(locale, reason, **params))

# Field names of the API's bodies and queries, as a person reads them.
FIELD_LABELS: dict[str, str] = {
    "name": N_("Name"), "email": N_("E-mail address"), "title": N_("Title"),
    "password": N_("Password"), "current_password": N_("Current password"),
    "new_password": N_("New password"), "organisation": N_("Organisation"),
    "code": N_("Code"), "level": N_("Level"), "parent_id": N_("Parent unit"),
    "parent_code": N_("Parent unit code"), "unit_id": N_("Unit"), "unit_code": N_("Unit code"),
    "person_id": N_("Person"), "body_id": N_("Body"), "role": N_("Role"), "roster": N_("Role roster"),
    "locale": N_("Language"), "digest": N_("Daily digest"), "is_org_admin": N_("Organisation admin"),
    "active": N_("Active"), "to_person_id": N_("New assignee"), "from_person_id": N_("Delegating person"),
    "starts_at": N_("Starts"), "ends_at": N_("Ends"), "reason": N_("Reason"),
    "decision": N_("Decision"), "evidence": N_("Evidence"), "expected_version": N_("Version"),
    "data": N_("Form data"), "subject": N_("Subject"), "held_on": N_("Held on"),
    "participants": N_("Participants"), "outcome": N_("Outcome"), "opinions": N_("Opinions"),
    "owner_id": N_("Owner"), "development_area": N_("Development area"), "goal": N_("Goal"),
    "description": N_("Description"), "responsible_id": N_("Responsible"),
    "start_date": N_("Start date"), "end_date": N_("End date"),
    "expected_effect": N_("Expected effect"), "cost_estimate": N_("Cost estimate"),
    "follow_up_date": N_("Follow-up date"), "risks": N_("Risks"), "risk": N_("Risk"),
    "likelihood": N_("Likelihood"), "consequence": N_("Consequence"), "measure": N_("Measure"),
    "safety_representative": N_("Safety representative"), "conclusion": N_("Conclusion"),
    "result": N_("Result"), "limit": N_("Page size"), "offset": N_("Offset"),
    "status": N_("Status"), "due_before": N_("Due before"), "since": N_("From"),
    "until": N_("Before"), "ids": N_("Rows"), "file": N_("File"), "process_id": N_("Process"),
    "expires_in_days": N_("Valid for days"), "Idempotency-Key": N_("Idempotency key"),
    "body": N_("Request body"),
    "areas": N_("Development areas"), "priority": N_("Priority"), "on": N_("Meeting date"),
    "location": N_("Place"), "participant_ids": N_("Invited people"), "reviews": N_("Action reviews"),
    "action_id": N_("Action"), "carried_out": N_("Carried out as planned?"),
    "intended_effect": N_("Did it have the intended effect?"),
    "served_goals": N_("Did it serve the goals?"), "learned": N_("What did we learn?"),
    "other_effects": N_("Other effects"), "next_follow_up_on": N_("Next follow-up"),
    "notes": N_("Notes"), "what_worked": N_("What worked"), "what_to_change": N_("What to change"),
    "before_after": N_("Before and after"), "next_cycle": N_("Next cycle"),
}


def field_label(locale: str, field: str) -> str:
    """A readable name for a field path such as 'roster.2.role' (its last named part)."""
    names = [p for p in field.split(".") if p and not p.isdigit()]
    last = names[-1] if names else field
    msgid = FIELD_LABELS.get(last)
    return gettext(locale, msgid) if msgid else last
