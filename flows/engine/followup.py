"""Step 9: follow-up meetings per plan (with an invite), each action reviewed on five questions.

A meeting row is ``scheduled`` (an ICS invite goes to its participants through
the outbox), then ``held`` (the reviews are recorded with it) or ``cancelled``.
Holding a meeting sets the next follow-up date, which schedules the next meeting.
Each status change writes exactly one audit event (entity ``follow_up_meeting``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from chefoskop.i18n import N_, SUPPORTED_LOCALES, gettext
from chefoskop.settings import get_settings
from flows.engine.core import Context, check_version, create, record
from flows.engine.notify import people, process_payload, send
from flows.engine.queries import get
from flows.engine.roster import require_role
from flows.errors import IllegalTransition, InvalidData
from models import Action, ActionPlan, ActionReview, FollowUpMeeting, Person, Process
from roles.resolve import holders

ANSWERS = ("yes", "partly", "no", "not_yet")
QUESTIONS = ("carried_out", "intended_effect", "served_goals", "learned", "other_effects")
# Actions that must be reviewed at every meeting: those that have been carried out, in part or whole.
REVIEWED_STATES = ("in_progress", "done")
MEETING_TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({"scheduled", "held"}),
    "scheduled": frozenset({"scheduled", "held", "cancelled"}),
}
MEETING_HOURS = (time(9, 0), 2)


@dataclass(frozen=True)
class ReviewFields:
    """One action reviewed on the five questions (the first three answered yes/partly/no/not_yet)."""

    action_id: int
    carried_out: str
    intended_effect: str
    served_goals: str
    learned: str
    other_effects: str = ""
    carried_out_note: str = ""
    effect_note: str = ""
    goals_note: str = ""


def _move(ctx: Context, process: Process, meeting: FollowUpMeeting, to_state: str, action: str,
          data: dict | None = None) -> None:
    from_state = meeting.status
    if to_state not in MEETING_TRANSITIONS.get(from_state, frozenset()):
        raise IllegalTransition(f"follow-up meeting cannot go from {from_state} to {to_state}",
                                entity="follow_up_meeting", from_state=from_state, to_state=to_state)
    meeting.status = to_state
    ctx.session.add(meeting)
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id,
           entity="follow_up_meeting", entity_id=meeting.id, action=action, from_state=from_state,
           to_state=to_state, data=data)


def _texts(msgid: str, **params) -> dict[str, str]:
    return {lang: gettext(lang, msgid, **params) for lang in SUPPORTED_LOCALES}


def _invite(ctx: Context, process: Process, plan: ActionPlan, meeting: FollowUpMeeting) -> int:
    """Queue the meeting's ICS invite (or its update) to every participant."""
    settings = get_settings()
    start = datetime.combine(meeting.scheduled_on, MEETING_HOURS[0], tzinfo=ZoneInfo(settings.timezone))
    attendees = people(ctx, meeting.participant_ids)
    organiser = ctx.session.get(Person, plan.owner_id)
    payload = {
        **process_payload(ctx, process),
        "uid": f"follow-up-{meeting.id}@chefoskop",
        "sequence": meeting.invite_sequence,
        "summary": _texts(N_("Follow-up meeting: %(plan)s"), plan=plan.title),
        "description": _texts(N_("We review each action of the plan: was it carried out as planned, did it "
                              "have the intended effect, did it serve the goals, what did we learn, and "
                              "did it have other effects? We also set the next follow-up date.")),
        "start": start.isoformat(),
        "end": (start + timedelta(hours=MEETING_HOURS[1])).isoformat(),
        "location": meeting.location,
        "organizer_email": settings.mail_from.split("<")[-1].rstrip(">").strip(),
        "organizer_name": organiser.name if organiser else "Chefoskop",
        "attendees": [{"name": p.name, "email": p.email} for p in attendees],
    }
    return send(ctx, "meeting_invite", attendees, payload, process_id=process.id,
                dedupe=f"follow-up-invite:{meeting.id}:{meeting.invite_sequence}")


def default_participants(session: Session, plan_id: int, now: datetime) -> list[int]:
    """Who to invite by default: the plan owner, those responsible for its actions, the safety reps."""
    plan = get(session, ActionPlan, plan_id)
    ids = {plan.owner_id}
    ids |= set(session.scalars(select(Action.responsible_id).where(
        Action.plan_id == plan.id, Action.status != "dropped")))
    ids |= {p.id for p in holders(session, plan.process_id, "skyddsombud", now)}
    return sorted(ids)


