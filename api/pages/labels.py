"""Names people read for the engine's codes: roles, phases and states (msgids marked with N_)."""

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


def label_helpers(locale: str) -> dict:
    """The label functions bound to ``locale``, for templates."""
    return {"role_name": lambda c: role_name(locale, c), "phase_name": lambda c: phase_name(locale, c),
            "state_name": lambda c: state_name(locale, c),
            "gate_kind_name": lambda c: gate_kind_name(locale, c),
            "part_name": lambda c: part_name(locale, c)}
