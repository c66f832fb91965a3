"""Shared set-up for the plan and follow-up tests: processes walked through the engine."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chefoskop.sim_people import SimPeople
from flows import engine
from flows.calendar import add_working_days
from models import ActionPlan, AuditEvent, Gate, Process, RoleAssignment
from tests.helpers import ctx_for, open_queued, snapshot, start, walk_to


def later(session: Session, days: int = 1) -> datetime:
    """A moment ``days`` after the newest audit event (the simulated people's clock ran ahead)."""
    newest = session.scalar(select(func.max(AuditEvent.at)))
    return newest + timedelta(days=days)


def unit_of(session: Session, process_id: int, person_id: int, role: str) -> int | None:
    """The unit through which ``person_id`` holds ``role``."""
    return session.scalar(
        select(RoleAssignment.unit_id).where(
            RoleAssignment.process_id == process_id,
            RoleAssignment.person_id == person_id,
            RoleAssignment.role == role,
        )
    )


RISK = {"risk": "Oro i arbetsgruppen", "likelihood": 2, "consequence": 2, "measure": "Information på APT"}


def safety_rep(session: Session, process_id: int) -> str:
    """The name of the process's first skyddsombud (the seeded organisations have two)."""
    from models import Person

    person_id = session.scalar(
        select(RoleAssignment.person_id)
        .where(RoleAssignment.process_id == process_id, RoleAssignment.role == "skyddsombud")
        .order_by(RoleAssignment.id)
    )
    return session.get(Person, person_id).name


def assessment(session: Session, process_id: int, **changes) -> dict:
    """Complete keyword arguments for ``engine.record_risk_assessment``, a skyddsombud taking part."""
    rep = safety_rep(session, process_id)
    return {
        "risks": [dict(RISK)],
        "participants": ["Chef", rep],
        "safety_representative": rep,
        "conclusion": "Låg risk",
        **changes,
    }


def samverkan_body(session: Session, process_id: int) -> int:
    """The body holding the samverkan role in the process."""
    return session.scalar(
        select(RoleAssignment.body_id).where(
            RoleAssignment.process_id == process_id, RoleAssignment.role == "samverkan"
        )
    )


def consultation(session: Session, process_id: int, subject: str, held_on, **changes) -> dict:
    """Complete keyword arguments for a plan's ``engine.record_consultation``."""
    return {
        "subject": subject,
        "held_on": held_on,
        "participants": ["Vision", "Kommunal"],
        "outcome": "Samverkad",
        "opinions": "Inga invändningar",
        "body_id": samverkan_body(session, process_id),
        **changes,
    }


def refused_saving_nothing(session: Session, call, error):
    """``call`` raises ``error``; committing afterwards stores nothing (no half-saved rows)."""
    before = snapshot(session)
    with pytest.raises(error) as info:
        call()
    session.commit()
    assert snapshot(session) == before
    return info.value


def workplace_plan(session: Session, managers: int = 3):
    """A process walked to step 8 and a chef's draft plan for their own workplace (level C),
    not committed: ``(started, chef id, the chef's context, plan)``."""
    s = start(session, managers=managers)
    walk_to(session, s.process_id, 8)
    chef = s.person("chef")
    ctx = ctx_for(session, chef)
    plan = engine.create_plan(ctx, s.process_id, level="C", owner_id=chef, title="Plan",
                              unit_id=unit_of(session, s.process_id, chef, "chef"))
    return s, chef, ctx, plan


def adopted_plan(
    session: Session,
    process_id: int,
    owner: int,
    leader: int,
    approver: int,
    now: datetime,
    *,
    level: str = "C",
    area: str = "Administrativt stöd",
) -> ActionPlan:
    """A plan with one started action (assessed, approved) and a recorded consultation; committed."""
    role = {"A": "ledning", "B": "chefers_chef", "C": "chef"}[level]
    ctx = ctx_for(session, owner, now)
    plan = engine.create_plan(
        ctx,
        process_id,
        level=level,
        owner_id=owner,
        title=f"Plan {level}",
        unit_id=unit_of(session, process_id, owner, role),
    )
    today = now.date()
    action = engine.add_action(
        ctx,
        plan.id,
        engine.ActionFields(
            development_area=area,
            goal="Mer tid för ledarskap",
            description="Inför administrativt stöd",
            responsible_id=owner,
            start_date=today,
            end_date=today + timedelta(days=90),
            expected_effect="Mindre administration",
            cost_estimate=120000.0,
            follow_up_date=today + timedelta(days=30),
        ),
    )
    engine.record_risk_assessment(ctx, action.id, **assessment(session, process_id))
    gate = session.scalar(select(Gate).where(Gate.action_id == action.id))
    engine.decide_gate(ctx_for(session, approver, now), gate.id, "approve")
    engine.start_action(ctx, action.id)
    plan_gate = session.scalar(select(Gate).where(Gate.plan_id == plan.id))
    engine.record_consultation(
        ctx_for(session, leader, now), plan_gate.id, **consultation(session, process_id, plan.title, today)
    )
    engine.adopt_plan(ctx, plan.id)
    session.commit()
    return plan


def finish_process(session: Session, process_id: int, now: datetime) -> datetime:
    """Let the simulated people finish every step; returns the moment it completed (commits)."""
    people = SimPeople(random.Random(2), late_share=0.0)
    people.rejected = {(process_id, n, "step_approval") for n in range(1, 10)}
    today = now.date()
    for _ in range(200):
        session.commit()
        session.expire_all()
        if session.get(Process, process_id).status == "completed":
            return datetime.combine(today, now.timetz())
        moment = datetime.combine(today, now.timetz())
        queued = people.act(process_id, today, moment)
        session.expire_all()
        open_queued(session, queued, moment)
        session.commit()
        today = add_working_days(today, 1)
    raise AssertionError("the process never completed")