def _load_plan(ctx: Context, plan_id: int) -> tuple[ActionPlan, Process]:
    plan = get(ctx.session, ActionPlan, plan_id, lock=True)
    process = get(ctx.session, Process, plan.process_id)
    if ctx.actor.person_id != plan.owner_id:
        require_role(ctx, process, ("processledare", "processagare"))
    if plan.status != "adopted":
        raise IllegalTransition("only an adopted plan is followed up", entity="plan",
                                from_state=plan.status, to_state="followed_up")
    return plan, process


def _participant_errors(ctx: Context, process: Process, ids: list[int] | None) -> dict[str, str]:
    if not ids:
        return {"participant_ids": "required"}
    found = people(ctx, ids)
    if len(found) != len(set(ids)) or any(p.organisation_id != process.organisation_id for p in found):
        return {"participant_ids": "not_found"}
    return {}


def next_meeting(session: Session, plan_id: int) -> FollowUpMeeting | None:
    """The plan's scheduled (not yet held) follow-up meeting, if any."""
    return session.scalars(select(FollowUpMeeting).where(
        FollowUpMeeting.plan_id == plan_id, FollowUpMeeting.status == "scheduled")
        .order_by(FollowUpMeeting.scheduled_on, FollowUpMeeting.id)).first()


def schedule_follow_up(ctx: Context, plan_id: int, *, on: date, participant_ids: list[int] | None = None,
                       location: str | None = None) -> FollowUpMeeting:
    """Schedule (or move) the plan's next follow-up meeting and send the invite; refused in the past."""
    plan, process = _load_plan(ctx, plan_id)
    errors: dict[str, str] = {}
    if not isinstance(on, date):
        errors["on"] = "required"
    elif on < ctx.now.date():
        errors["on"] = "in_past"
    ids = participant_ids if participant_ids is not None else default_participants(
        ctx.session, plan.id, ctx.now)
    errors |= _participant_errors(ctx, process, ids)
    if errors:
        raise InvalidData("the follow-up meeting has errors", errors=errors)
    meeting = next_meeting(ctx.session, plan.id)
    if meeting is None:
        meeting = FollowUpMeeting(process_id=process.id, plan_id=plan.id, status=None, scheduled_on=on,
                                  participant_ids=sorted(set(ids)), participants=[], location=location,
                                  created_at=ctx.now)
        _move(ctx, process, meeting, "scheduled", "scheduled", {"on": on.isoformat()})
    else:
        previous = meeting.scheduled_on
        meeting.scheduled_on, meeting.location = on, location
        meeting.participant_ids = sorted(set(ids))
        meeting.invite_sequence += 1
        meeting.escalation_level, meeting.last_reminder_at = 0, None
        _move(ctx, process, meeting, "scheduled", "rescheduled",
              {"from": previous.isoformat(), "on": on.isoformat()})
    _invite(ctx, process, plan, meeting)
    return meeting


def cancel_follow_up(ctx: Context, meeting_id: int, *, reason: str,
                     expected_version: int | None = None) -> FollowUpMeeting:
    """Cancel a scheduled meeting with a reason (a new date is set by scheduling again)."""
    meeting = get(ctx.session, FollowUpMeeting, meeting_id, lock=True)
    check_version(meeting, expected_version, "follow_up_meeting")
    _plan, process = _load_plan(ctx, meeting.plan_id)
    if not reason or not reason.strip():
        raise InvalidData("say why the meeting is cancelled", errors={"reason": "required"})
    _move(ctx, process, meeting, "cancelled", "cancelled", {"reason": reason.strip()})
    return meeting


def _review_errors(ctx: Context, plan: ActionPlan, reviews: list[ReviewFields]) -> dict[str, str]:
    actions = {a.id: a for a in ctx.session.scalars(select(Action).where(Action.plan_id == plan.id))}
    errors: dict[str, str] = {}
    seen: set[int] = set()
    for i, r in enumerate(reviews):
        if r.action_id not in actions:
            errors[f"reviews.{i}.action_id"] = "not_in_plan"
        elif r.action_id in seen:
            errors[f"reviews.{i}.action_id"] = "duplicate"
        seen.add(r.action_id)
        for name in ("carried_out", "intended_effect", "served_goals"):
            if getattr(r, name) not in ANSWERS:
                errors[f"reviews.{i}.{name}"] = "required" if not getattr(r, name) else "invalid"
        if not r.learned or not r.learned.strip():
            errors[f"reviews.{i}.learned"] = "required"
    missing = sorted(a.id for a in actions.values() if a.status in REVIEWED_STATES and a.id not in seen)
    if missing:
        errors["reviews"] = "missing:" + ",".join(map(str, missing))
    return errors


