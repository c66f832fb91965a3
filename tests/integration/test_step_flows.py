"""Step flows: opening queued steps directly and through Prefect, hooks, dispatch, prefect.yaml."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chefoskop.settings import get_settings
from flows import engine, opening
from flows.dispatch import DEPLOYMENT_NAME, run_pending_steps, start_queued, start_step_flows
from flows.opening import AFTER_OPEN, StepsNotOpened, after_open, run_step, step_flow_name
from flows.steps import STEP_FLOWS
from models import Gate, Organisation, Person, StepInstance

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("bestallare", "processagare", "processledare", "ledning", "chefers_chef", "chef")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[float]:
    """One temporary Prefect server for the whole test session; yields its start-up time."""
    from prefect.testing.utilities import prefect_test_harness

    started = time.monotonic()
    with prefect_test_harness(server_startup_timeout=120):
        yield time.monotonic() - started


def queue_processes(factory: sessionmaker[Session], n: int) -> list[tuple[int, int]]:
    """Start ``n`` processes through the engine; returns the queued ``(step_no, step_id)``."""
    queued: list[tuple[int, int]] = []
    with factory() as s, s.begin():
        org = Organisation(name="Flödeskommun", slug="flodeskommun")
        s.add(org)
        s.flush()
        people = {}
        for role in ROLES:
            people[role] = Person(organisation_id=org.id, name=role.title(), email=f"{role}@k.se")
            s.add(people[role])
        s.flush()
        roster = [engine.RoleSpec(r, person_id=people[r].id) for r in ROLES]
        for i in range(n):
            ctx = engine.Context(s, engine.Actor.person(people["bestallare"].id))
            engine.start_process(ctx, org.id, f"Process {i}", roster)
            queued += ctx.queued
    return queued


def statuses(factory: sessionmaker[Session], ids: list[int]) -> list[str]:
    """The status of each step in ``ids``."""
    with factory() as s:
        rows = dict(s.execute(select(StepInstance.id, StepInstance.status)).all())
    return [rows[i] for i in ids]


def ids_of(queued: list[tuple[int, int]]) -> list[int]:
    """The step ids of ``(step_no, step_id)`` pairs."""
    return [step_id for _, step_id in queued]


def test_flow_names_and_entrypoint_names() -> None:
    import flows.steps as steps

    assert [f.name for f in STEP_FLOWS.values()][:4] == [
        "step-1-start", "step-2-forsta", "step-3-utforska", "step-4-krav-resurser"
    ]
    for n, flow in STEP_FLOWS.items():
        assert getattr(steps, f"step_{n}_flow") is flow
        assert flow.fn.__name__ == f"step_{n}_flow" and flow.name == step_flow_name(n)


def test_prefect_yaml_parses_and_every_entrypoint_is_a_flow(monkeypatch) -> None:
    from prefect import Flow
    from prefect.cli.deploy._models import PrefectYamlModel
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.flows import load_flow_from_entrypoint


    monkeypatch.chdir(ROOT)
    raw = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    model = PrefectYamlModel.model_validate(raw)
    assert model.name == "chefoskop" and len(model.deployments) == 13
    names = set()
    for deployment in model.deployments:
        flow = load_flow_from_entrypoint(deployment.entrypoint)
        assert isinstance(flow, Flow), deployment.entrypoint
        assert (deployment.name, deployment.work_pool.name) == (DEPLOYMENT_NAME, "process")
        names.add(flow.name)
        for schedule in deployment.schedules or []:
            CronSchedule(cron=schedule.cron, timezone=schedule.timezone)  # validates both
    assert names == {f.name for f in STEP_FLOWS.values()} | {"sweep", "deliver", "digest", "survey-aggregate"}
    # The copy Prefect loads by file path opens steps through the package's flows.opening,
    # so it shares that module's hook registry (AFTER_OPEN).
    copy = load_flow_from_entrypoint("flows/steps.py:step_1_flow")
    assert copy.fn.__globals__["open_batch"] is opening.open_batch


def test_run_step_opens_queued_steps_once(session_factory) -> None:
    queued = queue_processes(session_factory, 3)
    ids = ids_of(queued)
    assert statuses(session_factory, ids) == ["queued"] * 3
    assert sorted(run_step(1)) == sorted(ids)
    assert statuses(session_factory, ids) == ["open"] * 3
    assert run_step(1) == [] and run_step(1, ids) == []  # nothing queued any more
    with session_factory() as s:
        gates = s.scalars(select(Gate).where(Gate.step_id.in_(ids), Gate.key == "order")).all()
    assert [g.status for g in gates] == ["open"] * 3  # waiting for the beställare, in our DB


def test_other_numbers_are_skipped(session_factory) -> None:
    [(_, step_id)] = queue_processes(session_factory, 1)
    assert run_step(2, [step_id]) == []
    assert statuses(session_factory, [step_id]) == ["queued"]


def test_batches_commit_separately(session_factory) -> None:
    ids = ids_of(queue_processes(session_factory, 5))
    assert sorted(run_step(1, ids, batch_size=2)) == sorted(ids)


@pytest.fixture
def hooks() -> Iterator[list]:
    """Register test hooks on step 1 and remove them afterwards."""
    before = list(AFTER_OPEN.get(1, []))
    calls: list = []
    yield calls
    AFTER_OPEN[1] = before


def test_after_open_hooks_run_in_the_step_transaction(session_factory, hooks) -> None:
    @after_open(1)
    def remember(ctx, step):
        hooks.append((step.id, step.status, ctx.actor.label))

    [(_, step_id)] = queue_processes(session_factory, 1)
    run_step(1)
    assert hooks == [(step_id, "open", "flow:step-1")]


def test_a_failing_step_stays_queued_and_the_others_open(session_factory, hooks) -> None:
    ids = ids_of(queue_processes(session_factory, 3))

    @after_open(1)
    def explode_on_the_second(ctx, step):
        if step.id == ids[1]:
            raise RuntimeError("survey service down")

    with pytest.raises(StepsNotOpened, match=str(ids[1])):
        run_step(1, ids, batch_size=3)
    assert statuses(session_factory, ids) == ["open", "queued", "open"]
    with session_factory() as s:  # the failed step left no half-made gates or tasks behind
        assert not s.scalars(select(Gate).where(Gate.step_id == ids[1])).all()
    AFTER_OPEN[1].remove(explode_on_the_second)
    assert run_step(1) == [ids[1]]  # a retry opens it


def test_direct_dispatch_and_catch_up(session_factory, monkeypatch) -> None:
    monkeypatch.setenv("CHEFOSKOP_FLOW_MODE", "direct")
    get_settings.cache_clear()
    first, second = queue_processes(session_factory, 2)
    start_queued([first])
    assert statuses(session_factory, [first[1], second[1]]) == ["open", "queued"]
    assert run_pending_steps() == {1: [second[1]]}
    assert statuses(session_factory, [second[1]]) == ["open"]
    start_step_flows({})  # nothing to do is fine


@pytest.mark.prefect_server
def test_step_flow_runs_through_prefect(session_factory, prefect_harness) -> None:
    ids = ids_of(queue_processes(session_factory, 2))
    started = time.monotonic()
    state = STEP_FLOWS[1](return_state=True)
    elapsed = time.monotonic() - started
    assert state.is_completed()
    assert sorted(state.result()) == sorted(ids)
    assert statuses(session_factory, ids) == ["open", "open"]
    assert STEP_FLOWS[1](step_ids=ids) == []
    print(f"harness start {prefect_harness:.1f}s, step flow run {elapsed:.2f}s")


@pytest.mark.prefect_server
def test_a_failing_step_fails_the_flow_run_visibly(
    session_factory, hooks, monkeypatch, prefect_harness
) -> None:
    import flows.steps as steps

    ids = ids_of(queue_processes(session_factory, 3))

    @after_open(1)
    def explode_on_the_first(ctx, step):
        if step.id == ids[0]:
            raise RuntimeError("survey service down")

    monkeypatch.setattr(steps, "open_batch_task", steps.open_batch_task.with_options(retries=0))
    state = STEP_FLOWS[1](step_ids=ids, return_state=True)
    assert state.is_failed()
    assert statuses(session_factory, ids) == ["queued", "open", "open"]


@pytest.mark.prefect_server
def test_embedded_dispatch_returns_at_once(session_factory, monkeypatch, prefect_harness) -> None:
    monkeypatch.setenv("CHEFOSKOP_FLOW_MODE", "embedded")
    get_settings.cache_clear()
    queued = queue_processes(session_factory, 1)
    started = time.monotonic()
    start_queued(queued, wait=False)
    assert time.monotonic() - started < 0.5  # the person who decided does not wait
    deadline = time.monotonic() + 60
    while statuses(session_factory, ids_of(queued)) != ["open"]:
        assert time.monotonic() < deadline, "the background flow did not open the step"
        time.sleep(0.2)


@pytest.mark.prefect_server
def test_sweep_deliver_and_digest_flows(session_factory, prefect_harness) -> None:
    from flows.steps import deliver_flow, digest_flow, sweep_flow

    report = sweep_flow()
    assert set(report) >= {"reminders", "overdue", "escalations"}
    assert digest_flow() == 0
    delivered = asyncio.run(deliver_flow())
    assert delivered is not None
