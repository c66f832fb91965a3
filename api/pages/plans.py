"""Action plan pages: the plans of a process, a plan with its actions, adoption, follow-up and history."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.access import require, visible_plan, visible_process
from api.deps import EngineCtx, PathId, SessionDep
from api.messages import problem_text, reason_text
from api.pages import plan_forms as forms
from api.pages.render import FormDep, PagePrincipal, PageRoute, page_locale, render_page, see_other
from api.pages.views import names
from chefoskop import clock
from flows import engine
from flows.engine.core import check_version
from flows.engine.followup import ANSWERS, REVIEWED_STATES, default_participants, next_meeting
from flows.errors import EngineError, InvalidData, StaleVersion
from models import Action, ActionPlan, DevelopmentArea, FollowUpMeeting, Gate, Person
from plans.content import label
from plans.history import plan_history_lines
from roles import permissions as perm

router = APIRouter(route_class=PageRoute, include_in_schema=False)
MEETING_FIELDS = ("held_on", "participants", "next_follow_up_on", "notes")
# The engine's field names of the schedule and cancel forms, as the plan page names them.
SCHEDULE_FIELDS = {"on": "meeting_on", "location": "meeting_location", "participant_ids": "participant_ids"}
CANCEL_FIELDS = {"reason": "cancel_reason"}


def refusal(lang: str, exc: EngineError) -> tuple[dict[str, str], str]:
    """An engine refusal as field errors (reason codes) and the message above the form."""
    if isinstance(exc, InvalidData):
        return dict(exc.params.get("errors") or {}), problem_text(lang, "invalid_data")[1]
    return {}, " ".join(problem_text(lang, exc.code, **{k: v for k, v in exc.params.items()
                                                        if isinstance(k, str) and k != "errors"}))


def org_people(db: Session, organisation_id: int) -> list[Person]:
    """The organisation's active people, by name (the choices for a responsible person)."""
    return list(db.scalars(select(Person).where(Person.organisation_id == organisation_id,
                                                Person.active.is_(True)).order_by(Person.name).limit(500)))


def newest_gate(db: Session, **criteria: int) -> Gate | None:
    """The newest gate of a plan or an action."""
    return db.scalar(select(Gate).filter_by(**criteria).order_by(Gate.id.desc()).limit(1))