def _meeting_errors(ctx: Context, held_on: date | None, participants: list[str] | None,
                    next_on: date | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    today = ctx.now.date()
    if not isinstance(held_on, date):
        errors["held_on"] = "required"
    elif held_on > today:
        errors["held_on"] = "in_future"
    if not participants or not all(isinstance(p, str) and p.strip() for p in participants):
        errors["participants"] = "required"
    if not isinstance(next_on, date):
        errors["next_follow_up_on"] = "required"
    elif next_on < today:
        errors["next_follow_up_on"] = "in_past"
    elif isinstance(held_on, date) and next_on <= held_on:
        errors["next_follow_up_on"] = "not_after_meeting"
    return errors


def record_follow_up(ctx: Context, plan_id: int, *, held_on: date, participants: list[str],
                     reviews: list[ReviewFields], next_follow_up_on: date,
                     notes: str = "") -> FollowUpMeeting:
    """Record a held follow-up meeting with its action reviews; it schedules the next one (all or nothing)."""
    plan, process = _load_plan(ctx, plan_id)
    errors = _meeting_errors(ctx, held_on, participants, next_follow_up_on)
    errors |= _review_errors(ctx, plan, reviews)
    if errors:
        raise InvalidData("the follow-up record has errors", errors=errors)
    meeting = next_meeting(ctx.session, plan.id)
    ids = meeting.participant_ids if meeting else default_participants(ctx.session, plan.id, ctx.now)
    if meeting is None:
        meeting = FollowUpMeeting(process_id=process.id, plan_id=plan.id, status=None,
                                  scheduled_on=held_on, participant_ids=ids, created_at=ctx.now)
    meeting.held_on, meeting.notes = held_on, (notes or "").strip()
    meeting.participants = [p.strip() for p in participants]
    meeting.next_follow_up_on = next_follow_up_on
    meeting.recorded_by_id, meeting.recorded_at = ctx.actor.person_id, ctx.now
    _move(ctx, process, meeting, "held", "held", {"next_follow_up_on": next_follow_up_on.isoformat(),
                                                  "reviews": len(reviews)})
    for r in reviews:
        _add_review(ctx, process, meeting, r)
    following = FollowUpMeeting(process_id=process.id, plan_id=plan.id, status=None,
                                scheduled_on=next_follow_up_on, participant_ids=ids, participants=[],
                                location=meeting.location, created_at=ctx.now)
    _move(ctx, process, following, "scheduled", "scheduled",
          {"on": next_follow_up_on.isoformat(), "after_meeting_id": meeting.id})
    _invite(ctx, process, plan, following)
    return meeting


def _add_review(ctx: Context, process: Process, meeting: FollowUpMeeting, r: ReviewFields) -> ActionReview:
    action = get(ctx.session, Action, r.action_id)
    row = ActionReview(meeting_id=meeting.id, action_id=action.id, action_revision=action.revision,
                       carried_out=r.carried_out, carried_out_note=(r.carried_out_note or "").strip(),
                       intended_effect=r.intended_effect, effect_note=(r.effect_note or "").strip(),
                       served_goals=r.served_goals, goals_note=(r.goals_note or "").strip(),
                       learned=r.learned.strip(), other_effects=(r.other_effects or "").strip(),
                       recorded_at=ctx.now)
    return create(ctx, row, "action_review", "recorded", organisation_id=process.organisation_id,
                  process_id=process.id, action="recorded",
                  data={"action_id": action.id, "meeting_id": meeting.id, "carried_out": r.carried_out,
                        "intended_effect": r.intended_effect, "served_goals": r.served_goals})


def plan_follow_ups(session: Session, plan_id: int) -> list[tuple[FollowUpMeeting, list[ActionReview]]]:
    """Every follow-up meeting of a plan (oldest first) with the reviews recorded at it."""
    meetings = list(session.scalars(select(FollowUpMeeting).where(FollowUpMeeting.plan_id == plan_id)
                                    .order_by(FollowUpMeeting.scheduled_on, FollowUpMeeting.id)))
    ids = [m.id for m in meetings]
    reviews: dict[int, list[ActionReview]] = {i: [] for i in ids}
    if ids:
        for row in session.scalars(select(ActionReview).where(ActionReview.meeting_id.in_(ids))
                                   .order_by(ActionReview.id)):
            reviews[row.meeting_id].append(row)
    return [(m, reviews[m.id]) for m in meetings]
