"""Random sequences of plan and action operations over the real engine (Hypothesis).

Whoever acts and whatever they submit: no action is in progress without an
approved risk assessment of its current revision, no plan is adopted without a
recorded samverkan consultation, and a refused call saves nothing at all.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from flows import engine
from flows.engine.actions import plan_gate, risk_gate
from flows.errors import EngineError
from models import Action, ActionPlan, AuditEvent, Consultation, Gate, Person, RiskAssessment
from tests.helpers import NOW, ctx_for, start, walk_to
from tests.plans.support import unit_of

MACHINE = settings(
    max_examples=5,
    stateful_step_count=35,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
TODAY = NOW.date()
DATES = st.sampled_from(
    [TODAY - timedelta(days=10), TODAY, TODAY + timedelta(days=20), TODAY + timedelta(days=90)]
)
REACHED: set[str] = set()
COUNTED = (AuditEvent, ActionPlan, Action, Gate, Consultation, RiskAssessment)


class PlanMachine(RuleBasedStateMachine):
    """Random people create, assess, approve, start, change, consult on and adopt plans and actions."""

    session = None

    @initialize()
    def begin(self):
        self.s = self.session
        self.w = start(self.s, managers=2, seed=5)
        walk_to(self.s, self.w.process_id, 8)
        org = self.w.org.organisation.id
        self.people = list(self.s.scalars(select(Person.id).where(Person.organisation_id == org)))
        chef = self.w.person("chef")
        ctx = ctx_for(self.s, chef)
        plan = engine.create_plan(
            ctx,
            self.w.process_id,
            level="C",
            owner_id=chef,
            title="Plan C",
            unit_id=unit_of(self.s, self.w.process_id, chef, "chef"),
        )
        action = engine.add_action(
            ctx,
            plan.id,
            engine.ActionFields(
                development_area="Stöd",
                goal="Mål",
                description="Gör",
                responsible_id=chef,
                start_date=TODAY,
                end_date=TODAY + timedelta(days=30),
            ),
        )
        engine.record_risk_assessment(
            ctx,
            action.id,
            risks=[{"risk": "Oro"}],
            participants=["Skyddsombud"],
            safety_representative="Skyddsombud",
            conclusion="Låg risk",
        )
        gate = risk_gate(engine.Context(self.s), action)
        engine.decide_gate(ctx_for(self.s, self.w.person("processagare")), gate.id, "approve")
        engine.start_action(ctx, action.id)  # one action under way from the start, for the others to disturb
        self.s.commit()
        self.plans: list[int] = [plan.id]
        self.actions: list[int] = [action.id]

    def _counts(self) -> tuple[int, ...]:
        return tuple(self.s.scalar(select(func.count()).select_from(m)) for m in COUNTED)

    def _try(self, call):
        before = self._counts()
        try:
            result = call()
        except EngineError:
            self.s.commit()  # anything half-written would be stored now
            assert self._counts() == before, "a refused call saved something"
            return None
        self.s.commit()
        REACHED.add(getattr(call, "__name__", ""))
        return result

    def _ctx(self, data, *roles):
        # Half the time someone holding the right role acts, otherwise anyone in the organisation.
        chosen = st.sampled_from([self.w.person(r) for r in roles]) | st.sampled_from(self.people)
        return ctx_for(self.s, data.draw(chosen))

    @rule(data=st.data(), level=st.sampled_from("ABC"))
    def create_plan(self, data, level):
        role = {"A": "ledning", "B": "chefers_chef", "C": "chef"}[level]
        owner = data.draw(st.just(self.w.person(role)) | st.sampled_from(self.people))
        unit = unit_of(self.s, self.w.process_id, owner, role)
        plan = self._try(
            lambda: engine.create_plan(
                ctx_for(self.s, owner),
                self.w.process_id,
                level=level,
                owner_id=owner,
                unit_id=unit,
                title=f"Plan {level}",
            )
        )
        if plan is not None:
            self.plans.append(plan.id)

    @rule(
        data=st.data(),
        begin=DATES,
        end=DATES,
        follow=st.none() | DATES,
        nobody=st.sampled_from([False, False, False, True]),
    )
    def add_action(self, data, begin, end, follow, nobody):
        if not self.plans:
            return
        plan = self.s.get(ActionPlan, data.draw(st.sampled_from(self.plans)))
        fields = engine.ActionFields(
            development_area="Stöd",
            goal="Mål",
            description="Gör",
            responsible_id=None if nobody else plan.owner_id,
            start_date=begin,
            end_date=end,
            follow_up_date=follow,
        )
        action = self._try(lambda: engine.add_action(ctx_for(self.s, plan.owner_id), plan.id, fields))
        if action is not None:
            self.actions.append(action.id)

    def _action(self, data) -> Action | None:
        return self.s.get(Action, data.draw(st.sampled_from(self.actions))) if self.actions else None

    @rule(data=st.data(), rep=st.sampled_from(["Skyddsombud", ""]))
    def assess(self, data, rep):
        if (action := self._action(data)) is not None:
            self._try(
                lambda: engine.record_risk_assessment(
                    self._ctx(data, "chef"),
                    action.id,
                    risks=[{"risk": "Oro", "likelihood": 2}],
                    participants=["Chef", "Skyddsombud"],
                    safety_representative=rep,
                    conclusion="Låg risk",
                )
            )

    @rule(data=st.data(), approve=st.booleans())
    def decide(self, data, approve):
        if (action := self._action(data)) is not None:
            gate = risk_gate(engine.Context(self.s), action)
            self._try(
                lambda: engine.decide_gate(
                    self._ctx(data, "processagare"),
                    gate.id,
                    "approve" if approve else "reject",
                    reason="Komplettera",
                )
            )

    @rule(data=st.data())
    def start_action(self, data):
        if (action := self._action(data)) is not None:

            def start():
                return engine.start_action(ctx_for(self.s, action.responsible_id), action.id)

            self._try(start)

    @rule(data=st.data())
    def change_action(self, data):
        if (action := self._action(data)) is not None:
            fields = engine.ActionFields(
                development_area="Stöd",
                goal="Nytt mål",
                description="Gör mer",
                responsible_id=action.responsible_id,
                start_date=action.start_date,
                end_date=action.end_date,
            )
            self._try(lambda: engine.change_action(ctx_for(self.s, action.responsible_id), action.id, fields))

    @rule(data=st.data())
    def consult(self, data):
        if self.plans:
            plan = self.s.get(ActionPlan, data.draw(st.sampled_from(self.plans)))
            gate = plan_gate(engine.Context(self.s), plan)
            self._try(
                lambda: engine.record_consultation(
                    self._ctx(data, "processledare"),
                    gate.id,
                    subject=plan.title,
                    held_on=date(2027, 1, 20),
                    participants=["Vision"],
                    outcome="Samverkad",
                )
            )

    @rule(data=st.data())
    def adopt(self, data):
        if self.plans:
            plan_id = data.draw(st.sampled_from(self.plans))

            def adopt():
                return engine.adopt_plan(self._ctx(data, "processagare", "chef"), plan_id)

            self._try(adopt)

    @rule(data=st.data())
    def the_right_people_take_an_action_to_start(self, data):
        if (action := self._action(data)) is None:
            return
        leader, owner = self.w.person("processledare"), self.w.person("processagare")

        def start():
            gate = risk_gate(engine.Context(self.s), action)
            assessed = self.s.scalar(
                select(RiskAssessment.id).where(
                    RiskAssessment.gate_id == gate.id, RiskAssessment.action_revision == action.revision
                )
            )
            if action.status in ("planned", "risk_pending") and assessed is None:
                engine.record_risk_assessment(
                    ctx_for(self.s, leader),
                    action.id,
                    risks=[{"risk": "Oro"}],
                    participants=["Skyddsombud"],
                    safety_representative="Skyddsombud",
                    conclusion="Låg risk",
                )
            gate = risk_gate(engine.Context(self.s), action)
            if gate.status == "open":
                engine.decide_gate(ctx_for(self.s, owner), gate.id, "approve")
            return engine.start_action(ctx_for(self.s, action.responsible_id), action.id)

        self._try(start)

    @rule(data=st.data())
    def the_right_people_consult_and_adopt(self, data):
        if not self.plans:
            return
        plan = self.s.get(ActionPlan, data.draw(st.sampled_from(self.plans)))

        def adopt():
            gate = plan_gate(engine.Context(self.s), plan)
            if gate.status == "open":
                engine.record_consultation(
                    ctx_for(self.s, self.w.person("processledare")),
                    gate.id,
                    subject=plan.title,
                    held_on=TODAY,
                    participants=["Vision"],
                    outcome="Samverkad",
                )
            return engine.adopt_plan(ctx_for(self.s, plan.owner_id), plan.id)

        self._try(adopt)

    @invariant()
    def no_action_in_progress_without_an_approved_assessment_of_its_revision(self):
        if not getattr(self, "s", None):
            return
        for action in self.s.scalars(select(Action).where(Action.status == "in_progress")):
            gate = risk_gate(engine.Context(self.s), action)
            assessed = self.s.scalar(
                select(RiskAssessment.id).where(
                    RiskAssessment.gate_id == gate.id, RiskAssessment.action_revision == action.revision
                )
            )
            assert gate.status == "approved" and assessed is not None

    @invariant()
    def no_plan_adopted_without_a_consultation(self):
        if not getattr(self, "s", None):
            return
        for plan in self.s.scalars(select(ActionPlan).where(ActionPlan.status == "adopted")):
            assert self.s.scalar(select(Consultation.id).where(Consultation.plan_id == plan.id)) is not None
            assert plan_gate(engine.Context(self.s), plan).status == "approved"


def test_plan_and_action_gates_hold_under_random_operations(session):
    PlanMachine.session = session
    run_state_machine_as_test(PlanMachine, settings=MACHINE)
    assert {"start", "adopt"} <= REACHED, "the random runs never started an action or adopted a plan"
