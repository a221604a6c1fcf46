"""Read models that tell the truth: every pool in use, each agent's latest heartbeat, a health
reason only when something is wrong, and every attempt of a job with its own times and outcome."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.helpers import JOBS, complete_job, create_job, ok, read, start_job
from tests.api.test_agents_support import AGENTS, POOLS, fleet, post_pool
from tests.queue_helpers import NEW_JOB, QUEUE_API, http_agent, post_job


def names(page: Any) -> list[str]:
    return [item["name"] for item in page["items"]]


async def test_pools_in_use_are_listed_with_the_defaults_until_declared(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert names(ok(await client.get(POOLS))) == ["default"]
    async with fleet(app) as agents:
        await agents.join("mac-1", "mac")
    await post_pool(client, "linux", min_agents=1, max_agents=3)
    queued = await post_job(client, pool="nightly")

    pools = {p["name"]: p for p in (await read(client, POOLS, queued))["items"]}

    assert list(pools) == ["default", "linux", "mac", "nightly"]
    assert [(p["min_agents"], p["max_agents"]) for p in pools.values()] == [
        (0, 10),
        (1, 3),
        (0, 10),
        (0, 10),
    ]
    assert ok(await client.get(f"{POOLS}/nightly")) == pools["nightly"]


async def test_agents_show_the_latest_heartbeat_and_its_time(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with fleet(app) as agents:
        agent = await agents.join("busy", load=10)
        first = ok(await client.get(f"{AGENTS}/{agent.agent_id}"))
        ok(await agent.beat(load=40))  # still healthy: no event records it

    (listed,) = ok(await client.get(AGENTS))["items"]
    detail = ok(await client.get(f"{AGENTS}/{agent.agent_id}"))

    for view in (listed, detail):
        assert view["metrics"]["mem_pct"] == 40
        assert view["last_heartbeat_at"] > first["last_heartbeat_at"]
    assert detail["last_heartbeat"]["at"] == detail["last_heartbeat_at"]


async def test_health_reason_is_empty_when_healthy_and_names_the_threshold_otherwise(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with fleet(app) as agents:
        agent = await agents.join("a", load=22.8)
        healthy = ok(await client.get(f"{AGENTS}/{agent.agent_id}"))
        answer = ok(await agent.beat(load=91))
        degraded = ok(await client.get(f"{AGENTS}/{agent.agent_id}"))

    assert (healthy["health"], healthy["health_reason"]) == ("healthy", "")
    assert answer["status"] == "degraded"
    assert degraded["health_reason"] == "mem at 91% (degraded from 85%)"


async def test_a_job_reported_through_the_dashboard_counts_its_attempt(
    client: httpx.AsyncClient,
) -> None:
    job_id = (await create_job(client))["job_id"]
    await start_job(client, job_id, agent_id="external-ci")
    done = await complete_job(client, job_id, status="failed", exit_code=2)

    view = await read(client, f"{JOBS}/{job_id}", done)

    assert view["attempts"] == 1
    (attempt,) = view["attempt_history"]
    assert (attempt["number"], attempt["agent_id"]) == (1, "external-ci")
    assert (attempt["outcome"], attempt["exit_code"]) == ("failed", 2)
    assert attempt["duration_s"] == view["duration_s"]
    assert view["total_duration_s"] >= view["duration_s"]


async def test_a_covered_exit_code_is_retried_with_backoff_then_fails_for_good(
    client: httpx.AsyncClient,
) -> None:
    rule = {"exit_codes": [3, 7], "max_attempts": 2}
    await post_job(client, retry=rule, max_attempts=5)
    agent = await http_agent(client, "retrier")

    claimed = await agent.claim(wait_s=5)
    assert claimed["job"]["retry"] == rule
    job_id = claimed["job"]["job_id"]
    again = ok(await agent.call(job_id, "fail", error="exited with 3", exit_code=3))
    assert again["status"] == "queued"
    assert await agent.must_claim(wait_s=15) == job_id  # after the backoff
    last = ok(await agent.call(job_id, "fail", error="exited with 7", exit_code=7))

    view = await read(client, f"{JOBS}/{job_id}", last)
    assert (last["status"], view["status"], view["exit_code"]) == ("failed", "failed", 7)
    assert [(a["number"], a["outcome"], a["exit_code"]) for a in view["attempt_history"]] == [
        (1, "failed", 3),
        (2, "failed", 7),
    ]
    assert view["attempts"] == 2
    assert view["duration_s"] == view["attempt_history"][-1]["duration_s"]
    first_end = view["attempt_history"][0]["finished_at"]
    assert view["attempt_history"][1]["claimed_at"] > first_end
    assert view["total_duration_s"] > view["duration_s"]


async def test_bad_retry_rules_are_422(client: httpx.AsyncClient) -> None:
    rules: list[Any] = [
        {"exit_codes": []},
        {"exit_codes": [0]},
        {"exit_codes": [256]},
        {"exit_codes": list(range(1, 40))},
        {"exit_codes": [1], "max_attempts": 1000},
        {"exit_codes": [1], "limit": 2},
        "sometimes",
    ]
    for rule in rules:
        response = await client.post(f"{QUEUE_API}/jobs", json=NEW_JOB | {"retry": rule})
        assert response.status_code == 422, (rule, response.text)