@router.get("/processes/{process_id}/plans")
def plan_list(process_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """The process's action plans and a form to make one from a development area."""
    return _list_page(request, db, principal, process_id)


def _list_page(request: Request, db: Session, principal, process_id: int, *, status: int = 200,
               values: dict | None = None, errors: dict | None = None, error: str | None = None) -> Response:
    lang = page_locale(request)
    process, facts = visible_process(db, principal.viewer, process_id)
    plans = list(db.scalars(select(ActionPlan).where(ActionPlan.process_id == process.id)
                            .order_by(ActionPlan.level, ActionPlan.id)))
    areas = list(db.scalars(select(DevelopmentArea).where(
        DevelopmentArea.process_id == process.id, DevelopmentArea.status == "active")
        .order_by(DevelopmentArea.level, DevelopmentArea.priority, DevelopmentArea.id)))
    return render_page(request, "plans.html", status=status, title=process.name, process=process,
                       plans=plans, areas=areas, owners=names(db, [p.owner_id for p in plans]),
                       plan_label=lambda c: label(lang, c), values=values or {},
                       errors={k: reason_text(lang, v) for k, v in (errors or {}).items()}, error=error,
                       may_create=perm.same_organisation(principal.viewer, process.organisation_id)
                       and bool(facts.roles))


@router.post("/processes/{process_id}/plans")
def create_plan(process_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
                ctx: EngineCtx, form: FormDep) -> Response:
    """Make a plan from a development area: its level and unit, owned by the signed-in person."""
    process, facts = visible_process(db, principal.viewer, process_id)
    values = {"area_id": form.get("area_id", ""), "title": forms.text(form, "title", 300)}
    area_id = forms.an_id(form, "area_id")
    area = db.get(DevelopmentArea, area_id) if area_id else None
    try:
        if area is None or area.process_id != process.id:
            raise InvalidData("choose a development area", errors={"area_id": "required"})
        owner_id = area.owner_id or principal.person.id
        require(perm.can_manage_plan(principal.viewer, facts, owner_id))
        plan = engine.create_plan(ctx, process.id, level=area.level, owner_id=owner_id,
                                  title=values["title"] or area.title, unit_id=area.unit_id)
    except EngineError as exc:
        db.rollback()
        ctx.queued.clear()
        errors, error = refusal(page_locale(request), exc)
        return _list_page(request, db, principal, process_id, status=exc.status, values=values,
                          errors={("area_id" if k in ("level", "unit_id", "owner_id") else k): v
                                  for k, v in errors.items()}, error=error)
    return see_other(f"/plans/{plan.id}?done=created")


def plan_page(request: Request, db: Session, principal, plan_id: int, *, status: int = 200,
              form_name: str | None = None, values: dict | None = None, errors: dict | None = None,
              error: str | None = None) -> Response:
    """The plan page; a refused form is shown again with its values and errors."""
    lang = page_locale(request)
    viewer = principal.viewer
    plan, process, facts = visible_plan(db, viewer, plan_id)
    actions = list(db.scalars(select(Action).where(Action.plan_id == plan.id).order_by(Action.id)))
    gates = {a.id: newest_gate(db, action_id=a.id) for a in actions}
    reviewed = [a for a in actions if a.status in REVIEWED_STATES]
    people = org_people(db, process.organisation_id)
    now = clock.now()
    today = now.date()
    tab = request.query_params.get("tab")
    scheduled = next_meeting(db, plan.id)
    may_manage = perm.can_manage_plan(viewer, facts, plan.owner_id)
    invited: list[int] = []
    if may_manage and plan.status == "adopted":
        invited = list(scheduled.participant_ids) if scheduled else default_participants(db, plan.id, now)
    return render_page(
        request, "plan.html", status=status, title=plan.title, plan=plan, process=process,
        areas=engine.plan_areas(db, plan.id), actions=actions, gates=gates, plan_gate=newest_gate(
            db, plan_id=plan.id), people=people, person_names={p.id: p.name for p in people},
        owner=names(db, [plan.owner_id]).get(plan.owner_id, ""), reviewed=reviewed, answers=ANSWERS,
        meetings=engine.plan_follow_ups(db, plan.id), history=plan_history_lines(db, plan.id, lang)
        if tab == "history" else [], tab=tab, plan_label=lambda c: label(lang, c),
        scheduled=scheduled, invited=[str(i) for i in invited],
        likely=[p for p in people if p.id in set(invited) | {plan.owner_id}],
        others=[p for p in people if p.id not in set(invited) | {plan.owner_id}],
        may_manage=may_manage,
        may_adopt=plan.status == "draft" and perm.can_adopt_plan(viewer, facts, plan.owner_id),
        form_name=form_name, values=values or {}, error=error,
        errors={k: reason_text(lang, v) for k, v in (errors or {}).items()},
        today=today.isoformat(), next_date=(today + timedelta(days=90)).isoformat(),
        done=request.query_params.get("done"))


@router.get("/plans/{plan_id}")
def show_plan(plan_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """One plan: its areas, actions with gates, adoption, follow-up, history and exports."""
    return plan_page(request, db, principal, plan_id)


def _refused(request, db, principal, plan_id, ctx, exc: EngineError, form_name: str, values: dict,
             rename=lambda k: k) -> Response:
    db.rollback()
    ctx.queued.clear()
    errors, error = refusal(page_locale(request), exc)
    return plan_page(request, db, principal, plan_id, status=exc.status, form_name=form_name,
                     values=values, errors={rename(k): v for k, v in errors.items()}, error=error)


@router.post("/plans/{plan_id}/actions")
def add_action(plan_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
               ctx: EngineCtx, form: FormDep) -> Response:
    """Add an action; it waits for a risk assessment before it may start."""
    plan, process, facts = visible_plan(db, principal.viewer, plan_id)
    require(perm.can_manage_plan(principal.viewer, facts, plan.owner_id))
    values = {k: form.get(k, "")[:forms.MAX_TEXT] for k in forms.ACTION_FIELDS}
    people = {p.id for p in org_people(db, process.organisation_id)}
    try:
        fields, errors = forms.action_input(form, people)
        if errors:
            raise InvalidData("the action has errors", errors=errors)
        action = engine.add_action(ctx, plan.id, fields)
    except EngineError as exc:
        return _refused(request, db, principal, plan_id, ctx, exc, "action", values)
    return see_other(f"/actions/{action.id}?done=added")


@router.post("/plans/{plan_id}/adopt")
def adopt(plan_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep, ctx: EngineCtx,
          form: FormDep) -> Response:
    """Adopt the plan, once its samverkan consultation is recorded."""
    plan, _, facts = visible_plan(db, principal.viewer, plan_id)
    require(perm.can_adopt_plan(principal.viewer, facts, plan.owner_id))
    try:
        engine.adopt_plan(ctx, plan.id, expected_version=forms.an_id(form, "version"))
    except EngineError as exc:
        return _refused(request, db, principal, plan_id, ctx, exc, "adopt", {})
    return see_other(f"/plans/{plan_id}?done=adopted")


@router.post("/plans/{plan_id}/follow-up")
def record_follow_up(plan_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
                     ctx: EngineCtx, form: FormDep) -> Response:
    """Record the held follow-up meeting: each action on the five questions, and the next date."""
    plan, _, facts = visible_plan(db, principal.viewer, plan_id)
    require(perm.can_manage_plan(principal.viewer, facts, plan.owner_id))
    ids = list(db.scalars(select(Action.id).where(Action.plan_id == plan.id,
                                                   Action.status.in_(REVIEWED_STATES)).order_by(Action.id)))
    keys = [*MEETING_FIELDS, *(f"{q}_{i}" for i in ids for q in forms.REVIEW_FIELDS)]
    values = {k: form.get(k, "")[:forms.MAX_TEXT] for k in keys}
    errors: dict[str, str] = {}
    held_on = forms.a_date(form, "held_on", errors)
    next_on = forms.a_date(form, "next_follow_up_on", errors)
    try:
        if errors:
            raise InvalidData("the follow-up record has errors", errors=errors)
        engine.record_follow_up(ctx, plan.id, held_on=held_on, participants=forms.lines(form, "participants"),
                                reviews=forms.review_input(form, ids), next_follow_up_on=next_on,
                                notes=forms.text(form, "notes"))
    except EngineError as exc:
        return _refused(request, db, principal, plan_id, ctx, exc, "follow_up", values,
                        rename=lambda k: forms.review_field(k, ids))
    return see_other(f"/plans/{plan_id}?done=followed_up")


def _same_meeting(db: Session, plan_id: int, form: dict[str, str]) -> FollowUpMeeting | None:
    """The plan's scheduled meeting, refused as stale unless it is the one (and the version) the
    form was made from: a meeting scheduled, moved, held or cancelled meanwhile is not overwritten."""
    meeting = next_meeting(db, plan_id)
    meeting_id, version = forms.an_id(form, "meeting_id"), forms.an_id(form, "version")
    if (meeting.id if meeting else None) != meeting_id:
        raise StaleVersion("the follow-up meeting changed meanwhile", entity="follow_up_meeting",
                           id=meeting_id, current=None, expected=version)
    if meeting is not None:
        check_version(meeting, version, "follow_up_meeting")
    return meeting


@router.post("/plans/{plan_id}/follow-up/schedule")
def schedule_follow_up(plan_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
                       ctx: EngineCtx, form: FormDep, chosen: forms.ParticipantsDep) -> Response:
    """Schedule the plan's next follow-up meeting, or move the scheduled one; the ICS invite (or
    its update) goes to everyone invited."""
    plan, process, facts = visible_plan(db, principal.viewer, plan_id)
    require(perm.can_manage_plan(principal.viewer, facts, plan.owner_id))
    values = {"meeting_on": form.get("meeting_on", "")[:40],
              "meeting_location": form.get("meeting_location", "")[:200],
              "participant_ids": [c[:12] for c in chosen]}
    people = {p.id for p in org_people(db, process.organisation_id)}
    errors: dict[str, str] = {}
    on, ids, location = forms.meeting_input(form, chosen, people, errors)
    try:
        _same_meeting(db, plan.id, form)
        if errors:
            raise InvalidData("the follow-up meeting has errors", errors=errors)
        engine.schedule_follow_up(ctx, plan.id, on=on, participant_ids=ids, location=location)
    except EngineError as exc:
        return _refused(request, db, principal, plan_id, ctx, exc, "schedule", values,
                        rename=lambda k: SCHEDULE_FIELDS.get(k, k))
    return see_other(f"/plans/{plan_id}?done=scheduled")


@router.post("/plans/{plan_id}/follow-up/cancel")
def cancel_follow_up(plan_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
                     ctx: EngineCtx, form: FormDep) -> Response:
    """Cancel the scheduled follow-up meeting, saying why (a new date is set by scheduling again)."""
    plan, _, facts = visible_plan(db, principal.viewer, plan_id)
    require(perm.can_manage_plan(principal.viewer, facts, plan.owner_id))
    values = {"cancel_reason": form.get("cancel_reason", "")[:forms.MAX_TEXT]}
    try:
        meeting = _same_meeting(db, plan.id, form)
        if meeting is None:
            raise StaleVersion("no follow-up meeting is scheduled", entity="follow_up_meeting",
                               id=None, current=None, expected=None)
        engine.cancel_follow_up(ctx, meeting.id, reason=forms.text(form, "cancel_reason", 2000),
                                expected_version=forms.an_id(form, "version"))
    except EngineError as exc:
        return _refused(request, db, principal, plan_id, ctx, exc, "cancel", values,
                        rename=lambda k: CANCEL_FIELDS.get(k, k))
    return see_other(f"/plans/{plan_id}?done=cancelled")
