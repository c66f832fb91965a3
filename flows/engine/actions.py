"""Action plans and actions: adoption after consultation, start after an approved risk assessment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from flows import rules
from flows.engine.areas import action_area_error, require_plan_areas
from flows.engine.core import Context, check_version, create, record, transition
from flows.engine.queries import definition_of, get
from flows.engine.roster import require_role
from flows.errors import GateUnmet, IllegalTransition, InvalidData, NotRoleHolder
from models import Action, ActionPlan, Gate, Person, Process, RiskAssessment, StepInstance, Unit
from roles.catalogue import PLAN_OWNER_ROLE_BY_LEVEL
from roles.resolve import resolve

PLAN_STEP_NO = 8


@dataclass(frozen=True)
class ActionFields:
    """The content of an action; changing any of it needs a new risk assessment."""

    development_area: str
    goal: str
    description: str
    responsible_id: int
    start_date: date
    end_date: date
    expected_effect: str = ""
    cost_estimate: float | None = None
    follow_up_date: date | None = None


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
    """A plan at level A, B or C; its owner must hold the role with mandate at that level."""
    process = get(ctx.session, Process, process_id)
    _require_plan_step(ctx, process)
    if level not in PLAN_OWNER_ROLE_BY_LEVEL:
        raise InvalidData("unknown level", errors={"level": "invalid"})
    if not title or not title.strip():
        raise InvalidData("the plan needs a title", errors={"title": "required"})
    if unit_id is not None:
        unit = get(ctx.session, Unit, unit_id)
        if unit.organisation_id != process.organisation_id or unit.level != level:
            raise InvalidData("the unit is not at the plan's level", errors={"unit_id": "level"})
    role = PLAN_OWNER_ROLE_BY_LEVEL[level]
    if owner_id not in resolve(ctx.role_data(process.id), role, ctx.now):
        raise NotRoleHolder(f"the owner must hold {role}", role=role)
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


def adopt_plan(ctx: Context, plan_id: int, *, expected_version: int | None = None) -> ActionPlan:
    """Adopt a plan; refused until its samverkan consultation is recorded."""
    plan = get(ctx.session, ActionPlan, plan_id, lock=True)
    check_version(plan, expected_version, "plan")
    process = get(ctx.session, Process, plan.process_id)
    if ctx.actor.person_id != plan.owner_id:
        require_role(ctx, process, ("processagare",))
    gate = plan_gate(ctx, plan)
    if gate is None or gate.status != "approved":
        raise GateUnmet("the plan has no recorded samverkan consultation", gate="plan_consultation")
    plan.adopted_at = ctx.now
    transition(ctx, plan, "plan", "adopted", organisation_id=process.organisation_id,
               process_id=process.id)
    return plan


def _validate(ctx: Context, process: Process, f: ActionFields, plan: ActionPlan) -> None:
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
    if f.follow_up_date is not None and f.follow_up_date < ctx.now.date():
        errors["follow_up_date"] = "in_past"
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


def record_risk_assessment(ctx: Context, action_id: int, *, risks: list[dict],
                           participants: list[str], safety_representative: str,
                           conclusion: str) -> RiskAssessment:
    """Record the written risk assessment of an action's current content."""
    action = get(ctx.session, Action, action_id, lock=True)
    process = get(ctx.session, Process, action.process_id)
    plan = get(ctx.session, ActionPlan, action.plan_id)
    if ctx.actor.person_id not in (plan.owner_id, action.responsible_id):
        require_role(ctx, process, ("processagare", "processledare"))
    errors = {}
    if not safety_representative or not safety_representative.strip():
        errors["safety_representative"] = "required"
    if not conclusion or not conclusion.strip():
        errors["conclusion"] = "required"
    if not participants:
        errors["participants"] = "required"
    for i, risk in enumerate(risks):
        if not str(risk.get("risk", "")).strip():
            errors[f"risks.{i}.risk"] = "required"
        for scale in ("likelihood", "consequence"):
            value = risk.get(scale)
            if value is not None and (not isinstance(value, int) or not 1 <= value <= 5):
                errors[f"risks.{i}.{scale}"] = "invalid"
    if errors:
        raise InvalidData("the risk assessment is incomplete", errors=errors)
    if action.status not in ("planned", "risk_pending"):
        raise IllegalTransition(f"action is {action.status}", entity="action",
                                from_state=action.status, to_state="risk_pending")
    gate = risk_gate(ctx, action)
    row = RiskAssessment(process_id=process.id, action_id=action.id, gate_id=gate.id,
                         action_revision=action.revision, risks=risks,
                         participants=participants, conclusion=conclusion.strip(),
                         safety_representative=safety_representative.strip(),
                         recorded_by_id=ctx.actor.person_id, recorded_at=ctx.now)
    create(ctx, row, "risk_assessment", "recorded", organisation_id=process.organisation_id,
           process_id=process.id, action="recorded",
           data={"action_id": action.id, "revision": action.revision})
    if action.status == "planned":
        transition(ctx, action, "action", "risk_pending", organisation_id=process.organisation_id,
                   process_id=process.id)
    return row


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


def change_action(ctx: Context, action_id: int, fields: ActionFields, *,
                  expected_version: int | None = None) -> Action:
    """Change an action's content; it needs a new risk assessment before it goes on."""
    action = get(ctx.session, Action, action_id, lock=True)
    check_version(action, expected_version, "action")
    process = get(ctx.session, Process, action.process_id)
    _validate(ctx, process, fields, get(ctx.session, ActionPlan, action.plan_id))
    for k in ActionFields.__dataclass_fields__:
        setattr(action, k, getattr(fields, k))
    action.revision += 1
    if action.status in ("approved", "in_progress"):
        transition(ctx, action, "action", "risk_pending", organisation_id=process.organisation_id,
                   process_id=process.id, action="changed", data={"revision": action.revision})
    else:
        ctx.session.flush()
        record(ctx, organisation_id=process.organisation_id, process_id=process.id,
               entity="action", entity_id=action.id, action="changed", from_state=action.status,
               to_state=action.status, data={"revision": action.revision})
    old = risk_gate(ctx, action)
    if old.status == "open":
        transition(ctx, old, "gate", "cancelled", organisation_id=process.organisation_id,
                   process_id=process.id, action="superseded")
    _new_gate(ctx, process, "risk_assessment", "risk_assessment", old.iteration + 1,
              action_id=action.id)
    return action


def finish_action(ctx: Context, action_id: int, *, result: str, dropped: bool = False) -> Action:
    """Mark an action done with its result, or drop it."""
    action = get(ctx.session, Action, action_id, lock=True)
    process = get(ctx.session, Process, action.process_id)
    if not result or not result.strip():
        raise InvalidData("say what came of it", errors={"result": "required"})
    action.result = result.strip()
    transition(ctx, action, "action", "dropped" if dropped else "done",
               organisation_id=process.organisation_id, process_id=process.id)
    return action
