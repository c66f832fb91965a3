"""A plan's history as sentences people read: each audited change becomes one localised line.

``plan_history_lines(session, plan_id, lang)`` is what a page or a PDF shows: one dict per
entry with ``at`` (the aware datetime), ``when`` (formatted), ``who``, ``what`` (the
sentence) and ``change`` (the status change in words, '' when none). The parts are
reusable on their own: ``history_subjects`` reads once what the sentences name (actions
by their number in the plan, gates by title, consultation subjects, meeting dates,
people), and ``history_sentence(lang, entry, subjects)`` turns one
``flows.engine.HistoryEntry`` into text without touching the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chefoskop.i18n import N_, format_date, gettext
from flows.definition import Text
from flows.engine.areas import HistoryEntry, plan_history
from flows.engine.queries import definition_of, get
from models import (
    Action,
    ActionPlan,
    ActionReview,
    Consultation,
    FollowUpMeeting,
    Gate,
    Person,
    Process,
    RiskAssessment,
)
from plans.content import action_name, capital, label, moment

ENTITIES = {
    "plan": N_("Plan"),
    "action": N_("Action"),
    "gate": N_("Gate"),
    "consultation": N_("Samverkan consultation"),
    "risk_assessment": N_("Risk assessment"),
    "follow_up_meeting": N_("Follow-up meeting"),
    "action_review": N_("Follow-up of an action"),
}
# One sentence per (entity, audited action). Placeholders: %(action)s names an action
# ("action 2 “…”"), %(subject)s what a gate concerns, %(gate)s the gate's title.
SENTENCES: dict[tuple, str] = {
    ("plan", "created"): N_("The plan was created"),
    ("plan", "changed"): N_("The plan was changed"),
    ("plan", "adopted"): N_("The plan was adopted"),
    ("plan", "closed"): N_("The plan was closed when the next cycle started"),
    ("action", "created"): N_("%(action)s was added"),
    ("action", "changed"): N_(
        "%(action)s was changed (version %(revision)s) and needs a new risk assessment"
    ),
    ("action", "changed", "kept"): N_(
        "%(action)s was changed (version %(revision)s); its risk assessment still holds"
    ),
    ("action", "risk_pending"): N_("%(action)s awaits the decision on its risk assessment"),
    ("action", "approved"): N_("%(action)s may start: its risk assessment is approved"),
    ("action", "in_progress"): N_("%(action)s was started"),
    ("action", "done"): N_("%(action)s was marked done"),
    ("action", "dropped"): N_("%(action)s was dropped"),
    ("gate", "created"): N_("Gate “%(gate)s” was opened for %(subject)s"),
    ("gate", "open"): N_("Gate “%(gate)s” was opened for %(subject)s"),
    ("gate", "approve"): N_("Gate “%(gate)s” for %(subject)s was approved"),
    ("gate", "reject"): N_("Gate “%(gate)s” for %(subject)s was rejected"),
    ("gate", "recorded"): N_("Gate “%(gate)s” for %(subject)s is met: the consultation is recorded"),
    ("gate", "superseded"): N_("Gate “%(gate)s” for %(subject)s was replaced because the action changed"),
    ("gate", "cancelled"): N_("Gate “%(gate)s” for %(subject)s was cancelled"),
    ("consultation", "recorded"): N_("Samverkan consultation on “%(name)s”, held %(date)s, was recorded"),
    ("risk_assessment", "recorded"): N_("Risk assessment of %(subject)s (version %(revision)s) was recorded"),
    ("follow_up_meeting", "scheduled"): N_("Follow-up meeting scheduled for %(date)s"),
    ("follow_up_meeting", "rescheduled"): N_("Follow-up meeting moved from %(before)s to %(date)s"),
    ("follow_up_meeting", "cancelled"): N_("Follow-up meeting of %(date)s was cancelled"),
    ("follow_up_meeting", "held"): N_("Follow-up meeting held %(held)s; next follow-up %(date)s"),
    ("follow_up_meeting", "reminded"): N_("Reminder sent about the follow-up meeting of %(date)s"),
    ("follow_up_meeting", "escalated"): N_(
        "The follow-up meeting of %(date)s was escalated to level %(level)s"
    ),
    ("action_review", "recorded"): N_("Follow-up of %(subject)s was recorded"),
}
# The action's fields as the plan's table names them (a change lists what it changed).
FIELDS = {
    "development_area": N_("Development area"),
    "goal": N_("Goal"),
    "expected_effect": N_("Expected effect"),
    "description": N_("What is done"),
    "responsible_id": N_("Responsible"),
    "start_date": N_("Start"),
    "end_date": N_("End"),
    "cost_estimate": N_("Cost estimate"),
    "follow_up_date": N_("Follow-up date"),
}
# What an audited action is called when no sentence above fits (a new kind of event).
ACTIONS = {
    "created": N_("created"),
    "changed": N_("changed"),
    "recorded": N_("recorded"),
    "approve": N_("approved"),
    "reject": N_("rejected"),
    "superseded": N_("replaced"),
    "rescheduled": N_("moved"),
    "reminded": N_("reminder sent"),
    "escalated": N_("escalated"),
}


@dataclass(frozen=True)
class HistorySubjects:
    """What the sentences of one plan's history name, read once (language-independent)."""

    actions: dict[int, tuple[int, str]] = field(default_factory=dict)  # id → (number in plan, what)
    gates: dict[int, tuple[Text | None, int | None]] = field(default_factory=dict)  # → (title, action id)
    consultations: dict[int, tuple[str, date]] = field(default_factory=dict)  # → (subject, held on)
    assessments: dict[int, tuple[int, int]] = field(default_factory=dict)  # → (action id, revision)
    meetings: dict[int, tuple[date, date | None]] = field(default_factory=dict)  # → (scheduled, held)
    reviews: dict[int, int] = field(default_factory=dict)  # → action id
    people: dict[int, str] = field(default_factory=dict)  # person id → name


