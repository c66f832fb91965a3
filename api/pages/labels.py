"""Names people read for the engine's codes: roles, phases, states, and what the audit trail
records (kinds of item and changes); msgids marked with N_."""

from __future__ import annotations

from chefoskop.i18n import N_, gettext

ROLES = {
    "bestallare": N_("Commissioner (beställare)"), "processagare": N_("Process owner"),
    "processledare": N_("Process leader"), "samverkan": N_("Consultation body (samverkan)"),
    "ledning": N_("Top management"), "stabschef": N_("Head of staff function"),
    "chefers_chef": N_("Managers' manager"), "chef": N_("First-line manager"),
    "skyddsombud": N_("Safety representative"),
}
PHASES = {"forbered": N_("Prepare"), "aktivitet": N_("Activity"), "analys": N_("Analysis"),
          "close": N_("Closing")}
STATES = {
    "pending": N_("Not started"), "queued": N_("Starting"), "open": N_("Open"),
    "closed": N_("Done"), "claimed": N_("Claimed"), "completed": N_("Completed"),
    "cancelled": N_("Cancelled"), "approved": N_("Approved"), "rejected": N_("Rejected"),
    "running": N_("Running"), "failed": N_("Failed"), "dead": N_("Given up"),
    "sent": N_("Sent"), "held": N_("Held for digest"), "digested": N_("In digest"),
    "recorded": N_("Recorded"),
}
GATE_KINDS = {"order": N_("Order"), "approval": N_("Approval"), "consultation": N_("Consultation"),
              "risk_assessment": N_("Risk assessment")}
PARTS = {"start": N_("Start"), "kunskaper": N_("Knowledge"), "metoder": N_("Methods")}

# The audit trail: what kind of item changed (``AuditEvent.entity``) ...
ENTITIES = {
    "process": N_("Process"), "step": N_("Step"), "task": N_("Task"), "gate": N_("Gate"),
    "survey": N_("Mapping"), "consultation": N_("Samverkan consultation"),
    "risk_assessment": N_("Risk assessment"), "development_area": N_("Development area"),
    "plan": N_("Action plan"), "action": N_("Action"), "follow_up_meeting": N_("Follow-up meeting"),
    "action_review": N_("Follow-up of an action"), "process_evaluation": N_("Evaluation of the process"),
    "role_assignment": N_("Role assignment"), "delegation": N_("Delegation"), "person": N_("Person"),
    "unit": N_("Unit"), "organisation": N_("Organisation"), "instrument": N_("Mapping instrument"),
    "outbox": N_("Mail"), "api_token": N_("API token"),
}
# ... and the change (``AuditEvent.action``), each with its own label, so a list of them reads.
ACTIONS = {
    "created": N_("Created"), "started": N_("Started"), "queued": N_("Queued to open"),
    "open": N_("Opened"), "opened": N_("Sent out"), "closed": N_("Closed"),
    "phase": N_("Moved to another phase"), "claimed": N_("Claimed"), "unclaimed": N_("Given back"),
    "completed": N_("Completed"), "cancelled": N_("Cancelled"), "reassigned": N_("Reassigned"),
    "rerouted": N_("Routed anew"), "reminded": N_("Reminder sent"), "escalated": N_("Escalated"),
    "approve": N_("Approved"), "reject": N_("Rejected"), "recorded": N_("Recorded"),
    "superseded": N_("Replaced"), "assigned": N_("Role given"), "ended": N_("Role ended"),
    "delegated": N_("Delegated"), "activated": N_("Delegation in force"), "revoked": N_("Revoked"),
    "expired": N_("Expired"), "adopted": N_("Adopted"), "changed": N_("Changed"),
    "updated": N_("Updated"), "withdrawn": N_("Withdrawn"),
    "risk_pending": N_("Awaiting the risk decision"), "approved": N_("Cleared to start"),
    "in_progress": N_("Work started"), "done": N_("Marked done"), "dropped": N_("Dropped"),
    "scheduled": N_("Scheduled"), "rescheduled": N_("Moved to another date"), "held": N_("Held"),
    "new_cycle": N_("New cycle started"), "close_extended": N_("Close date moved"),
    "structure_imported": N_("Structure imported"), "imported": N_("Imported"),
    "retried": N_("Sent again"), "exported": N_("Data exported"), "erased": N_("Anonymised"),
    "password_set": N_("Password set"),
}
# States the audit trail names beyond ``STATES``; and where one code means something else for
# one kind of item (a meeting "held" is not mail held for a digest).
MORE_STATES = {
    "draft": N_("Draft"), "adopted": N_("Adopted"), "planned": N_("Planned"),
    "risk_pending": N_("Risk assessment pending"), "in_progress": N_("In progress"),
    "done": N_("Done"), "dropped": N_("Dropped"), "scheduled": N_("Scheduled"),
    "active": N_("Active"), "ended": N_("Ended"), "revoked": N_("Revoked"), "expired": N_("Expired"),
    "withdrawn": N_("Withdrawn"), "erased": N_("Anonymised"),
}
STATES_OF = {
    "follow_up_meeting": {"held": N_("Held")},
    "plan": {"closed": N_("Closed")},
    "survey": {"closed": N_("Closed")},
}


