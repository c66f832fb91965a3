"""The API under concurrent load on a real server: every request answered, none lost.

A request's session may take a pool connection in one threadpool call and give it
back in another; with more concurrent requests than pool connections that used to
deadlock (every request timed out). Here 100 clients at once must all be answered.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
from sqlalchemy import func, select

from models import AuditEvent
from notifications.sink import free_port
from tests.api.conftest import World
from tests.live import LiveServer

CLIENTS = 100
ROUNDS = 3


async def _client(http: httpx.AsyncClient, world: World, index: int, statuses: Counter) -> None:
    actor = ("processledare", "processagare", "chef", "bestallare")[index % 4]
    for _ in range(ROUNDS):
        for path in ("/api/v1/tasks?limit=20", f"/api/v1/processes/{world.process_id}"):
            r = await http.get(path, headers=world.h(actor))
            statuses[r.status_code] += 1


async def _claim(http: httpx.AsyncClient, world: World, task_id: int, statuses: Counter) -> None:
    r = await http.post(f"/api/v1/tasks/{task_id}/claim", headers=world.h("processledare"))
    statuses[("claim", r.status_code)] += 1


async def _load(url: str, world: World, task_id: int) -> Counter:
    statuses: Counter = Counter()
    # Idle connections are dropped by the client before uvicorn's keep-alive timeout (5 s)
    # closes them: otherwise a request sent on a connection the server is just closing
    # fails with ReadError (the HTTP keep-alive race), which says nothing about the app.
    limits = httpx.Limits(max_connections=CLIENTS + 20, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        await asyncio.gather(*(_client(http, world, i, statuses) for i in range(CLIENTS)),
                             *(_claim(http, world, task_id, statuses) for _ in range(20)))
    return statuses


def test_a_hundred_concurrent_clients_are_all_answered(app, world: World, record_property) -> None:
    for actor in ("processledare", "processagare", "chef", "bestallare"):
        world.h(actor)  # tokens minted before the clock starts
    task = world.task("process_plan")
    events_before = world.session.scalar(select(func.count()).select_from(AuditEvent))
    server = LiveServer(app, free_port()).start()
    try:
        started = time.perf_counter()
        statuses = asyncio.run(_load(server.url, world, task.id))
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    reads = CLIENTS * ROUNDS * 2
    assert statuses[200] == reads, statuses
    # The claim race: one winner, the others told it is taken; nothing else.
    assert statuses[("claim", 200)] == 1 and statuses[("claim", 409)] == 19, statuses
    world.session.expire_all()
    assert world.task("process_plan").assignee_id == world.people["processledare"].id
    claimed = world.session.scalar(select(func.count()).select_from(AuditEvent))
    assert claimed == events_before + 1  # the one claim, audited once
    record_property("load", f"{reads + 20} requests from {CLIENTS + 20} concurrent clients in "
                    f"{seconds:.1f} s ({(reads + 20) / seconds:.0f} requests/s), all answered")


def test_a_request_that_cannot_get_a_session_in_time_is_a_clean_503(session_factory, world: World) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from chefoskop.settings import get_settings

    settings = get_settings().model_copy(update={"db_queue_timeout_seconds": 0.3})
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        headers = world.h("processledare")
        assert client.get("/api/v1/tasks", headers=headers).status_code == 200  # slots made
        _, slots = client.app.state.db_slots
        held = 0
        while not slots.locked():  # every slot taken, as by requests that hold them
            client.portal.call(slots.acquire)
            held += 1
        started = time.perf_counter()
        busy = client.get("/api/v1/tasks", headers=headers)
        waited = time.perf_counter() - started
        assert busy.status_code == 503 and busy.headers["content-type"] == "application/problem+json"
        assert busy.json()["code"] == "service_unavailable" and int(busy.headers["retry-after"]) >= 1
        assert 0.3 <= waited < 5
        for _ in range(held):
            client.portal.call(slots.release)
        assert client.get("/api/v1/tasks", headers=headers).status_code == 200