def history_subjects(
    session: Session, plan_id: int, entries: list[HistoryEntry] | None = None
) -> HistorySubjects:
    """Read what the history of plan ``plan_id`` names (``entries`` for the people in plan changes)."""
    plan = get(session, ActionPlan, plan_id)
    definition = definition_of(get(session, Process, plan.process_id))
    titles = {g.key: g.title for g in definition.action_gates + definition.plan_gates}
    actions = list(session.scalars(select(Action).where(Action.plan_id == plan.id).order_by(Action.id)))
    action_ids = [a.id for a in actions]
    gates = session.scalars(select(Gate).where(or_(Gate.plan_id == plan.id, Gate.action_id.in_(action_ids))))
    meetings = list(session.scalars(select(FollowUpMeeting).where(FollowUpMeeting.plan_id == plan.id)))
    people = {plan.owner_id}
    for e in entries or ():
        if e.entity == "plan" and e.action == "changed" and e.data:
            people |= {(e.data.get(k) or {}).get("owner_id") for k in ("before", "after")}
    people.discard(None)
    return HistorySubjects(
        actions={a.id: (n, a.description) for n, a in enumerate(actions, 1)},
        gates={g.id: (titles.get(g.key), g.action_id) for g in gates},
        consultations={
            c.id: (c.subject, c.held_on)
            for c in session.scalars(select(Consultation).where(Consultation.plan_id == plan.id))
        },
        assessments={
            r.id: (r.action_id, r.action_revision)
            for r in session.scalars(select(RiskAssessment).where(RiskAssessment.action_id.in_(action_ids)))
        },
        meetings={m.id: (m.scheduled_on, m.held_on) for m in meetings},
        reviews={
            r.id: r.action_id
            for r in session.scalars(
                select(ActionReview).where(ActionReview.meeting_id.in_([m.id for m in meetings]))
            )
        },
        people=dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(people))).all()),
    )


def _plan_change(lang: str, entry: HistoryEntry, subjects: HistorySubjects) -> str:
    before, after = (entry.data or {}).get("before") or {}, (entry.data or {}).get("after") or {}
    parts = []
    if before.get("title") != after.get("title"):
        parts.append(gettext(lang, "title “%(before)s” → “%(after)s”", before=before.get("title") or "",
                             after=after.get("title") or ""))
    if before.get("owner_id") != after.get("owner_id"):
        parts.append(gettext(lang, "owner %(before)s → %(after)s",
                             before=subjects.people.get(before.get("owner_id"), "–"),
                             after=subjects.people.get(after.get("owner_id"), "–")))
    sentence = gettext(lang, SENTENCES[("plan", "changed")])
    return f"{sentence}: {'; '.join(parts)}" if parts else sentence


