"""A bounded load generator: N concurrent httpx clients for at most T seconds or R requests."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

# (client, its random generator, its own state between requests) -> (label, status)
Request = Callable[[httpx.AsyncClient, random.Random, dict], Awaitable[tuple[str, int]]]


@dataclass
class LoadResult:
    """Latencies (seconds) of finished requests, by label, and the statuses seen."""

    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)

    @property
    def all_latencies(self) -> list[float]:
        """Every latency, whatever its label."""
        return [x for values in self.latencies.values() for x in values]


async def _loop(http: httpx.AsyncClient, request: Request, result: LoadResult, rng: random.Random,
                deadline: float, budget: list[int]) -> None:
    state: dict = {}
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        started = time.perf_counter()
        try:
            label, status = await request(http, rng, state)
        except httpx.HTTPError as exc:
            label, status = "error", type(exc).__name__
        result.latencies.setdefault(label, []).append(time.perf_counter() - started)
        result.statuses[status] += 1


async def _load(base_url: str, request: Request, clients: int, seconds: float, max_requests: int,
                seed: int, timeout: float) -> LoadResult:
    # One client (one keep-alive connection) per virtual user, all made before the clock
    # starts: httpx builds an SSL context per client, which costs ~20 ms of CPU each.
    https = [httpx.AsyncClient(base_url=base_url, timeout=timeout, verify=False) for _ in range(clients)]
    result = LoadResult()
    budget = [max_requests]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(_loop(http, request, result, random.Random(seed + i),
                                     started + seconds, budget) for i, http in enumerate(https)))
        result.seconds = time.perf_counter() - started
    finally:
        await asyncio.gather(*(http.aclose() for http in https))
    return result


def run_load(base_url: str, request: Request, *, clients: int = 100, seconds: float = 8.0,
             max_requests: int = 50_000, seed: int = 1, timeout: float = 10.0) -> LoadResult:
    """Run the load and return what happened (a request slower than ``timeout`` is an error)."""
    return asyncio.run(_load(base_url, request, clients, seconds, max_requests, seed, timeout))


def wait_idle(base_url: str, path: str, *, within: float = 0.2, limit: float = 60.0) -> float:
    """Wait until ``path`` answers within ``within`` seconds (the server has no backlog left)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        t0 = time.perf_counter()
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(base_url + path, timeout=limit)
        if time.perf_counter() - t0 < within:
            break
        time.sleep(0.5)
    return time.monotonic() - started
