"""What the exports show: a plan with its areas, actions, evidence and follow-ups; the evidence pack."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chefoskop import clock
from chefoskop.i18n import N_, format_date, format_datetime, format_number, gettext
from flows.engine.areas import plan_areas, plan_history
from flows.engine.followup import plan_follow_ups
from flows.engine.queries import definition_of, get
from models import (
    Action,
    ActionPlan,
    Body,
    Consultation,
    Gate,
    Organisation,
    Person,
    Process,
    RiskAssessment,
    StepInstance,
    Unit,
)

LABELS = {
    "draft": N_("Draft"),
    "adopted": N_("Adopted"),
    "closed": N_("Closed"),
    "planned": N_("Planned"),
    "risk_pending": N_("Risk assessment pending"),
    "approved": N_("Approved"),
    "in_progress": N_("In progress"),
    "done": N_("Done"),
    "dropped": N_("Dropped"),
    "pending": N_("Not yet open"),
    "open": N_("Open"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
    "scheduled": N_("Scheduled"),
    "held": N_("Held"),
    "yes": N_("Yes"),
    "partly": N_("Partly"),
    "no": N_("No"),
    "not_yet": N_("Not yet known"),
}
LEVELS = {
    "A": N_("Overall plan (level A)"),
    "B": N_("Unit plan (level B)"),
    "C": N_("Workplace plan (level C)"),
}
COLUMNS = (
    N_("Development area"),
    N_("Goal"),
    N_("Expected effect"),
    N_("What is done"),
    N_("Responsible"),
    N_("Start"),
    N_("End"),
    N_("Cost estimate"),
    N_("Follow-up date"),
    N_("Status"),
    N_("Result"),
)


def label(lang: str, value: str | None) -> str:
    """The translated label of a status or answer code ('' for None)."""
    return gettext(lang, LABELS[value]) if value in LABELS else (value or "")


def _names(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())


def action_rows(session: Session, plan_id: int, lang: str) -> list[list]:
    """One row per action, in the order of ``COLUMNS`` (dates ISO, cost a number)."""
    actions = list(session.scalars(select(Action).where(Action.plan_id == plan_id).order_by(Action.id)))
    names = _names(session, (a.responsible_id for a in actions))
    return [
        [
            a.development_area,
            a.goal,
            a.expected_effect,
            a.description,
            names.get(a.responsible_id, ""),
            a.start_date.isoformat(),
            a.end_date.isoformat(),
            a.cost_estimate,
            a.follow_up_date.isoformat() if a.follow_up_date else "",
            label(lang, a.status),
            a.result or "",
        ]
        for a in actions
    ]


def _assessments(session: Session, action_ids: list[int], lang: str) -> dict[int, dict]:
    latest: dict[int, dict] = {}
    for ra in session.scalars(
        select(RiskAssessment).where(RiskAssessment.action_id.in_(action_ids)).order_by(RiskAssessment.id)
    ):
        latest[ra.action_id] = {
            "on": format_date(ra.recorded_at, lang, "medium"),
            "safety_representative": ra.safety_representative,
            "conclusion": ra.conclusion,
            "revision": ra.action_revision,
        }
    return latest


def _actions(session: Session, plan: ActionPlan, lang: str) -> list[dict]:
    actions = list(session.scalars(select(Action).where(Action.plan_id == plan.id).order_by(Action.id)))
    names = _names(session, (a.responsible_id for a in actions))
    assessed = _assessments(session, [a.id for a in actions], lang)
    return [
        {
            "id": a.id,
            "area": a.development_area,
            "goal": a.goal,
            "effect": a.expected_effect,
            "what": a.description,
            "who": names.get(a.responsible_id, ""),
            "start": format_date(a.start_date, lang, "medium"),
            "end": format_date(a.end_date, lang, "medium"),
            "cost": format_number(a.cost_estimate, lang) if a.cost_estimate is not None else "",
            "follow_up": format_date(a.follow_up_date, lang, "medium"),
            "status": label(lang, a.status),
            "result": a.result or "",
            "assessment": assessed.get(a.id),
        }
        for a in actions
    ]


def _follow_ups(session: Session, plan: ActionPlan, lang: str) -> list[dict]:
    described = {
        a.id: a.description for a in session.scalars(select(Action).where(Action.plan_id == plan.id))
    }
    found = []
    for meeting, reviews in plan_follow_ups(session, plan.id):
        found.append(
            {
                "on": format_date(meeting.held_on or meeting.scheduled_on, lang, "medium"),
                "status": label(lang, meeting.status),
                "participants": ", ".join(meeting.participants),
                "next": format_date(meeting.next_follow_up_on, lang, "medium"),
                "notes": meeting.notes,
                "reviews": [
                    {
                        "action": described.get(r.action_id, ""),
                        "carried_out": label(lang, r.carried_out),
                        "effect": label(lang, r.intended_effect),
                        "goals": label(lang, r.served_goals),
                        "learned": r.learned,
                        "other": r.other_effects,
                    }
                    for r in reviews
                ],
            }
        )
    return found


def _consultations(session: Session, rows: list[Consultation], lang: str) -> list[dict]:
    bodies = (
        {
            b.id: b.name
            for b in session.scalars(select(Body).where(Body.id.in_({c.body_id for c in rows if c.body_id})))
        }
        if rows
        else {}
    )
    names = _names(session, (c.recorded_by_id for c in rows))
    return [
        {
            "on": format_date(c.held_on, lang, "medium"),
            "subject": c.subject,
            "body": bodies.get(c.body_id, ""),
            "participants": ", ".join(c.participants),
            "opinions": c.opinions,
            "outcome": c.outcome,
            "recorded_by": names.get(c.recorded_by_id, ""),
            "recorded_at": format_datetime(c.recorded_at, lang),
        }
        for c in rows
    ]


def _header(session: Session, process: Process, lang: str) -> dict:
    org = get(session, Organisation, process.organisation_id)
    return {
        "organisation": org.name,
        "process": process.name,
        "cycle": process.cycle,
        "generated": format_date(clock.now(), lang, "long"),
    }


def plan_context(session: Session, plan_id: int, lang: str) -> dict:
    """Everything the plan PDF shows."""
    plan = get(session, ActionPlan, plan_id)
    process = get(session, Process, plan.process_id)
    unit = session.get(Unit, plan.unit_id) if plan.unit_id else None
    consultations = list(
        session.scalars(select(Consultation).where(Consultation.plan_id == plan.id).order_by(Consultation.id))
    )
    history = plan_history(session, plan.id)
    return {
        **_header(session, process, lang),
        "title": plan.title,
        "level": gettext(lang, LEVELS[plan.level]),
        "unit": unit.name if unit else "",
        "owner": _names(session, [plan.owner_id]).get(plan.owner_id, ""),
        "status": label(lang, plan.status),
        "adopted": format_date(plan.adopted_at, lang, "medium"),
        "areas": [{"title": a.title, "goal": a.goal} for a in plan_areas(session, plan.id)],
        "actions": _actions(session, plan, lang),
        "consultations": _consultations(session, consultations, lang),
        "follow_ups": _follow_ups(session, plan, lang),
        "history": [
            {
                "at": format_datetime(h.at, lang),
                "who": h.actor_name or h.actor_label,
                "what": f"{h.entity} {h.entity_id}: {h.action}",
                "change": f"{label(lang, h.from_state)} → {label(lang, h.to_state)}"
                if h.from_state != h.to_state
                else "",
            }
            for h in history
        ],
    }


def _gate_subject(session: Session, process: Process, gate: Gate, lang: str) -> tuple[str, str]:
    definition = definition_of(process)
    if gate.step_id is not None:
        step = definition.step(get(session, StepInstance, gate.step_id).step_no)
        title = step.gate(gate.key).title.get(lang)
        return gettext(
            lang, "Step %(number)s: %(title)s", number=step.number, title=step.title.get(lang)
        ), title
    title = next(
        g.title.get(lang) for g in definition.action_gates + definition.plan_gates if g.key == gate.key
    )
    if gate.plan_id is not None:
        return get(session, ActionPlan, gate.plan_id).title, title
    return get(session, Action, gate.action_id).description, title


def evidence_context(session: Session, process_id: int, lang: str) -> dict:
    """Everything the evidence pack shows: gates, consultations and risk assessments with dates and names."""
    process = get(session, Process, process_id)
    gates = list(session.scalars(select(Gate).where(Gate.process_id == process.id).order_by(Gate.id)))
    consultations = list(
        session.scalars(
            select(Consultation)
            .where(Consultation.process_id == process.id)
            .order_by(Consultation.held_on, Consultation.id)
        )
    )
    assessments = list(
        session.scalars(
            select(RiskAssessment).where(RiskAssessment.process_id == process.id).order_by(RiskAssessment.id)
        )
    )
    names = _names(session, [g.decided_by_id for g in gates] + [r.recorded_by_id for r in assessments])
    actions = {
        a.id: a.description for a in session.scalars(select(Action).where(Action.process_id == process.id))
    }
    gate_rows = []
    for g in gates:
        subject, title = _gate_subject(session, process, g, lang)
        gate_rows.append(
            {
                "subject": subject,
                "title": title,
                "status": label(lang, g.status),
                "decided_by": names.get(g.decided_by_id, ""),
                "reason": g.reason or "",
                "decided_at": format_datetime(g.decided_at, lang) if g.decided_at else "",
            }
        )
    return {
        **_header(session, process, lang),
        "gates": gate_rows,
        "consultations": _consultations(session, consultations, lang),
        "assessments": [
            {
                "action": actions.get(r.action_id, ""),
                "revision": r.action_revision,
                "risks": r.risks,
                "participants": ", ".join(r.participants),
                "safety_representative": r.safety_representative,
                "conclusion": r.conclusion,
                "recorded_by": names.get(r.recorded_by_id, ""),
                "recorded_at": format_datetime(r.recorded_at, lang),
            }
            for r in assessments
        ],
    }
