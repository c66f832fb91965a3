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
from tests.helpers import ctx_for, open_queued, snapshot


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


def refused_saving_nothing(session: Session, call, error):
    """``call`` raises ``error``; committing afterwards stores nothing (no half-saved rows)."""
    before = snapshot(session)
    with pytest.raises(error) as info:
        call()
    session.commit()
    assert snapshot(session) == before
    return info.value


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
    engine.record_risk_assessment(
        ctx,
        action.id,
        risks=[{"risk": "Oro", "likelihood": 2, "consequence": 2, "measure": "Information"}],
        participants=["Chef", "Skyddsombud"],
        safety_representative="Skyddsombud",
        conclusion="Låg risk",
    )
    gate = session.scalar(select(Gate).where(Gate.action_id == action.id))
    engine.decide_gate(ctx_for(session, approver, now), gate.id, "approve")
    engine.start_action(ctx, action.id)
    plan_gate = session.scalar(select(Gate).where(Gate.plan_id == plan.id))
    engine.record_consultation(
        ctx_for(session, leader, now),
        plan_gate.id,
        subject=plan.title,
        held_on=today,
        participants=["Vision", "Kommunal"],
        outcome="Samverkad",
        opinions="Inga invändningar",
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
