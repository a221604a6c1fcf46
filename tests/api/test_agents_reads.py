"""Reads about agents and pools: listings and their filters, health counts, an agent's jobs,
pools and the scaling signal, each for a set-up the test builds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from infra.services import Services
from tests.api.helpers import ok, read
from tests.api.test_agents_support import AGENTS, HOST, POOLS, Agent, fleet, post_pool
from tests.queue_helpers import post_job


@pytest.fixture
async def four_agents(app: FastAPI, services: Services) -> AsyncIterator[dict[str, Agent]]:
    """a healthy, b degraded and d registering in pool linux; c unhealthy in pool gpu."""
    async with fleet(app) as agents:
        out = {
            "a": await agents.join("a", "linux", ["docker"], load=10),
            "b": await agents.join("b", "linux", ["docker", "arm64"], load=90),
            "c": await agents.join("c", "gpu", ["cuda"], load=99),
            "d": (await agents.register("d", "linux"))[0],
        }
        await services.runner.catch_up(5)
        yield out


def names(views: list[Any]) -> str:
    return "".join(view["name"] for view in views)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "abcd"),
        ({"pool": "linux"}, "abd"),
        ({"status": "degraded"}, "b"),
        ({"status": "registering"}, "d"),
        ({"label": "arm64"}, "b"),
        ({"label": "docker", "pool": "linux"}, "ab"),
        ({"label": "docker", "status": "unhealthy"}, ""),
        ({"pool": "nowhere"}, ""),
    ],
)
async def test_list_agents_filters(
    four_agents: dict[str, Agent], client: httpx.AsyncClient, params: dict[str, str], expected: str
) -> None:
    assert names(ok(await client.get(AGENTS, params=params))["items"]) == expected


async def test_list_agents_rejects_an_unknown_status(client: httpx.AsyncClient) -> None:
    ok(await client.get(AGENTS, params={"status": "sleepy"}), 422)


async def test_health_counts_by_status_and_pool(
    four_agents: dict[str, Agent], client: httpx.AsyncClient
) -> None:
    assert ok(await client.get(f"{AGENTS}/health")) == {
        "by_status": {"healthy": 1, "degraded": 1, "unhealthy": 1, "registering": 1},
        "by_pool": {
            "gpu": {"unhealthy": 1},
            "linux": {"healthy": 1, "degraded": 1, "registering": 1},
        },
    }


async def test_agent_detail_shows_registration_and_last_heartbeat(
    four_agents: dict[str, Agent], client: httpx.AsyncClient
) -> None:
    b = four_agents["b"]
    view = ok(await client.get(f"{AGENTS}/{b.agent_id}"))
    assert (view["name"], view["pool"], view["labels"]) == ("b", "linux", ["arm64", "docker"])
    assert (view["status"], view["host"]) == ("degraded", HOST)
    beat = view["last_heartbeat"]
    assert beat["metrics"] == {"cpu_pct": 5, "mem_pct": 90, "disk_pct": 5, "running_jobs": 0}
    assert beat["running_jobs"] == []
    assert beat["at"] >= view["registered_at"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{AGENTS}/00000000-0000-0000-0000-000000000000", 404),
        (f"{AGENTS}/00000000-0000-0000-0000-000000000000/jobs", 404),
        (f"{AGENTS}/not-a-uuid", 422),
        (f"{POOLS}/nowhere", 404),
        (f"{POOLS}/nowhere/scaling", 404),
    ],
)
async def test_unknown_agents_and_pools(client: httpx.AsyncClient, path: str, status: int) -> None:
    ok(await client.get(path), status)


async def test_the_default_pool_answers_before_anyone_declares_it(
    client: httpx.AsyncClient,
) -> None:
    await post_job(client)
    last = await post_job(client)
    scaling = await read(client, f"{POOLS}/default/scaling", last)
    assert (scaling["min_agents"], scaling["max_agents"]) == (0, 10)
    assert (scaling["queue_depth"], scaling["idle_agents"], scaling["busy_agents"]) == (2, 0, 0)


async def test_agent_jobs_lists_current_and_recent_newest_first(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    first, second = (await post_job(client))["job_id"], (await post_job(client))["job_id"]
    async with fleet(app) as agents:
        agent = await agents.join()
        assert await agent.must_claim() == first
        ok(await agent.complete(first))
        claimed = await agent.claim()
    jobs = await read(client, f"{AGENTS}/{agent.agent_id}/jobs", claimed)
    assert [j["job_id"] for j in jobs["current"]] == [second]
    assert [j["job_id"] for j in jobs["recent"]] == [second, first]
    assert [j["status"] for j in jobs["recent"]] == ["claimed", "success"]


async def test_pools_are_created_listed_and_changed(client: httpx.AsyncClient) -> None:
    linux = await post_pool(client, "linux", min_agents=1, max_agents=5, labels=["docker"])
    assert linux == {
        "name": "linux",
        "min_agents": 1,
        "max_agents": 5,
        "labels": ["docker"],
        "paused": False,
        "pause_reason": "",
    }
    await post_pool(client, "gpu")
    changed = await post_pool(client, "linux", min_agents=2, max_agents=8)
    assert (changed["min_agents"], changed["max_agents"]) == (2, 8)
    assert [p["name"] for p in ok(await client.get(POOLS))["items"]] == ["default", "gpu", "linux"]
    assert ok(await client.get(f"{POOLS}/linux")) == changed


async def test_pool_limits_must_be_ordered(client: httpx.AsyncClient) -> None:
    ok(await client.post(POOLS, json={"name": "linux", "min_agents": 3, "max_agents": 2}), 422)


@pytest.mark.parametrize(
    ("low", "high", "desired"),
    [
        (0, 10, 2),  # the busy agent, plus the idle one for the young queue
        (3, 10, 3),  # never below the minimum
        (0, 1, 1),  # never above the maximum
    ],
)
async def test_scaling_counts_idle_busy_and_queued(
    app: FastAPI, client: httpx.AsyncClient, low: int, high: int, desired: int
) -> None:
    """Two healthy agents, one of them busy, and three jobs still queued."""
    await post_pool(client, "linux", min_agents=low, max_agents=high)
    for _ in range(4):
        await post_job(client, pool="linux")
    async with fleet(app) as agents:
        busy = await agents.join("busy", "linux")
        await agents.join("idle", "linux")
        claimed = await busy.claim(wait_s=5)
    scaling = await read(client, f"{POOLS}/linux/scaling", claimed)
    wait = scaling.pop("oldest_wait_s")
    assert wait is not None
    assert wait >= 0
    assert scaling == {
        "pool": "linux",
        "idle_agents": 1,
        "busy_agents": 1,
        "queue_depth": 3,
        "min_agents": low,
        "max_agents": high,
        "desired_agents": desired,
    }
