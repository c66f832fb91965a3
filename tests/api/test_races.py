"""Fifty requests at once on one thing, on a real server: one winner, the rest 409, one change audited.

Each race sends its requests together (every client connected first, then all released
at once) to uvicorn on 127.0.0.1, so the requests really overlap in the server's threads
and database connections.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from models import Action, AuditEvent, Gate, Task
from notifications.sink import free_port
from tests.api.conftest import World, to_step_approval
from tests.api.test_plans import action_body, make_plan, step8  # noqa: F401 - fixture
from tests.live import LiveServer

RACERS = 50


@pytest.fixture
def live(app) -> Iterator[str]:
    """The app served on 127.0.0.1:<free port>."""
    server = LiveServer(app, free_port()).start()
    yield server.url
    server.stop()


async def _together(url: str, method: str, path: str, headers: dict,
                    bodies: list[dict]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        # Open every connection first, so the racing requests leave at the same moment.
        await asyncio.gather(*(http.get("/api/v1/health") for _ in bodies))
        go = asyncio.Event()

        async def one(body: dict) -> httpx.Response:
            await go.wait()
            return await http.request(method, path, headers=headers, json=body)

        tasks = [asyncio.create_task(one(b)) for b in bodies]
        await asyncio.sleep(0)
        go.set()
        return await asyncio.gather(*tasks)


def race(url: str, method: str, path: str, headers: dict, bodies: list[dict]) -> Counter:
    """Send one request per body at once; count the answers by status."""
    answers = asyncio.run(_together(url, method, path, headers, bodies))
    for r in answers:
        if r.status_code >= 400:
            assert r.headers["content-type"] == "application/problem+json", r.text
    return Counter(r.status_code for r in answers)


def _events(world: World, entity: str, entity_id: int, actions: tuple[str, ...]) -> int:
    world.session.expire_all()
    return world.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == entity, AuditEvent.entity_id == entity_id, AuditEvent.action.in_(actions)))


def test_fifty_claims_of_one_task(world: World, live: str, record_property) -> None:
    task = world.task("process_plan")
    statuses = race(live, "POST", f"/api/v1/tasks/{task.id}/claim", world.h("processledare"),
                    [{}] * RACERS)
    assert statuses == Counter({200: 1, 409: RACERS - 1}), statuses
    world.session.expire_all()
    assert world.session.get(Task, task.id).status == "claimed"
    assert _events(world, "task", task.id, ("claimed",)) == 1
    record_property("race claims", dict(statuses))


def test_fifty_decisions_on_one_gate(world: World, live: str, record_property) -> None:
    to_step_approval(world)
    gate = world.gate(1, "step_approval")
    bodies = [{"decision": "approve", "expected_version": gate.version} if i % 2 else
              {"decision": "reject", "reason": f"Komplettera del {i}", "expected_version": gate.version}
              for i in range(RACERS)]
    statuses = race(live, "POST", f"/api/v1/gates/{gate.id}/decide", world.h("processagare"), bodies)
    assert statuses == Counter({200: 1, 409: RACERS - 1}), statuses
    world.session.expire_all()
    kept = world.session.get(Gate, gate.id).status
    assert kept in ("approved", "rejected")
    # The one audited decision is the one the gate shows.
    assert _events(world, "gate", gate.id, ("approve",)) == (kept == "approved")
    assert _events(world, "gate", gate.id, ("approve", "reject")) == 1
    record_property("race gate decisions", dict(statuses))


def test_fifty_edits_of_one_action(step8: World, live: str, record_property) -> None:  # noqa: F811
    world = step8
    with httpx.Client(base_url=live) as client:
        plan = make_plan(client, world)
        created = client.post(f"/api/v1/plans/{plan['id']}/actions", headers=world.h("chef"),
                              json=action_body(world, plan["id"]))
    assert created.status_code == 201, created.text
    action = created.json()
    bodies = [action_body(world, plan["id"], goal=f"Mål nummer {i}", expected_version=action["version"])
              for i in range(RACERS)]
    changes_before = _events(world, "action", action["id"], ("changed",))
    statuses = race(live, "PUT", f"/api/v1/actions/{action['id']}", world.h("chef"), bodies)
    assert statuses == Counter({200: 1, 409: RACERS - 1}), statuses
    world.session.expire_all()
    kept = world.session.get(Action, action["id"])
    assert kept.version == action["version"] + 1 and kept.goal.startswith("Mål nummer ")
    assert _events(world, "action", action["id"], ("changed",)) == changes_before + 1
    record_property("race action edits", dict(statuses))
