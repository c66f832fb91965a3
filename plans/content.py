"""What the exports show: a plan with its areas, actions, evidence and follow-ups; the evidence pack."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chefoskop import clock
from chefoskop.i18n import N_, format_date, format_datetime, format_number, gettext
from flows.engine.areas import plan_areas
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
    "recorded": N_("Recorded"),
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


def moment(value, lang: str) -> str:
    """A recorded moment in the organisation's time zone: '6 okt. 2027 09:00' ('' for None)."""
    return format_datetime(value, lang, "d MMM y HH:mm") if value else ""


def label(lang: str, value: str | None) -> str:
    """The translated label of a status or answer code ('' for None)."""
    return gettext(lang, LABELS[value]) if value in LABELS else (value or "")


def _names(session: Session, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())


def action_rows(session: Session, plan_id: int, lang: str) -> list[list]:
    """One row per action, in the order of ``COLUMNS``: dates as ``date``, the cost a number or None."""
    actions = list(session.scalars(select(Action).where(Action.plan_id == plan_id).order_by(Action.id)))
    names = _names(session, (a.responsible_id for a in actions))
    return [
        [
            a.development_area,
            a.goal,
            a.expected_effect,
            a.description,
            names.get(a.responsible_id, ""),
            a.start_date,
            a.end_date,
            a.cost_estimate,
            a.follow_up_date,
            label(lang, a.status),
            a.result or "",
        ]
        for a in actions
    ]


def _assessments(session: Session, action_ids: list[int], lang: str) -> dict[int, dict]:
    """The newest risk assessment of each action, with the decision on it."""
    latest: dict[int, RiskAssessment] = {}
    for ra in session.scalars(
        select(RiskAssessment).where(RiskAssessment.action_id.in_(action_ids)).order_by(RiskAssessment.id)
    ):
        latest[ra.action_id] = ra
    gate_ids = {r.gate_id for r in latest.values()}
    gates = {g.id: g for g in session.scalars(select(Gate).where(Gate.id.in_(gate_ids)))} if gate_ids else {}
    names = _names(session, (g.decided_by_id for g in gates.values()))
    return {
        action_id: {
            "on": format_date(ra.recorded_at, lang, "medium"),
            "safety_representative": ra.safety_representative,
            "conclusion": ra.conclusion,
            "revision": ra.action_revision,
            "decision": _decision(gates.get(ra.gate_id), names, lang),
        }
        for action_id, ra in latest.items()
    }


def _actions(session: Session, plan: ActionPlan, lang: str) -> list[dict]:
    actions = list(session.scalars(select(Action).where(Action.plan_id == plan.id).order_by(Action.id)))
    names = _names(session, (a.responsible_id for a in actions))
    assessed = _assessments(session, [a.id for a in actions], lang)
    return [
        {
            "id": a.id,
            "number": number,
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
        for number, a in enumerate(actions, 1)
    ]


def _follow_ups(session: Session, plan: ActionPlan, lang: str) -> list[dict]:
    described = {
        a.id: capital(action_name(lang, n, a.description))
        for n, a in enumerate(
            session.scalars(select(Action).where(Action.plan_id == plan.id).order_by(Action.id)), 1
        )
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
            "recorded_at": moment(c.recorded_at, lang),
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
    from plans.history import plan_history_lines  # the history builds on this module's labels

    plan = get(session, ActionPlan, plan_id)
    process = get(session, Process, plan.process_id)
    unit = session.get(Unit, plan.unit_id) if plan.unit_id else None
    consultations = list(
        session.scalars(select(Consultation).where(Consultation.plan_id == plan.id).order_by(Consultation.id))
    )
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
        "history": plan_history_lines(session, plan.id, lang),
    }


def action_name(lang: str, number: int | None, description: str) -> str:
    """'action 2 “Inför administrativt stöd”': its number in the plan (as in the plan's table) and text."""
    if number is None:
        return gettext(lang, "an action")
    return gettext(lang, "action %(number)s “%(name)s”", number=number, name=description)


def capital(text: str) -> str:
    """``text`` with its first letter upper case (a fragment that starts a sentence or a cell)."""
    return text[:1].upper() + text[1:]


def _decision(gate: Gate | None, names: dict[int, str], lang: str) -> dict:
    """A gate's decision: the status in words, who decided, when and why ('' while undecided)."""
    if gate is None:
        return {"state": "", "status": "", "by": "", "at": "", "reason": "", "decided": False}
    decided = gate.status in ("approved", "rejected")
    return {
        "state": gate.status,
        "status": label(lang, gate.status) if decided or gate.status == "cancelled"
        else gettext(lang, "Not yet decided"),
        "by": names.get(gate.decided_by_id, "") if decided else "",
        "at": moment(gate.decided_at, lang) if decided else "",
        "reason": gate.reason or "",
        "decided": decided,
    }


def _unit_paths(session: Session, organisation_id: int) -> dict[int, tuple[str, ...]]:
    """Each unit's names from the top of the organisation down, to order plans as the organisation is."""
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.organisation_id == organisation_id))}
    paths: dict[int, tuple[str, ...]] = {}

    def path(unit_id: int, depth: int = 0) -> tuple[str, ...]:
        if unit_id not in paths:
            unit = units[unit_id]
            above = path(unit.parent_id, depth + 1) if unit.parent_id in units and depth < 50 else ()
            paths[unit_id] = (*above, unit.name)
        return paths[unit_id]

    for unit_id in units:
        path(unit_id)
    return paths


