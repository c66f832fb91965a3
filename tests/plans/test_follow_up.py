"""Step 9: follow-up meetings with invites, five-question reviews, next dates, reminders, a new cycle."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from flows import engine
from flows.calendar import add_working_days
from flows.errors import Conflict, GateUnmet, IllegalTransition, InvalidData
from models import Action, ActionPlan, ActionReview, AuditEvent, FollowUpMeeting, OutboxMessage, Process
from notifications.render import render
from tests.helpers import ctx_for, start, walk_to
from tests.plans.support import finish_process, later, refused_saving_nothing


def _reviews(session, plan_id: int) -> list[engine.ReviewFields]:
    actions = session.scalars(
        select(Action)
        .where(Action.plan_id == plan_id, Action.status.in_(("in_progress", "done")))
        .order_by(Action.id)
    )
    return [
        engine.ReviewFields(
            a.id, "yes", "partly", "yes", learned="Förankra tidigt", other_effects="Bättre dialog"
        )
        for a in actions
    ]


def _step9(session):
    s = start(session, managers=3)
    walk_to(session, s.process_id, 9)
    plans = list(
        session.scalars(
            select(ActionPlan).where(ActionPlan.process_id == s.process_id, ActionPlan.status == "adopted")
        )
    )
    assert {p.level for p in plans} == {"A", "B", "C"}
    return s, plans


def _invites(session) -> list[OutboxMessage]:
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "meeting_invite"))
    return [r for r in rows if r.payload["uid"].startswith("follow-up-")]


def test_follow_up_meeting_records_five_questions_and_sets_the_next_date(session):
    s, plans = _step9(session)
    plan, now = plans[0], later(session)
    leader = s.person("processledare")
    ctx = ctx_for(session, leader, now)
    today = now.date()
    err = refused_saving_nothing(
        session, lambda: engine.schedule_follow_up(ctx, plan.id, on=today - timedelta(days=1)), InvalidData
    )
    assert err.params["errors"] == {"on": "in_past"}
    meeting = engine.schedule_follow_up(ctx, plan.id, on=today + timedelta(days=14), location="Rum 1")
    session.commit()
    assert len(_invites(session)) == len(meeting.participant_ids) > 0
    row = _invites(session)[0]
    mail = render(row.kind, row.locale, row.payload, base_url="http://x", recipient_id=row.recipient_id)
    assert b"BEGIN:VCALENDAR" in mail.ics and "Uppföljningsmöte" in mail.subject
    reviews = _reviews(session, plan.id)
    assert reviews, "the simulated plan has actions under way"
    err = refused_saving_nothing(
        session,
        lambda: engine.record_follow_up(
            ctx,
            plan.id,
            held_on=today,
            participants=["A"],
            reviews=reviews[1:],
            next_follow_up_on=today - timedelta(days=1),
        ),
        InvalidData,
    )
    assert err.params["errors"]["next_follow_up_on"] == "in_past"
    assert err.params["errors"]["reviews"] == f"missing:{reviews[0].action_id}"
    bad = [engine.ReviewFields(reviews[0].action_id, "maybe", "", "yes", learned=" ")]
    err = refused_saving_nothing(
        session,
        lambda: engine.record_follow_up(
            ctx,
            plan.id,
            held_on=today + timedelta(days=1),
            participants=[],
            reviews=bad + reviews[1:],
            next_follow_up_on=today + timedelta(days=30),
        ),
        InvalidData,
    )
    assert err.params["errors"] == {
        "held_on": "in_future",
        "participants": "required",
        "reviews.0.carried_out": "invalid",
        "reviews.0.intended_effect": "required",
        "reviews.0.learned": "required",
    }
    next_on = today + timedelta(days=60)
    held = engine.record_follow_up(
        ctx,
        plan.id,
        held_on=today,
        participants=["Chef", "Skyddsombud"],
        reviews=reviews,
        next_follow_up_on=next_on,
        notes="Bra möte",
    )
    session.commit()
    assert held.id == meeting.id and held.status == "held" and held.next_follow_up_on == next_on
    stored = session.scalars(select(ActionReview).where(ActionReview.meeting_id == held.id)).all()
    assert [
        (r.carried_out, r.intended_effect, r.served_goals, r.learned, r.other_effects) for r in stored
    ] == [("yes", "partly", "yes", "Förankra tidigt", "Bättre dialog")] * len(reviews)
    following = session.scalar(
        select(FollowUpMeeting).where(
            FollowUpMeeting.plan_id == plan.id, FollowUpMeeting.status == "scheduled"
        )
    )
    assert following.scheduled_on == next_on
    assert len(_invites(session)) == 2 * len(meeting.participant_ids)
    [(first, first_reviews), (second, _)] = engine.plan_follow_ups(session, plan.id)
    assert first.id == held.id and len(first_reviews) == len(reviews) and second.id == following.id
    actions = [(h.entity, h.action) for h in engine.plan_history(session, plan.id)]
    assert ("follow_up_meeting", "held") in actions and ("action_review", "recorded") in actions


def test_reminders_before_and_after_the_follow_up_date_then_escalation(session):
    s, plans = _step9(session)
    plan, now = plans[0], later(session)
    on = add_working_days(now.date(), 10)
    engine.schedule_follow_up(ctx_for(session, s.person("processledare"), now), plan.id, on=on)
    session.commit()
    counts = []
    for offset in (-1, -1, 1, 3):  # the day before (twice), then 1 and 3 working days late
        moment = datetime.combine(add_working_days(on, offset), now.timetz())
        report = engine.follow_up_reminders(session, moment)
        session.commit()
        counts.append((report.reminders, report.overdue, report.escalations))
    assert counts[0] == (1, 0, 0) and counts[1] == (0, 0, 0)  # a second run the same day sends nothing
    assert counts[2] == (0, 1, 0) and counts[3][2] >= 1  # overdue to the owner, then escalated
    sent = [
        r
        for r in session.scalars(select(OutboxMessage))
        if r.payload.get("due_date") == on.isoformat() and r.payload.get("task_id") is None
    ]
    assert sorted({r.kind for r in sent}) == ["escalation", "task_overdue", "task_reminder"]
    for row in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "escalation")):
        assert render(row.kind, "en", row.payload, base_url="http://x").subject


def test_the_routing_sweep_reminds_and_escalates_a_due_follow_up_meeting(session):
    """``flows.sweep.run_sweep`` (the scheduled sweep) runs the follow-up reminders too."""
    from flows.sweep import run_sweep

    s, plans = _step9(session)
    plan, now = plans[0], later(session)
    on = add_working_days(now.date(), 10)
    meeting = engine.schedule_follow_up(ctx_for(session, s.person("processledare"), now), plan.id, on=on)
    session.commit()
    runners = {p.id for role in ("processagare", "processledare") for p in s.org.by_role[role]} - {
        plan.owner_id
    }

    def notices() -> list[tuple[str, int]]:
        session.expire_all()
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"follow-up:{meeting.id}:%"))
        )
        return sorted((r.kind, r.recipient_id) for r in rows)

    def sweep(offset: int) -> None:
        run_sweep(datetime.combine(add_working_days(on, offset), now.timetz()))

    sweep(-1)  # the working day before the meeting
    assert notices() == [("task_reminder", plan.owner_id)]
    sweep(-1)  # a second sweep the same day sends nothing again
    assert notices() == [("task_reminder", plan.owner_id)]
    sweep(1)  # the first working day after it: overdue, to the owner
    assert notices() == sorted([("task_reminder", plan.owner_id), ("task_overdue", plan.owner_id)])
    sweep(3)  # three working days late: escalated to those running the process
    found = notices()
    assert {who for kind, who in found if kind == "escalation"} == runners
    assert {kind for kind, _ in found} == {"task_reminder", "task_overdue", "escalation"}
    session.expire_all()
    assert session.get(FollowUpMeeting, meeting.id).escalation_level == 1
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "follow_up_meeting", AuditEvent.entity_id == meeting.id)
    )
    assert [e.action for e in events] == ["scheduled", "reminded", "reminded", "escalated"]


def test_evaluation_needs_every_plan_followed_up_and_a_new_cycle_keeps_history(session):
    s, plans = _step9(session)
    now = later(session)
    owner, leader = s.person("processagare"), s.person("processledare")
    evaluate = dict(what_worked="Förankringen", what_to_change="Tidplanen", before_after="Färre per chef")
    err = refused_saving_nothing(
        session,
        lambda: engine.evaluate_process(ctx_for(session, owner, now), s.process_id, **evaluate),
        GateUnmet,
    )
    assert err.params["gate"] == "follow_up_meeting"
    for plan in plans:
        engine.record_follow_up(
            ctx_for(session, leader, now),
            plan.id,
            held_on=now.date(),
            participants=["Chef"],
            reviews=_reviews(session, plan.id),
            next_follow_up_on=now.date() + timedelta(days=90),
        )
    engine.evaluate_process(ctx_for(session, owner, now), s.process_id, **evaluate)
    session.commit()
    refused_saving_nothing(
        session, lambda: engine.start_new_cycle(ctx_for(session, owner, now), s.process_id), IllegalTransition
    )
    done = finish_process(session, s.process_id, now)
    nxt = engine.start_new_cycle(ctx_for(session, owner, done), s.process_id)
    session.commit()
    assert (nxt.cycle, nxt.previous_process_id, nxt.status) == (2, s.process_id, "running")
    assert [p.id for p in engine.cycle_history(session, nxt.id)] == [s.process_id, nxt.id]
    assert {
        p.status for p in session.scalars(select(ActionPlan).where(ActionPlan.process_id == s.process_id))
    } == {"closed"}
    assert session.get(Process, s.process_id).status == "completed"
    refused_saving_nothing(
        session, lambda: engine.start_new_cycle(ctx_for(session, owner, done), s.process_id), Conflict
    )