def history_sentence(lang: str, entry: HistoryEntry, subjects: HistorySubjects | None = None) -> str:
    """One history entry as a sentence in ``lang`` ('Åtgärd 2 ”…” startades'), never raw codes."""
    subjects = subjects or HistorySubjects()
    data = entry.data or {}
    key = (entry.entity, entry.action)
    if entry.entity == "action" and entry.action not in ("created", "changed"):
        key = ("action", entry.to_state or entry.action)
    if key == ("plan", "changed"):
        return _plan_change(lang, entry, subjects)
    if key == ("action", "changed") and data.get("reassess") is False:  # only the follow-up date moved
        key = ("action", "changed", "kept")
    params: dict = {}

    def the_action(action_id) -> str:
        number, description = subjects.actions.get(action_id, (None, ""))
        return action_name(lang, number, description)

    if entry.entity == "action":
        params = {"action": capital(the_action(entry.entity_id)), "revision": data.get("revision", "")}
    elif entry.entity == "gate":
        title, action_id = subjects.gates.get(entry.entity_id, (None, data.get("action_id")))
        params = {
            "gate": title.get(lang) if title else gettext(lang, "Gate"),
            "subject": the_action(action_id) if action_id else gettext(lang, "the plan"),
        }
    elif entry.entity == "consultation":
        subject, held = subjects.consultations.get(entry.entity_id, ("", None))
        params = {"name": subject, "date": format_date(held, lang, "medium")}
    elif entry.entity == "risk_assessment":
        action_id, revision = subjects.assessments.get(
            entry.entity_id, (data.get("action_id"), data.get("revision", ""))
        )
        params = {"subject": the_action(action_id), "revision": revision}
    elif entry.entity == "follow_up_meeting":
        scheduled, held = subjects.meetings.get(entry.entity_id, (None, None))
        on = data.get("next_follow_up_on") if entry.action == "held" else data.get("on") or scheduled
        params = {
            "date": format_date(on, lang, "medium"),
            "before": format_date(data.get("from"), lang, "medium"),
            "held": format_date(held, lang, "medium"),
            "level": data.get("level_to", ""),
        }
    elif entry.entity == "action_review":
        params = {"subject": the_action(subjects.reviews.get(entry.entity_id, data.get("action_id")))}
    if key not in SENTENCES:  # a kind of event without its own sentence: still words, not codes
        entity = gettext(lang, ENTITIES[entry.entity]) if entry.entity in ENTITIES else entry.entity
        what = ACTIONS.get(entry.action)
        return f"{entity}: {gettext(lang, what) if what else label(lang, entry.action)}"
    sentence = gettext(lang, SENTENCES[key], **params)
    if entry.entity == "action" and entry.action == "changed" and data.get("fields"):
        sentence += " – " + ", ".join(gettext(lang, FIELDS[f]) for f in data["fields"] if f in FIELDS)
    reason = data.get("reason")
    return f"{sentence}: {reason}" if reason else sentence


def actor(lang: str, entry: HistoryEntry) -> str:
    """Who made the change: the person's name, or that chefoskop did it by itself (reminders, steps)."""
    if entry.actor_name:
        return entry.actor_name
    if entry.actor_label == "person":  # a person no longer named (erased)
        return "–"
    return gettext(lang, "chefoskop (automatically)")


def status_change(lang: str, entry: HistoryEntry) -> str:
    """'Planerad → Väntar på riskbedömning'; the new status alone for something new; '' when unchanged."""
    if entry.from_state == entry.to_state:
        return ""
    if entry.from_state is None:
        return label(lang, entry.to_state)
    return f"{label(lang, entry.from_state)} → {label(lang, entry.to_state)}"


def plan_history_lines(session: Session, plan_id: int, lang: str) -> list[dict]:
    """The plan's history, oldest first, ready to show: at, when, who, what (a sentence), change."""
    entries = plan_history(session, plan_id)
    subjects = history_subjects(session, plan_id, entries)
    return [
        {
            "at": e.at,
            "when": moment(e.at, lang),
            "who": actor(lang, e),
            "what": history_sentence(lang, e, subjects),
            "change": status_change(lang, e),
        }
        for e in entries
    ]