def _plan_identity(plan: ActionPlan, unit: str, owner: str, lang: str) -> dict:
    return {
        "id": plan.id,
        "title": plan.title,
        "level": gettext(lang, LEVELS[plan.level]),
        "unit": unit or gettext(lang, "The whole organisation"),
        "owner": owner,
        "status": label(lang, plan.status),
        "adopted": format_date(plan.adopted_at, lang, "medium"),
    }


def evidence_context(session: Session, process_id: int, lang: str) -> dict:
    """Everything the evidence pack shows: the process's own gates and consultations, then plan by plan
    (ordered as the organisation is: A, each B followed by its C units) every gate with its decision,
    every consultation and every risk assessment with its approval, each under the plan it belongs to."""
    process = get(session, Process, process_id)
    definition = definition_of(process)
    gate_titles = {g.key: g.title for g in definition.action_gates + definition.plan_gates}
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
    plans = list(session.scalars(select(ActionPlan).where(ActionPlan.process_id == process.id)))
    actions = list(session.scalars(select(Action).where(Action.process_id == process.id).order_by(Action.id)))
    people = [g.decided_by_id for g in gates] + [r.recorded_by_id for r in assessments]
    names = _names(session, people + [p.owner_id for p in plans])
    paths = _unit_paths(session, process.organisation_id)
    plans.sort(key=lambda p: (paths.get(p.unit_id, ()), p.level, p.id))
    numbers: dict[int, int] = {}
    seen: dict[int, int] = {}
    for a in actions:
        seen[a.plan_id] = seen.get(a.plan_id, 0) + 1
        numbers[a.id] = seen[a.plan_id]
    action_plan = {a.id: a.plan_id for a in actions}
    described = {a.id: a.description for a in actions}
    gate_by_id = {g.id: g for g in gates}
    step_numbers = dict(session.execute(
        select(StepInstance.id, StepInstance.step_no).where(StepInstance.process_id == process.id)).all())

    def the_action(action_id: int) -> str:
        return capital(action_name(lang, numbers.get(action_id), described.get(action_id, "")))

    def concerns(g: Gate) -> str:
        return the_action(g.action_id) if g.action_id is not None else gettext(lang, "The plan")

    sections = {
        p.id: {
            **_plan_identity(p, paths.get(p.unit_id, ("",))[-1] if p.unit_id else "",
                             names.get(p.owner_id, ""), lang),
            "gates": [],
            "consultations": [],
            "assessments": [],
        }
        for p in plans
    }
    step_gates = []
    for g in gates:
        if g.step_id is not None:
            step = definition.step(step_numbers[g.step_id])
            subject = gettext(lang, "Step %(number)s: %(title)s", number=step.number,
                              title=step.title.get(lang))
            step_gates.append({"subject": subject, "title": step.gate(g.key).title.get(lang),
                               **_decision(g, names, lang)})
            continue
        plan_id = g.plan_id if g.plan_id is not None else action_plan.get(g.action_id)
        title = gate_titles[g.key].get(lang) if g.key in gate_titles else g.key
        row = {"subject": concerns(g), "title": title, **_decision(g, names, lang)}
        sections[plan_id]["gates"].append(row)
    step_consultations = []
    for c, row in zip(consultations, _consultations(session, consultations, lang), strict=True):
        (sections[c.plan_id]["consultations"] if c.plan_id in sections else step_consultations).append(row)
    for r in assessments:
        sections[action_plan[r.action_id]]["assessments"].append(
            {
                "action": the_action(r.action_id),
                "revision": r.action_revision,
                "risks": r.risks,
                "participants": ", ".join(r.participants),
                "safety_representative": r.safety_representative,
                "conclusion": r.conclusion,
                "recorded_by": names.get(r.recorded_by_id, ""),
                "recorded_at": moment(r.recorded_at, lang),
                "decision": _decision(gate_by_id.get(r.gate_id), names, lang),
            }
        )
    return {
        **_header(session, process, lang),
        "gates": step_gates,
        "consultations": step_consultations,
        "plans": [sections[p.id] for p in plans],
    }
