"""Simulated people: they claim and finish tasks, decide gates, record consultations and plans.

Each act is one transaction through the engine, as a real click would be.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chefoskop.db import unit_of_work
from flows import engine
from flows.calendar import add_working_days
from flows.engine.cycle import evaluation_form_data
from flows.engine.followup import next_meeting
from flows.engine.queries import step_spec
from flows.errors import EngineError
from models import Action, ActionPlan, Gate, Person, Process, RoleAssignment, StepInstance, Task
from roles.catalogue import PLAN_OWNER_ROLE_BY_LEVEL
from roles.resolve import holders

PLAN_ACTIVITIES = {"plan_overall": "A", "plan_unit": "B", "plan_workplace": "C"}
# Respondents answer through their survey link; closing the survey completes these tasks.
SURVEY_ACTIVITIES = frozenset({"answer_survey_1", "fill_logbook", "answer_survey_3",
                               "answer_survey_3_management"})
MAPPING_STEPS = (4, 5, 6)
AREAS = ("Antal medarbetare per chef", "Administrativt stöd", "Tid för ledarskap",
         "Stöd från HR och ekonomi", "Beslutsvägar och mandat")
# (risk to health and safety, measure against it) for the simulated risk assessments.
RISKS = (
    ("Ökad arbetsbelastning under omställningen", "Stegvis införande med avstämning varje vecka"),
    ("Otydliga roller och oro i arbetsgruppen",
     "Information på arbetsplatsträff och nya rollbeskrivningar"),
    ("Fler möten tränger undan tid för återhämtning", "Mötesfria eftermiddagar under införandet"),
)
UNION_VIEWS = ("Inga invändningar.", "Parterna ställer sig bakom planen.",
               "Vision vill att effekten på arbetsbelastningen följs upp särskilt; "
               "inga invändningar i övrigt.")


class SimPeople:
    """Everyone in the simulated organisations, acting on a seeded random generator."""

    def __init__(self, rng: random.Random, late_share: float) -> None:
        self.rng = rng
        self.late_share = late_share
        self.plan_for: dict[int, date] = {}
        self.rejected: set[tuple[int, int, str]] = set()
        self.answered_surveys: set[int] = set()
        self.record_areas = True  # Dela värld's areas at step 7 (tests may record their own)

    def act(self, process_id: int, today: date, now: datetime) -> list[tuple[int, int]]:
        """Do everything people in ``process_id`` get to today; returns steps queued."""
        queued: list[tuple[int, int]] = []
        self._answer_surveys(process_id)
        with unit_of_work() as s:
            tasks = list(s.scalars(select(Task.id, ).where(
                Task.process_id == process_id, Task.status.in_(("open", "claimed"))
            ).order_by(Task.id)))
            gates = list(s.scalars(select(Gate.id).where(
                Gate.process_id == process_id, Gate.status == "open").order_by(Gate.id)))
        for task_id in tasks:
            queued += self._task(task_id, today, now)
        for gate_id in gates:
            queued += self._gate(gate_id, today, now)
        self._plans(process_id, now)
        return queued

    def _answer_surveys(self, process_id: int) -> None:
        """Managers answer each open mapping once, through their personal links."""
        from surveys.distribution import current_survey
        from surveys.simulate import simulate_answers

        with unit_of_work() as s:
            for step_no in MAPPING_STEPS:
                survey = current_survey(s, process_id, step_no)
                if survey is not None and survey.status == "open" and survey.id not in self.answered_surveys:
                    simulate_answers(s, survey.id, self.rng)
                    self.answered_surveys.add(survey.id)

    def _when(self, key: int, due: date | None, today: date) -> date:
        if key not in self.plan_for:
            days = self.rng.randint(1, 4)
            if due is not None and self.rng.random() < self.late_share:
                self.plan_for[key] = add_working_days(due, self.rng.randint(2, 7))
            else:
                self.plan_for[key] = add_working_days(today, days)
        return self.plan_for[key]

    def _task(self, task_id: int, today: date, now: datetime) -> list[tuple[int, int]]:
        with unit_of_work() as s:
            task = s.get(Task, task_id)
            if task.activity_key in SURVEY_ACTIVITIES:
                return []
            if self._when(task_id, task.due_date, today) > today or task.status not in ("open", "claimed"):
                return []
            who = task.assignee_id or sorted(c.person_id for c in task.candidates)[0]
            ctx = engine.Context(s, engine.Actor.person(who), now)
            if task.assignee_id is None and task.holder_id is None:
                engine.claim(ctx, task.id)
            process = s.get(Process, task.process_id)
            spec = step_spec(process, s.get(StepInstance, task.step_id)).activity(task.activity_key)
            if task.activity_key in PLAN_ACTIVITIES:
                self._make_plan(ctx, process, PLAN_ACTIVITIES[task.activity_key], who, today)
            if task.activity_key == "prioritise" and self.record_areas:
                self._record_areas(ctx, process)
            if task.activity_key == "follow_up_meeting":
                self._follow_up(ctx, process, today)
            data = {f.key: f"{f.label.sv}: simulerat svar {self.rng.randint(1, 999)}"
                    for f in spec.fields}
            if task.activity_key == "evaluate_process":
                data = self._evaluate(ctx, process)
            engine.complete(ctx, task.id, data)
            return ctx.queued

    def _gate(self, gate_id: int, today: date, now: datetime) -> list[tuple[int, int]]:
        with unit_of_work() as s:
            gate = s.get(Gate, gate_id)
            if self._when(-gate_id, None, today) > today or gate.status != "open":
                return []
            if gate.kind == "consultation":
                return self._consult(s, gate, today, now)
            decider = holders(s, gate.process_id, gate.requirements["decider"], now)[0]
            ctx = engine.Context(s, engine.Actor.person(decider.id), now)
            step_no = s.get(StepInstance, gate.step_id).step_no if gate.step_id else 0
            mark = (gate.process_id, step_no, gate.key)
            first_time = gate.kind == "approval" and mark not in self.rejected
            if first_time and (step_no == 1 or self.rng.random() < 0.1):
                self.rejected.add(mark)
                engine.decide_gate(ctx, gate.id, "reject",
                                   reason="Underlaget behöver kompletteras innan beslut.")
            else:
                engine.decide_gate(ctx, gate.id, "approve", evidence={"note": "Godkänt"})
            return ctx.queued

    def _consult(self, s: Session, gate: Gate, today: date, now: datetime) -> list[tuple[int, int]]:
        leader = holders(s, gate.process_id, "processledare", now)[0]
        members = holders(s, gate.process_id, "samverkan", now)
        ctx = engine.Context(s, engine.Actor.person(leader.id), now)
        body_id = s.scalar(select(RoleAssignment.body_id).where(
            RoleAssignment.process_id == gate.process_id, RoleAssignment.role == "samverkan"))
        engine.record_consultation(
            ctx, gate.id, subject="Information och samverkan inför beslut", held_on=today,
            participants=[p.name for p in members], opinions="Parterna ställer sig bakom.",
            outcome="Samverkat utan invändningar.", body_id=body_id)
        return ctx.queued

    def _make_plan(self, ctx: engine.Context, process: Process, level: str, owner: int,
                   today: date) -> None:
        s = ctx.session
        unit_id = s.scalar(select(RoleAssignment.unit_id).where(
            RoleAssignment.process_id == process.id, RoleAssignment.person_id == owner,
            RoleAssignment.role == PLAN_OWNER_ROLE_BY_LEVEL[level]))
        plan = engine.create_plan(ctx, process.id, level=level, owner_id=owner, unit_id=unit_id,
                                  title=f"Handlingsplan nivå {level}")
        areas = [a.title for a in engine.plan_areas(s, plan.id)] or list(AREAS)
        for _ in range(self.rng.randint(1, 2)):
            start = add_working_days(today, self.rng.randint(5, 20))
            fields = engine.ActionFields(
                development_area=self.rng.choice(areas), goal="Bättre förutsättningar för chefer",
                description="Åtgärd enligt prioriterat utvecklingsområde", responsible_id=owner,
                start_date=start, end_date=start + timedelta(days=self.rng.randint(30, 120)),
                expected_effect="Mindre belastning", cost_estimate=float(self.rng.randint(0, 90)) * 1000,
                follow_up_date=start + timedelta(days=60))
            action = engine.add_action(ctx, plan.id, fields)
            self._assess(ctx, process, action.id, owner)
        gate = s.scalar(select(Gate).where(Gate.plan_id == plan.id))
        leader = holders(s, process.id, "processledare", ctx.now)[0]
        lctx = engine.Context(s, engine.Actor.person(leader.id), ctx.now)
        members = [p.name for p in holders(s, process.id, "samverkan", ctx.now)]
        engine.record_consultation(lctx, gate.id, subject=plan.title, held_on=today,
                                   participants=members, body_id=self._samverkan_body(s, process.id),
                                   opinions=self.rng.choice(UNION_VIEWS), outcome="Samverkad.")

    @staticmethod
    def _samverkan_body(s: Session, process_id: int) -> int | None:
        return s.scalar(select(RoleAssignment.body_id).where(
            RoleAssignment.process_id == process_id, RoleAssignment.role == "samverkan",
            RoleAssignment.body_id.is_not(None)).order_by(RoleAssignment.id).limit(1))

    def _assess(self, ctx: engine.Context, process: Process, action_id: int, owner: int) -> None:
        """The owner's risk assessment with a skyddsombud of the process taking part."""
        s = ctx.session
        reps = holders(s, process.id, "skyddsombud", ctx.now)
        rep = self.rng.choice(reps).name if reps else "Regionalt skyddsombud"
        risks = [dict(zip(("risk", "measure"), pair, strict=True),
                      likelihood=self.rng.randint(1, 3), consequence=self.rng.randint(1, 4))
                 for pair in self.rng.sample(RISKS, self.rng.randint(1, 2))]
        engine.record_risk_assessment(
            ctx, action_id, safety_representative=rep, risks=risks,
            participants=[s.get(Person, owner).name, rep],
            conclusion="Riskerna är hanterbara med åtgärderna.")

    def _plans(self, process_id: int, now: datetime) -> None:
        with unit_of_work() as s:
            for plan in s.scalars(select(ActionPlan).where(
                    ActionPlan.process_id == process_id, ActionPlan.status == "draft")):
                engine.adopt_plan(engine.Context(s, engine.Actor.person(plan.owner_id), now), plan.id)
            for action in s.scalars(select(Action).where(
                    Action.process_id == process_id, Action.status == "approved")):
                try:
                    engine.start_action(engine.Context(s, engine.Actor.person(action.responsible_id), now),
                                        action.id)
                except EngineError:
                    continue

    def _record_areas(self, ctx: engine.Context, process: Process) -> None:
        """Dela värld's prioritised development areas, one or two for each level."""
        titles = self.rng.sample(AREAS, 3)
        areas = [engine.AreaFields(title=title, level=level, goal="Bättre balans mellan krav och resurser",
                                   priority=i + 1)
                 for i, (title, level) in enumerate(zip(titles, ("A", "B", "C"), strict=True))]
        engine.record_development_areas(ctx, process.id, areas)

    def _follow_up(self, ctx: engine.Context, process: Process, today: date) -> None:
        """The follow-up meeting: each adopted plan's actions reviewed on the five questions."""
        s = ctx.session
        for plan in s.scalars(select(ActionPlan).where(
                ActionPlan.process_id == process.id, ActionPlan.status == "adopted").order_by(ActionPlan.id)):
            actions = s.scalars(select(Action).where(
                Action.plan_id == plan.id, Action.status.in_(("in_progress", "done")))).all()
            reviews = [engine.ReviewFields(
                action_id=a.id, carried_out=self.rng.choice(("yes", "partly")),
                intended_effect=self.rng.choice(("yes", "partly", "not_yet")), served_goals="yes",
                learned="Tydligare stöd från HR gav effekt.") for a in actions]
            owner = engine.Context(s, engine.Actor.person(plan.owner_id), ctx.now)
            if next_meeting(s, plan.id) is None:  # invite to the meeting before it is held
                engine.schedule_follow_up(owner, plan.id, on=today)
            engine.record_follow_up(owner, plan.id, held_on=today, participants=["Chef", "Skyddsombud"],
                                    reviews=reviews, next_follow_up_on=today + timedelta(days=90))
        for action in s.scalars(select(Action).where(
                Action.process_id == process.id, Action.status == "in_progress")):
            engine.finish_action(ctx, action.id, result="Genomförd enligt plan; effekten följs upp.")

    def _evaluate(self, ctx: engine.Context, process: Process) -> dict:
        """The processägare's evaluation that ends step 9; returns the task's form data."""
        s = ctx.session
        statuses = list(s.scalars(select(Action.status).where(Action.process_id == process.id)))
        done = sum(1 for st in statuses if st == "done")
        evaluation = engine.evaluate_process(
            ctx, process.id, what_worked="Gemensam bild av chefernas förutsättningar.",
            what_to_change="Kortare tid mellan kartläggning och åtgärd.",
            before_after=(f"{done} av {len(statuses)} åtgärder genomförda. Kartläggningarna görs om i "
                          "samma chefsgrupper; före och efter jämförs i Dela värld-rapporten."),
            next_cycle="Nästa cykel börjar med att följa upp effekten av årets åtgärder.")
        return evaluation_form_data(evaluation)
