"""What a gate asks for, the evidence gathered, and what each decision will do (said before the click)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.pages.labels import phase_name
from api.pages.views import names
from api.present import gate_title
from chefoskop.i18n import gettext
from flows import rules
from flows.engine.queries import current_gates, definition_of, latest_tasks, step_spec
from models import Consultation, Gate, Process, RiskAssessment, StepInstance


@dataclass
class Requirement:
    """One condition of a gate and the evidence that it is met."""

    title: str
    status: str
    met: bool
    entries: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    by: str | None = None
    link: str | None = None
    reopen_reason: str | None = None


def _activity_requirements(db: Session, process: Process, step: StepInstance, gate: Gate,
                           locale: str) -> list[Requirement]:
    spec = step_spec(process, step)
    cut = rules.position_index((gate.requirements or {}).get("before", "close"))
    activities = [a for a in spec.activities if rules.position_index(a.phase) < cut]
    latest = latest_tasks(db, step, [a.key for a in activities])
    tasks = [t for a in activities for t in latest[a.key]]
    people = names(db, [t.completed_by_id for t in tasks])
    out = []
    for activity in activities:
        labels = {f.key: f.label.get(locale) for f in activity.fields}
        for task in latest[activity.key] or [None]:
            if task is None:
                out.append(Requirement(activity.title.get(locale), "pending", False))
                continue
            entries = [(labels.get(k, k), str(v)) for k, v in (task.data or {}).items()]
            out.append(Requirement(activity.title.get(locale), task.status, task.status == "completed",
                                   entries, people.get(task.completed_by_id), f"/tasks/{task.id}",
                                   task.reopen_reason))
    return out


def _gate_requirements(db: Session, process: Process, step: StepInstance, gate: Gate,
                       locale: str) -> list[Requirement]:
    spec = step_spec(process, step)
    cut = rules.position_index((gate.requirements or {}).get("before", "close"))
    out = []
    for key, other in current_gates(db, step).items():
        if other.id == gate.id or rules.position_index(spec.gate(key).before) >= cut:
            continue
        entries = consultation_entries(db, other, locale)
        out.append(Requirement(gate_title(process, other, step, locale), other.status,
                               other.status == "approved", entries, link=f"/gates/{other.id}"))
    return out


def consultation_entries(db: Session, gate: Gate, locale: str) -> list[tuple[str, str]]:
    """The consultations recorded for a gate, as label/value pairs."""
    entries = []
    stmt = select(Consultation).where(Consultation.gate_id == gate.id).order_by(Consultation.id)
    for c in db.scalars(stmt):
        entries += [(gettext(locale, "Held on"), c.held_on.isoformat()),
                    (gettext(locale, "Subject"), c.subject),
                    (gettext(locale, "Participants"), ", ".join(c.participants)),
                    (gettext(locale, "Opinions"), c.opinions or "–"),
                    (gettext(locale, "Outcome"), c.outcome)]
    return entries


def _risk_entries(db: Session, gate: Gate, locale: str) -> list[Requirement]:
    out = []
    for r in db.scalars(select(RiskAssessment).where(RiskAssessment.gate_id == gate.id)
                        .order_by(RiskAssessment.id)):
        risks = "; ".join(str(x.get("risk", x)) if isinstance(x, dict) else str(x) for x in r.risks)
        out.append(Requirement(gettext(locale, "Risk assessment"), "recorded", True, [
            (gettext(locale, "Risks"), risks or "–"),
            (gettext(locale, "Participants"), ", ".join(map(str, r.participants))),
            (gettext(locale, "Safety representative"), r.safety_representative),
            (gettext(locale, "Conclusion"), r.conclusion)]))
    if not out:
        out.append(Requirement(gettext(locale, "Risk assessment"), "pending", False))
    return out


def requirements(db: Session, process: Process, gate: Gate, locale: str) -> list[Requirement]:
    """Every condition of ``gate`` with its evidence."""
    if gate.action_id is not None:
        return _risk_entries(db, gate, locale)
    if gate.step_id is None:
        return []
    step = db.get(StepInstance, gate.step_id)
    return (_gate_requirements(db, process, step, gate, locale)
            + _activity_requirements(db, process, step, gate, locale))


def _step_approval(process: Process, step: StepInstance, before: str, locale: str) -> str:
    definition = definition_of(process)
    if before != "close":
        return gettext(locale, "The phase %(phase)s of step %(no)s starts.",
                       phase=phase_name(locale, before), no=step.step_no)
    if step.step_no < definition.last_step_no:
        nxt = definition.step(step.step_no + 1)
        return gettext(locale, "Step %(no)s closes and step %(next_no)s, %(next)s, opens.",
                       no=step.step_no, next_no=nxt.number, next=nxt.title.get(locale))
    return gettext(locale, "Step %(no)s closes and the process is completed.", no=step.step_no)


def _step_rejection(process: Process, step: StepInstance, gate: Gate, locale: str) -> str:
    spec = step_spec(process, step)
    if gate.kind == "order":
        return gettext(locale, "The process is cancelled: its open tasks and gates are closed.")
    reopens = (gate.requirements or {}).get("reopens") or list(spec.gate(gate.key).reopens)
    titles = [spec.activity(k).title.get(locale) for k in reopens]
    back_to = rules.reopen_position([spec.activity(k).phase for k in reopens])
    return gettext(locale, "This work is reopened with your reason: %(work)s. The step goes back to "
                   "the phase %(phase)s and this gate is asked again when the work is done.",
                   work="; ".join(titles), phase=phase_name(locale, back_to))


def consequences(db: Session, process: Process, gate: Gate, locale: str) -> tuple[str, str]:
    """What approval and what rejection of ``gate`` will do, in ``locale``."""
    if gate.action_id is not None:
        return (gettext(locale, "The action is approved and may start."),
                gettext(locale, "The action may not start; a new risk assessment is asked for."))
    if gate.step_id is None:
        return (gettext(locale, "The action plan may be adopted."), "")
    step = db.get(StepInstance, gate.step_id)
    before = (gate.requirements or {}).get("before", "close")
    if gate.kind == "consultation":  # recorded, never rejected: samverkan has no veto
        return _step_approval(process, step, before, locale), ""
    return _step_approval(process, step, before, locale), _step_rejection(process, step, gate, locale)


def history(db: Session, gate: Gate) -> list[Gate]:
    """Earlier rounds of the same gate (same step or action, same key), newest first."""
    stmt = select(Gate).where(Gate.process_id == gate.process_id, Gate.key == gate.key,
                              Gate.id != gate.id, Gate.decided_at.is_not(None))
    if gate.step_id is not None:
        stmt = stmt.where(Gate.step_id == gate.step_id)
    elif gate.action_id is not None:
        stmt = stmt.where(Gate.action_id == gate.action_id)
    else:
        stmt = stmt.where(Gate.plan_id == gate.plan_id)
    return list(db.scalars(stmt.order_by(Gate.id.desc())))
