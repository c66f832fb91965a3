"""Action plans and actions: adoption after consultation, start after an approved risk assessment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from flows import rules
from flows.engine.areas import action_area_error, require_plan_areas, require_plan_mandate
from flows.engine.core import Context, check_version, create, record, transition
from flows.engine.queries import definition_of, get
from flows.engine.roster import require_role
from flows.errors import GateUnmet, IllegalTransition, InvalidData
from models import Action, ActionPlan, Gate, Person, Process, RiskAssessment, StepInstance, Unit
from roles.catalogue import PLAN_OWNER_ROLE_BY_LEVEL, Role
from roles.mandate import unit_required
from roles.resolve import direct_holders, resolve

PLAN_STEP_NO = 8
# Who records a risk assessment besides the plan's owner and the action's responsible person.
ASSESSORS = ("processagare", "processledare", Role.SKYDDSOMBUD.value)
WORKERS = ("processagare", "processledare")
GRADES = range(1, 6)  # likelihood and consequence, 1 (low) to 5 (high)
CLOSED_ACTION_STATES = ("done", "dropped")


@dataclass(frozen=True)
class ActionFields:
    """The content of an action.

    Under way (approved or in progress), a change of any field in ``REASSESSED_FIELDS`` needs a
    new risk assessment before the action goes on; see ``change_action``.
    """

    development_area: str
    goal: str
    description: str
    responsible_id: int
    start_date: date
    end_date: date
    expected_effect: str = ""
    cost_estimate: float | None = None
    follow_up_date: date | None = None


# What is done, for what, by whom, when and with what means: a change to any of these is a
# change to the work the risk assessment judged. The follow-up date only says when the action
# is looked at again; moving it changes nothing in the work, so it needs no new assessment.
# (An action's result is written when it is finished, and a finished action cannot be changed.)
REASSESSED_FIELDS: frozenset[str] = frozenset(ActionFields.__dataclass_fields__) - {"follow_up_date"}


def _new_gate(ctx: Context, process: Process, key: str, kind: str, iteration: int, *,
              plan_id: int | None = None, action_id: int | None = None) -> Gate:
    specs = {g.key: g for g in definition_of(process).action_gates + definition_of(process).plan_gates}
    gate = Gate(process_id=process.id, plan_id=plan_id, action_id=action_id, key=key, kind=kind,
                iteration=iteration, status="open", opened_at=ctx.now,
                requirements={"decider": specs[key].decider, "before": "start"})
    return create(ctx, gate, "gate", "open", organisation_id=process.organisation_id,
                  process_id=process.id, data={"key": key, "plan_id": plan_id, "action_id": action_id})


def _require_plan_step(ctx: Context, process: Process) -> None:
    step = ctx.session.scalars(select(StepInstance).where(
        StepInstance.process_id == process.id, StepInstance.step_no == PLAN_STEP_NO)).one()
    if step.status != "open" and process.current_step_no is not None and \
            process.current_step_no < PLAN_STEP_NO:
        raise GateUnmet("action plans are made from step 8", gate="step_8_open")


def create_plan(ctx: Context, process_id: int, *, level: str, owner_id: int, title: str,
                unit_id: int | None = None) -> ActionPlan:
    """A plan at level A, B or C; its owner must hold the level's role for the plan's unit.

    B and C plans name their unit (the owner's own unit or workplace); the overall plan (A)
    may name its top unit. See ``roles.mandate`` for what counts as a mandate.
    """
    process = get(ctx.session, Process, process_id)
    _require_plan_step(ctx, process)
    if level not in PLAN_OWNER_ROLE_BY_LEVEL:
        raise InvalidData("unknown level", errors={"level": "invalid"})
    errors: dict[str, str] = {}
    if not title or not title.strip():
        errors["title"] = "required"
    if unit_id is None and unit_required(level):
        errors["unit_id"] = "required"
    elif unit_id is not None:
        unit = ctx.session.get(Unit, unit_id)
        if unit is None or unit.organisation_id != process.organisation_id:
            errors["unit_id"] = "not_found"
        elif unit.level != level:
            errors["unit_id"] = "level"
    if errors:
        raise InvalidData("the plan has errors", errors=errors)
    require_plan_mandate(ctx, process, level, unit_id, owner_id)
    require_plan_areas(ctx, process, level, unit_id, owner_id)
    plan = ActionPlan(process_id=process.id, level=level, unit_id=unit_id, owner_id=owner_id,
                      title=title.strip(), status="draft", created_at=ctx.now)
    create(ctx, plan, "plan", "draft", organisation_id=process.organisation_id, process_id=process.id)
    _new_gate(ctx, process, "plan_consultation", "consultation", 1, plan_id=plan.id)
    return plan


def plan_gate(ctx: Context, plan: ActionPlan) -> Gate:
    """The newest consultation gate of a plan."""
    return ctx.session.scalars(select(Gate).where(Gate.plan_id == plan.id)
                               .order_by(Gate.iteration.desc())).first()


def live_action_count(ctx: Context, plan: ActionPlan) -> int:
    """How many actions of the plan are not dropped."""
    return ctx.session.scalar(select(func.count()).select_from(Action).where(
        Action.plan_id == plan.id, Action.status != "dropped"))


def adopt_plan(ctx: Context, plan_id: int, *, expected_version: int | None = None) -> ActionPlan:
    """Adopt a plan: it must hold at least one action (not dropped), and samverkan must have been
    consulted on it (the consultation's record is what is required, not the unions' assent)."""
    plan = get(ctx.session, ActionPlan, plan_id, lock=True)
    check_version(plan, expected_version, "plan")
    process = get(ctx.session, Process, plan.process_id)
    if ctx.actor.person_id != plan.owner_id:
        require_role(ctx, process, ("processagare",))
    if plan.status != "draft":
        raise IllegalTransition(f"plan is {plan.status}", entity="plan", from_state=plan.status,
                                to_state="adopted")
    if not live_action_count(ctx, plan):
        raise GateUnmet("a plan is adopted with its actions; this one has none", gate="plan_actions")
    gate = plan_gate(ctx, plan)
    if gate is None or gate.status != "approved":
        raise GateUnmet("the plan has no recorded samverkan consultation", gate="plan_consultation")
    plan.adopted_at = ctx.now
    transition(ctx, plan, "plan", "adopted", organisation_id=process.organisation_id,
               process_id=process.id)
    return plan


def _validate(ctx: Context, process: Process, f: ActionFields, plan: ActionPlan,
              before: Action | None = None) -> None:
    """Refuse bad content naming each field. ``before``: the action as stored, when it is changed
    (a follow-up date it already had is not refused for having passed meanwhile)."""
    errors: dict[str, str] = {}
    for name in ("development_area", "goal", "description"):
        if not getattr(f, name) or not getattr(f, name).strip():
            errors[name] = "required"
    if "development_area" not in errors and (bad := action_area_error(ctx.session, plan, f.development_area)):
        errors["development_area"] = bad
    person = ctx.session.get(Person, f.responsible_id) if f.responsible_id is not None else None
    if f.responsible_id is None:
        errors["responsible_id"] = "required"
    elif person is None or person.organisation_id != process.organisation_id or not person.active:
        errors["responsible_id"] = "not_found"
    for name in ("start_date", "end_date"):
        if not isinstance(getattr(f, name), date):
            errors[name] = "required"
    if not errors.keys() & {"start_date", "end_date"} and f.end_date < f.start_date:
        errors["end_date"] = "before_start"
    if f.follow_up_date is not None:
        unchanged = before is not None and before.follow_up_date == f.follow_up_date
        if not isinstance(f.follow_up_date, date):
            errors["follow_up_date"] = "not_a_date"
        elif f.follow_up_date < ctx.now.date() and not unchanged:
            errors["follow_up_date"] = "in_past"
        elif "start_date" not in errors and f.follow_up_date < f.start_date:
            errors["follow_up_date"] = "before_action_start"
    if f.cost_estimate is not None and f.cost_estimate < 0:
        errors["cost_estimate"] = "negative"
    if errors:
        raise InvalidData("the action has errors", errors=errors)


def add_action(ctx: Context, plan_id: int, fields: ActionFields) -> Action:
    """Add an action to a plan; it waits for its risk assessment before it can start."""
    plan = get(ctx.session, ActionPlan, plan_id)
    process = get(ctx.session, Process, plan.process_id)
    if ctx.actor.person_id != plan.owner_id:
        require_role(ctx, process, ("processagare", "processledare"))
    if plan.status == "closed":
        raise IllegalTransition("the plan is closed", entity="plan", from_state="closed",
                                to_state="closed")
    _validate(ctx, process, fields, plan)
    action = Action(plan_id=plan.id, process_id=process.id, status="planned",
                    **{k: getattr(fields, k) for k in ActionFields.__dataclass_fields__})
    create(ctx, action, "action", "planned", organisation_id=process.organisation_id,
           process_id=process.id)
    _new_gate(ctx, process, "risk_assessment", "risk_assessment", action.revision,
              action_id=action.id)
    return action


def risk_gate(ctx: Context, action: Action) -> Gate:
    """The newest risk-assessment gate of an action."""
    return ctx.session.scalars(select(Gate).where(Gate.action_id == action.id)
                               .order_by(Gate.id.desc())).first()


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def safety_representatives(ctx: Context, process: Process) -> list[Person]:
    """The process's skyddsombud: those who hold the role and those acting in it now (by delegation)."""
    data = ctx.role_data(process.id)
    ids = set(direct_holders(data, Role.SKYDDSOMBUD, ctx.now)) | set(resolve(data, Role.SKYDDSOMBUD, ctx.now))
    if not ids:
        return []
    return list(ctx.session.scalars(select(Person).where(Person.id.in_(ids)).order_by(Person.id)))


def _clean_risks(risks: list[dict] | None) -> tuple[list[dict], dict[str, str]]:
    """The risks as stored (risk, likelihood, consequence, measure) and the errors of each field."""
    if not isinstance(risks, list) or not risks:
        return [], {"risks": "required"}
    errors: dict[str, str] = {}
    cleaned = []
    for i, risk in enumerate(risks):
        if not isinstance(risk, dict):
            errors[f"risks.{i}"] = "invalid"
            continue
        row = {}
        for name in ("risk", "measure"):
            row[name] = str(risk.get(name) or "").strip()
            if not row[name]:
                errors[f"risks.{i}.{name}"] = "required"
        for scale in ("likelihood", "consequence"):
            value = row[scale] = risk.get(scale)
            if value is None or value == "":
                errors[f"risks.{i}.{scale}"] = "required"
            elif isinstance(value, bool) or not isinstance(value, int) or value not in GRADES:
                errors[f"risks.{i}.{scale}"] = "invalid"
        cleaned.append({k: row[k] for k in ("risk", "likelihood", "consequence", "measure")})
    return cleaned, errors


def record_risk_assessment(ctx: Context, action_id: int, *, risks: list[dict],
                           participants: list[str], safety_representative: str,
                           conclusion: str) -> RiskAssessment:
    """Record the written risk assessment of an action's current content.

    Content: at least one risk to health and safety, each with its likelihood and consequence
    (1-5) and the measure taken against it; who took part; the conclusion. A safety
    representative must have taken part: the one named must be among the participants and,
    when the process has skyddsombud (role holders), be one of them. A process with none
    accepts the named representative as written (e.g. a regional skyddsombud from the union,
    who holds no role here). Recorded by the plan's owner, the action's responsible person,
    a skyddsombud, or the people running the process; approval is the gate's decider's.
    """
    action = get(ctx.session, Action, action_id, lock=True)
    process = get(ctx.session, Process, action.process_id)
    plan = get(ctx.session, ActionPlan, action.plan_id)
    if ctx.actor.person_id not in (plan.owner_id, action.responsible_id):
        require_role(ctx, process, ASSESSORS)
    cleaned, errors = _clean_risks(risks)
    names = [p.strip() for p in participants or [] if isinstance(p, str) and p.strip()]
    rep = safety_representative.strip() if isinstance(safety_representative, str) else ""
    if not names:
        errors["participants"] = "required"
    if not rep:
        errors["safety_representative"] = "required"
    elif names and not any(_same_name(rep, n) for n in names):
        errors["safety_representative"] = "not_a_participant"
    else:
        reps = safety_representatives(ctx, process)
        if reps and not any(_same_name(rep, p.name) for p in reps):
            errors["safety_representative"] = "not_a_safety_representative"
    if not conclusion or not conclusion.strip():
        errors["conclusion"] = "required"
    if errors:
        raise InvalidData("the risk assessment is incomplete", errors=errors)
    if action.status not in ("planned", "risk_pending"):
        raise IllegalTransition(f"action is {action.status}", entity="action",
                                from_state=action.status, to_state="risk_pending")
    gate = risk_gate(ctx, action)
    row = RiskAssessment(process_id=process.id, action_id=action.id, gate_id=gate.id,
                         action_revision=action.revision, risks=cleaned,
                         participants=names, conclusion=conclusion.strip(),
                         safety_representative=rep, recorded_by_id=ctx.actor.person_id,
                         recorded_at=ctx.now)
    create(ctx, row, "risk_assessment", "recorded", organisation_id=process.organisation_id,
           process_id=process.id, action="recorded",
           data={"action_id": action.id, "revision": action.revision})
    if action.status == "planned":
        transition(ctx, action, "action", "risk_pending", organisation_id=process.organisation_id,
                   process_id=process.id)
    return row


def require_decidable(ctx: Context, gate: Gate) -> None:
    """Refuse to decide a risk gate whose action no longer waits for an assessment (before any write)."""
    action = get(ctx.session, Action, gate.action_id)
    if action.status not in ("planned", "risk_pending"):
        raise IllegalTransition(f"action is {action.status}", entity="action", from_state=action.status,
                                to_state="approved")


def require_assessment(ctx: Context, gate: Gate) -> None:
    """Refuse to approve a risk gate that has no assessment of the action's current revision."""
    action = get(ctx.session, Action, gate.action_id)
    found = ctx.session.scalar(select(RiskAssessment.id).where(
        RiskAssessment.gate_id == gate.id, RiskAssessment.action_revision == action.revision))
    if found is None:
        raise GateUnmet("no risk assessment is recorded for this version of the action",
                        gate="risk_assessment")


def after_risk_decision(ctx: Context, process: Process, gate: Gate) -> None:
    """Approve the action, or open a fresh gate for a new assessment after a rejection."""
    action = get(ctx.session, Action, gate.action_id)
    if gate.status == "approved":
        transition(ctx, action, "action", "approved", organisation_id=process.organisation_id,
                   process_id=process.id)
    else:
        _new_gate(ctx, process, "risk_assessment", "risk_assessment", gate.iteration + 1,
                  action_id=action.id)


def start_action(ctx: Context, action_id: int, *, expected_version: int | None = None) -> Action:
    """Start an action: only with an approved risk assessment of its current content."""
    action = get(ctx.session, Action, action_id, lock=True)
    check_version(action, expected_version, "action")
    process = get(ctx.session, Process, action.process_id)
    gate = risk_gate(ctx, action)
    assessed = ctx.session.scalar(select(RiskAssessment.action_revision).where(
        RiskAssessment.gate_id == gate.id).order_by(RiskAssessment.id.desc()).limit(1))
    rules.require_action_may_start(action.status, gate.status, assessed, action.revision)
    transition(ctx, action, "action", "in_progress", organisation_id=process.organisation_id,
               process_id=process.id)
    return action


def _stored(value):
    """A field value as the audit trail keeps it (JSON)."""
    return value.isoformat() if isinstance(value, date) else value


def _normalised(fields: ActionFields) -> dict:
    """The values as they will be stored: text stripped, the cost in whole öre (two decimals)."""
    values = {k: getattr(fields, k) for k in ActionFields.__dataclass_fields__}
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    if isinstance(values["cost_estimate"], int | float) and not isinstance(values["cost_estimate"], bool):
        values["cost_estimate"] = round(float(values["cost_estimate"]), 2)
    return values


def change_action(ctx: Context, action_id: int, fields: ActionFields, *,
                  expected_version: int | None = None) -> Action:
    """Change an action's content.

    Only the fields whose value differs count: an identical resubmission changes nothing (no
    audit event, no new assessment). A done or dropped action cannot be changed. While the
    action waits for its assessment, or once it is under way, a change to any field in
    ``REASSESSED_FIELDS`` makes a new revision that needs a new risk assessment before it goes
    on (an approved or running action goes back to 'risk_pending'); moving only the follow-up
    date keeps the revision and the assessment. The audit event keeps the old and new values.
    """
    action = get(ctx.session, Action, action_id, lock=True)
    check_version(action, expected_version, "action")
    process = get(ctx.session, Process, action.process_id)
    plan = get(ctx.session, ActionPlan, action.plan_id)
    if ctx.actor.person_id not in (plan.owner_id, action.responsible_id):
        require_role(ctx, process, WORKERS)
    if action.status in CLOSED_ACTION_STATES:
        raise IllegalTransition(f"action is {action.status}", entity="action",
                                from_state=action.status, to_state="changed")
    new = _normalised(fields)
    changed = sorted(k for k, v in new.items() if getattr(action, k) != v)
    if not changed:
        return action
    _validate(ctx, process, fields, plan, before=action)
    before = {k: _stored(getattr(action, k)) for k in changed}
    for k in changed:
        setattr(action, k, new[k])
    reassess = bool(REASSESSED_FIELDS.intersection(changed))
    if reassess:
        action.revision += 1
    data = {"revision": action.revision, "reassess": reassess, "fields": changed,
            "before": before, "after": {k: _stored(new[k]) for k in changed}}
    if reassess and action.status in ("approved", "in_progress"):
        transition(ctx, action, "action", "risk_pending", organisation_id=process.organisation_id,
                   process_id=process.id, action="changed", data=data)
    else:
        ctx.session.flush()
        record(ctx, organisation_id=process.organisation_id, process_id=process.id,
               entity="action", entity_id=action.id, action="changed", from_state=action.status,
               to_state=action.status, data=data)
    if reassess:
        old = risk_gate(ctx, action)
        if old.status == "open":
            transition(ctx, old, "gate", "cancelled", organisation_id=process.organisation_id,
                       process_id=process.id, action="superseded")
        _new_gate(ctx, process, "risk_assessment", "risk_assessment", old.iteration + 1,
                  action_id=action.id)
    return action


def finish_action(ctx: Context, action_id: int, *, result: str, dropped: bool = False) -> Action:
    """Mark an action done with its result, or drop it (its open risk gate is then cancelled)."""
    action = get(ctx.session, Action, action_id, lock=True)
    process = get(ctx.session, Process, action.process_id)
    if not result or not result.strip():
        raise InvalidData("say what came of it", errors={"result": "required"})
    to_state = "dropped" if dropped else "done"
    rules.check_transition("action", action.status, to_state)  # before anything is written
    action.result = result.strip()
    transition(ctx, action, "action", to_state, organisation_id=process.organisation_id,
               process_id=process.id)
    gate = risk_gate(ctx, action)
    if gate is not None and gate.status == "open":  # nobody is to decide on a dropped action
        transition(ctx, gate, "gate", "cancelled", organisation_id=process.organisation_id,
                   process_id=process.id)
    return action