def _label(table: dict[str, str], locale: str, code: str | None) -> str:
    if code is None:
        return ""
    msgid = table.get(code)
    return gettext(locale, msgid) if msgid else code


def role_name(locale: str, code: str | None) -> str:
    """A role's name for people."""
    return _label(ROLES, locale, code)


def phase_name(locale: str, code: str | None) -> str:
    """A phase's name for people."""
    return _label(PHASES, locale, code)


def state_name(locale: str, code: str | None) -> str:
    """A state's name for people."""
    return _label(STATES, locale, code)


def gate_kind_name(locale: str, code: str | None) -> str:
    """A gate kind's name for people."""
    return _label(GATE_KINDS, locale, code)


def part_name(locale: str, code: str | None) -> str:
    """The name of a part of the method."""
    return _label(PARTS, locale, code)


def readable_code(code: str) -> str:
    """A code nobody has named yet, as words ('structure_imported' → 'structure imported')."""
    return code.replace("_", " ")


def entity_name(locale: str, code: str | None) -> str:
    """What kind of item an audit event is about, for people."""
    if code is None:
        return ""
    return gettext(locale, ENTITIES[code]) if code in ENTITIES else readable_code(code)


def action_name(locale: str, code: str | None) -> str:
    """The change an audit event records, for people."""
    if code is None:
        return ""
    return gettext(locale, ACTIONS[code]) if code in ACTIONS else readable_code(code)


def audit_state_name(locale: str, entity: str | None, code: str | None) -> str:
    """A state an item of kind ``entity`` was in or came to (a step's phase by its name)."""
    if code is None:
        return ""
    if code in PHASES:
        return phase_name(locale, code)
    msgid = STATES_OF.get(entity or "", {}).get(code) or STATES.get(code) or MORE_STATES.get(code)
    return gettext(locale, msgid) if msgid else readable_code(code)


def state_change(locale: str, entity: str | None, from_state: str | None, to_state: str | None) -> str:
    """'Öppen → Tagen'; the new state alone for something new; '' when nothing changed."""
    if from_state == to_state:
        return ""
    before, after = (audit_state_name(locale, entity, s) for s in (from_state, to_state))
    if not before:
        return after
    return f"{before} → {after or '–'}"


def choices(locale: str, table: dict[str, str], name) -> list[tuple[str, str]]:
    """(code, label) for every code of ``table``, by label: the options of a filter."""
    return sorted(((code, name(locale, code)) for code in table), key=lambda c: c[1].casefold())


def label_helpers(locale: str) -> dict:
    """The label functions bound to ``locale``, for templates."""
    return {"role_name": lambda c: role_name(locale, c), "phase_name": lambda c: phase_name(locale, c),
            "state_name": lambda c: state_name(locale, c),
            "gate_kind_name": lambda c: gate_kind_name(locale, c),
            "part_name": lambda c: part_name(locale, c)}
