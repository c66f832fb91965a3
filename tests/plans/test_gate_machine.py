"""Random sequences of plan and action operations over the real engine (Hypothesis).

Whoever acts and whatever they submit: no action is in progress without an approved risk
assessment of its current revision, no plan is adopted without actions and a complete samverkan
consultation record, every recorded risk assessment is complete with a skyddsombud taking part,
every unit plan is owned by a manager of its unit, and a refused call saves nothing at all.

Each example starts from the same state: one process walked to step 8 once per test, and every
example runs inside a transaction of its own that is rolled back at its end (the engine's
commits release savepoints inside it). Replaying an example therefore meets the same database,
which shrinking needs.

The machine is checked against the bugs it exists to catch: with ``start_action``'s
``rules.require_action_may_start`` call removed (and 'planned' -> 'in_progress' allowed in
``rules.TRANSITIONS``) it fails, and so it does with ``adopt_plan``'s consultation check removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from flows import engine
from flows.engine.actions import plan_gate, risk_gate
from flows.errors import EngineError
from models import Action, ActionPlan, AuditEvent, Consultation, Gate, Person, RiskAssessment, Unit
from roles.mandate import plan_mandate
from roles.resolve import load_role_data
from tests.helpers import NOW, ctx_for, start, walk_to
from tests.plans.support import RISK, samverkan_body, unit_of

MACHINE = settings(
    max_examples=30,
    stateful_step_count=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
TODAY = NOW.date()
ROLE = {"A": "ledning", "B": "chefers_chef", "C": "chef"}
REACHED: set[str] = set()
COUNTED = (AuditEvent, ActionPlan, Action, Gate, Consultation, RiskAssessment)
# Mostly valid input, so the machine gets far; now and then one flaw of each kind.
ACTION_FLAWS = (None,) * 10 + (
    "end_before_start",
    "no_responsible",
    "follow_up_in_past",
    "follow_up_before_start",
    "no_goal",
)
RISK_FLAWS = (None,) * 6 + (
    "no_risks",
    "no_measure",
    "no_grades",
    "rep_absent",
    "not_a_rep",
    "no_participants",
)
CONSULTATION_FLAWS = (None, None, None, "no_body", "no_views", "in_future")


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@dataclass
class Base:
    """The committed state every example starts from: a process at step 8 and who is who."""

    db: Engine
    process_id: int
    by_role: dict[str, list[int]]
    people: list[int]
    reps: list[str]
    body_id: int
    units: dict[str, list[int]]  # level -> unit ids

    def person(self, role: str, index: int = 0) -> int:
        return self.by_role[role][index]


def build_base(session: Session) -> Base:
    w = start(session, managers=3, seed=5)
    walk_to(session, w.process_id, 8)
    org = w.org.organisation.id
    people = list(session.scalars(select(Person.id).where(Person.organisation_id == org).order_by(Person.id)))
    units = {
        level: list(session.scalars(select(Unit.id).where(Unit.organisation_id == org, Unit.level == level)))
        for level in "ABC"
    }
    return Base(
        db=session.get_bind(),
        process_id=w.process_id,
        by_role={role: [p.id for p in found] for role, found in w.org.by_role.items()},
        people=people,
        reps=[p.name for p in w.org.by_role["skyddsombud"]],
        body_id=samverkan_body(session, w.process_id),
        units=units,
    )


class PlanMachine(RuleBasedStateMachine):
    """Random people create, assess, approve, start, change, finish, consult on and adopt plans."""

    base: Base

    def __init__(self):
        super().__init__()
        self.conn = self.base.db.connect()
        self.outer = self.conn.begin()
        if self.conn.dialect.name == "sqlite":
            # pysqlite begins its transaction only at the first write; savepoints need it first.
            self.conn.execute(text("UPDATE task SET id = id WHERE 1 = 0"))
        self.s = Session(bind=self.conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        self.plans: list[int] = []
        self.actions: list[int] = []
        self.checked = {"assessment": 0, "plan": 0}  # the rows the invariants have seen (ids)
        self.roles = None

    def teardown(self):
        self.s.close()
        self.outer.rollback()
        self.conn.close()

    # --- helpers -------------------------------------------------------------------------

    def _counts(self) -> tuple[int, ...]:
        counts = [select(func.count()).select_from(m).scalar_subquery() for m in COUNTED]
        return tuple(self.s.execute(select(*counts)).one())

    def _try(self, call):
        before = self._counts()
        try:
            result = call()
        except EngineError:
            self.s.commit()  # anything half-written would be stored now
            assert self._counts() == before, f"a refused {call.__name__} saved something"
            return None
        self.s.commit()
        REACHED.add(call.__name__)
        return result

    def _ctx(self, data, *people: int):
        # Mostly one of the right people acts, otherwise anyone in the organisation.
        return ctx_for(self.s, data.draw(st.sampled_from(people) | st.sampled_from(self.base.people)))

    def _plan(self, data) -> ActionPlan | None:
        return self.s.get(ActionPlan, data.draw(st.sampled_from(self.plans))) if self.plans else None

    def _action(self, data) -> Action | None:
        return self.s.get(Action, data.draw(st.sampled_from(self.actions))) if self.actions else None

    def _fields(self, data, plan: ActionPlan, flaw: str | None = None) -> engine.ActionFields:
        begin = TODAY + timedelta(days=data.draw(st.integers(0, 30)))
        end = begin + timedelta(days=data.draw(st.integers(0, 90)))
        follow = data.draw(st.none() | st.integers(0, 120).map(lambda d: begin + timedelta(days=d)))
        values = dict(
            development_area="Stöd",
            goal="Mål",
            description="Gör",
            responsible_id=plan.owner_id,
            start_date=begin,
            end_date=end,
            follow_up_date=follow,
        )
        values |= {
            None: {},
            "end_before_start": {"end_date": begin - timedelta(days=1)},
            "no_responsible": {"responsible_id": None},
            "follow_up_in_past": {"follow_up_date": TODAY - timedelta(days=3)},
            "follow_up_before_start": {"start_date": TODAY + timedelta(days=20), "follow_up_date": TODAY},
            "no_goal": {"goal": " "},
        }[flaw]
        return engine.ActionFields(**values)

    def _assessment(self, data, flaw: str | None) -> dict:
        rep = data.draw(st.sampled_from(self.base.reps))
        risk = dict(RISK)
        found = {
            "risks": [risk],
            "participants": ["Chef", rep],
            "safety_representative": rep,
            "conclusion": "Låg risk",
        }
        if flaw == "no_risks":
            found["risks"] = []
        elif flaw == "no_measure":
            risk["measure"] = ""
        elif flaw == "no_grades":
            risk.pop("likelihood")
        elif flaw == "rep_absent":
            found["participants"] = ["Chef"]
        elif flaw == "not_a_rep":
            found["participants"] = ["Chef", "Kim Okänd"]
            found["safety_representative"] = "Kim Okänd"
        elif flaw == "no_participants":
            found["participants"] = []
        return found

    def _consultation(self, plan: ActionPlan, flaw: str | None) -> dict:
        found = {
            "subject": plan.title,
            "held_on": TODAY,
            "participants": ["Vision"],
            "outcome": "Samverkad",
            "opinions": "Inga invändningar",
            "body_id": self.base.body_id,
        }
        if flaw == "no_body":
            found["body_id"] = None
        elif flaw == "no_views":
            found["opinions"] = " "
        elif flaw == "in_future":
            found["held_on"] = date(2027, 12, 20)
        return found

    def _add(self, data, plan: ActionPlan, flaw: str | None = None) -> Action | None:
        fields = self._fields(data, plan, flaw)

        def add_action():
            return engine.add_action(ctx_for(self.s, plan.owner_id), plan.id, fields)

        action = self._try(add_action)
        if action is not None:
            self.actions.append(action.id)
        return action

    # --- rules ---------------------------------------------------------------------------

    @initialize()
    def begin(self):
        chef = self.base.person("chef")
        ctx = ctx_for(self.s, chef)
        pid = self.base.process_id
        plan = engine.create_plan(
            ctx, pid, level="C", owner_id=chef, title="Plan C", unit_id=unit_of(self.s, pid, chef, "chef")
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
        rep = self.base.reps[0]
        engine.record_risk_assessment(
            ctx,
            action.id,
            risks=[dict(RISK)],
            participants=[rep],
            safety_representative=rep,
            conclusion="Låg",
        )
        gate = risk_gate(engine.Context(self.s), action)
        engine.decide_gate(ctx_for(self.s, self.base.person("processagare")), gate.id, "approve")
        engine.start_action(ctx, action.id)  # one action under way from the start, for the others to disturb
        self.s.commit()
        self.plans.append(plan.id)
        self.actions.append(action.id)

    @rule(data=st.data(), level=st.sampled_from("ABC"))
    def create_plan(self, data, level):
        role = ROLE[level]
        owner = data.draw(st.sampled_from(self.base.by_role[role]) | st.sampled_from(self.base.people))
        own = unit_of(self.s, self.base.process_id, owner, role)
        unit = data.draw(st.sampled_from([own, own, own, None, *self.base.units[level]]))

        def create_plan():
            return engine.create_plan(
                ctx_for(self.s, owner),
                self.base.process_id,
                level=level,
                owner_id=owner,
                unit_id=unit,
                title=f"Plan {level}",
            )

        if (plan := self._try(create_plan)) is not None:
            self.plans.append(plan.id)

    @rule(data=st.data(), flaw=st.sampled_from(ACTION_FLAWS))
    def add_action(self, data, flaw):
        if (plan := self._plan(data)) is not None:
            self._add(data, plan, flaw)

    @rule(data=st.data())
    def add_an_action_and_start_it_at_once(self, data):
        if (plan := self._plan(data)) is None or (action := self._add(data, plan)) is None:
            return

        def start_action():
            return engine.start_action(ctx_for(self.s, action.responsible_id), action.id)

        self._try(start_action)

    @rule(data=st.data())
    def add_an_action_and_adopt_at_once(self, data):
        if (plan := self._plan(data)) is None or plan.status != "draft" or self._add(data, plan) is None:
            return

        def adopt():
            return engine.adopt_plan(ctx_for(self.s, plan.owner_id), plan.id)

        self._try(adopt)

    @rule(data=st.data(), flaw=st.sampled_from(RISK_FLAWS))
    def assess(self, data, flaw):
        if (action := self._action(data)) is None:
            return
        plan = self.s.get(ActionPlan, action.plan_id)
        ctx = self._ctx(data, plan.owner_id, action.responsible_id, *self.base.by_role["skyddsombud"])
        found = self._assessment(data, flaw)

        def record_risk_assessment():
            return engine.record_risk_assessment(ctx, action.id, **found)

        self._try(record_risk_assessment)

    @rule(data=st.data(), approve=st.booleans())
    def decide(self, data, approve):
        if (action := self._action(data)) is not None:
            gate = risk_gate(engine.Context(self.s), action)
            ctx = self._ctx(data, self.base.person("processagare"))

            def decide_gate():
                return engine.decide_gate(
                    ctx, gate.id, "approve" if approve else "reject", reason="Komplettera"
                )

            self._try(decide_gate)

    @rule(data=st.data())
    def start_action(self, data):
        if (action := self._action(data)) is not None:

            def start():
                return engine.start_action(ctx_for(self.s, action.responsible_id), action.id)

            self._try(start)

    @rule(data=st.data(), kind=st.sampled_from(["same", "follow_up", "content", "content", "flawed"]))
    def change_action(self, data, kind):
        if (action := self._action(data)) is None:
            return
        plan = self.s.get(ActionPlan, action.plan_id)
        current = {k: getattr(action, k) for k in engine.ActionFields.__dataclass_fields__}
        if kind == "follow_up":
            current["follow_up_date"] = action.start_date + timedelta(days=data.draw(st.integers(0, 60)))
        elif kind == "content":
            current["description"] = data.draw(st.sampled_from(["Gör mer", "Gör annat", "Gör"]))
            current["responsible_id"] = data.draw(
                st.sampled_from([plan.owner_id, self.base.person("chef", 1)])
            )
        elif kind == "flawed":
            current["end_date"] = action.start_date - timedelta(days=1)
        fields = engine.ActionFields(**current)
        ctx = self._ctx(data, plan.owner_id, action.responsible_id)

        def change():
            return engine.change_action(ctx, action.id, fields)

        self._try(change)

    @rule(data=st.data(), dropped=st.sampled_from([False, False, False, True]))
    def finish(self, data, dropped):
        if (action := self._action(data)) is not None:

            def finish_action():
                return engine.finish_action(
                    ctx_for(self.s, action.responsible_id), action.id, result="Klart", dropped=dropped
                )

            self._try(finish_action)

    @rule(data=st.data(), flaw=st.sampled_from(CONSULTATION_FLAWS))
    def consult(self, data, flaw):
        if (plan := self._plan(data)) is None:
            return
        gate = plan_gate(engine.Context(self.s), plan)
        ctx = self._ctx(data, self.base.person("processledare"))
        found = self._consultation(plan, flaw)

        def record_consultation():
            return engine.record_consultation(ctx, gate.id, **found)

        self._try(record_consultation)

    @rule(data=st.data())
    def adopt(self, data):
        if (plan := self._plan(data)) is not None:
            ctx = self._ctx(data, plan.owner_id, self.base.person("processagare"))

            def adopt():
                return engine.adopt_plan(ctx, plan.id)

            self._try(adopt)

    @rule(data=st.data())
    def the_right_people_take_an_action_to_start(self, data):
        """Assess (when needed), approve and start, each step its own call as in the app."""
        if (action := self._action(data)) is None:
            return
        leader, owner = self.base.person("processledare"), self.base.person("processagare")
        rep = self.base.reps[0]
        gate = risk_gate(engine.Context(self.s), action)
        assessed = self.s.scalar(
            select(RiskAssessment.id).where(
                RiskAssessment.gate_id == gate.id, RiskAssessment.action_revision == action.revision
            )
        )
        if action.status in ("planned", "risk_pending") and assessed is None:

            def record_risk_assessment():
                return engine.record_risk_assessment(
                    ctx_for(self.s, leader),
                    action.id,
                    risks=[dict(RISK)],
                    participants=[rep],
                    safety_representative=rep,
                    conclusion="Låg risk",
                )

            self._try(record_risk_assessment)
        gate = risk_gate(engine.Context(self.s), action)
        if gate.status == "open":

            def decide_gate():
                return engine.decide_gate(ctx_for(self.s, owner), gate.id, "approve")

            self._try(decide_gate)

        def start():
            return engine.start_action(ctx_for(self.s, action.responsible_id), action.id)

        self._try(start)

    @rule(data=st.data())
    def the_right_people_consult_and_adopt(self, data):
        """Consult (when needed), then adopt: two calls, as in the app."""
        if (plan := self._plan(data)) is None:
            return
        gate = plan_gate(engine.Context(self.s), plan)
        if gate.status == "open":
            found = self._consultation(plan, None)

            def record_consultation():
                return engine.record_consultation(
                    ctx_for(self.s, self.base.person("processledare")), gate.id, **found
                )

            self._try(record_consultation)

        def adopt():
            return engine.adopt_plan(ctx_for(self.s, plan.owner_id), plan.id)

        self._try(adopt)

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def no_action_in_progress_without_an_approved_assessment_of_its_revision(self):
        for action in self.s.scalars(select(Action).where(Action.status == "in_progress")):
            gate = risk_gate(engine.Context(self.s), action)
            assessed = self.s.scalar(
                select(RiskAssessment.id).where(
                    RiskAssessment.gate_id == gate.id, RiskAssessment.action_revision == action.revision
                )
            )
            assert gate.status == "approved" and assessed is not None, (
                f"action {action.id} started unassessed"
            )

    @invariant()
    def no_plan_adopted_without_actions_and_a_complete_consultation(self):
        for plan in self.s.scalars(select(ActionPlan).where(ActionPlan.status == "adopted")):
            found = self.s.scalars(select(Consultation).where(Consultation.plan_id == plan.id)).all()
            assert found, f"plan {plan.id} adopted without a consultation"
            assert all(c.body_id is not None and c.opinions.strip() for c in found)
            assert plan_gate(engine.Context(self.s), plan).status == "approved"
            assert self.s.scalar(select(func.count()).select_from(Action).where(Action.plan_id == plan.id))

    @invariant()
    def every_risk_assessment_is_complete_with_a_skyddsombud_taking_part(self):
        rows = self.s.scalars(select(RiskAssessment).where(RiskAssessment.id > self.checked["assessment"]))
        for row in rows:
            assert row.risks and all(
                r.get("risk")
                and r.get("measure")
                and r.get("likelihood") in range(1, 6)
                and r.get("consequence") in range(1, 6)
                for r in row.risks
            ), f"risk assessment {row.id} is incomplete: {row.risks}"
            assert any(_same(row.safety_representative, p) for p in row.participants)
            assert any(_same(row.safety_representative, rep) for rep in self.base.reps)
            self.checked["assessment"] = max(self.checked["assessment"], row.id)

    @invariant()
    def every_plan_is_owned_by_a_manager_of_its_unit(self):
        # Plans keep their unit and (here) their owner, and nobody changes the roster: each plan
        # is checked once, against the role data read once.
        self.roles = self.roles or load_role_data(self.s, self.base.process_id)
        for plan in self.s.scalars(select(ActionPlan).where(ActionPlan.id > self.checked["plan"])):
            assert plan_mandate(self.roles, plan.level, plan.unit_id, plan.owner_id, NOW) is None, plan.id
            self.checked["plan"] = max(self.checked["plan"], plan.id)


def test_plan_and_action_gates_hold_under_random_operations(session):
    REACHED.clear()
    PlanMachine.base = build_base(session)
    session.commit()
    run_state_machine_as_test(PlanMachine, settings=MACHINE)
    wanted = {"start", "adopt", "record_risk_assessment", "record_consultation", "change", "create_plan"}
    assert wanted <= REACHED, f"the random runs never reached {wanted - REACHED}"
