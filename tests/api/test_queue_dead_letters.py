"""Failures over HTTP: dead letters for non-retryable failures and spent budgets, listed with
their reason and attempts, and an operator's retry that runs the job again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from infra.embedded_server import EmbeddedServer
from infra.services import Services
from infra.settings import Settings
from tests.api.helpers import ok
from tests.queue_helpers import (
    QUEUE_API,
    HttpAgent,
    http_agent,
    post_job,
    queue_drained,
    queue_settings,
)


@pytest.fixture
def settings(fresh_server: EmbeddedServer) -> Settings:
    return queue_settings(fresh_server.url, retry_base_s=0.2)


@pytest.fixture
async def agent(client: httpx.AsyncClient) -> HttpAgent:
    return await http_agent(client, "agent-1")


async def dead_letters(client: httpx.AsyncClient, after: dict[str, Any]) -> Any:
    path = f"{QUEUE_API}/dead-letters"
    return ok(await client.get(path, params={"min_seq": after["seq"]}))["items"]


async def history(client: httpx.AsyncClient, job_id: str, after: dict[str, Any]) -> list[Any]:
    path = f"/api/dashboard/jobs/{job_id}"
    view = ok(await client.get(path, params={"min_seq": after["seq"]}))
    return [(h["status"], h["agent_id"], h["reason"]) for h in view["history"]]


async def test_a_non_retryable_failure_is_dead_lettered_until_an_operator_retries_it(
    client: httpx.AsyncClient, agent: HttpAgent, services: Services
) -> None:
    job_id = (await post_job(client, priority="high", max_attempts=5))["job_id"]
    await agent.must_claim()
    dead = ok(await agent.fail(job_id, retryable=False))
    assert dead["status"] == "dead_lettered"
    [letter] = await dead_letters(client, dead)
    assert (letter["job_id"], letter["pool"], letter["priority"]) == (job_id, "default", "high")
    assert (letter["reason"], letter["attempts"]) == ("failure is not retryable: exit 1", 1)
    assert await agent.claim(wait_s=0.5) is None
    await queue_drained(services)
    retried = ok(await client.post(f"{QUEUE_API}/dead-letters/{job_id}/retry", json={}))
    assert retried["status"] == "queued"
    second = await http_agent(client, "agent-2")
    answer = await second.claim(wait_s=5)
    assert (answer["job"]["job_id"], answer["job"]["attempt"]) == (job_id, 1)
    done = ok(await second.complete(job_id))
    assert done["status"] == "success"
    assert await dead_letters(client, done) == []
    await queue_drained(services)


async def test_a_spent_attempt_budget_is_dead_lettered_with_the_history_of_attempts(
    client: httpx.AsyncClient, services: Services
) -> None:
    job_id = (await post_job(client, max_attempts=2))["job_id"]
    agents = [await http_agent(client, name) for name in ("agent-1", "agent-2")]
    one, two = (agent.agent_id for agent in agents)
    for agent in agents:
        await agent.must_claim(wait_s=5)
        last = ok(await agent.fail(job_id))
    assert last["status"] == "dead_lettered"
    [letter] = await dead_letters(client, last)
    assert (letter["reason"], letter["attempts"]) == ("attempt budget exhausted: exit 1", 2)
    assert await history(client, job_id, last) == [
        ("queued", None, ""),
        ("claimed", one, ""),
        ("queued", one, "attempt 1 failed (script): exit 1"),
        ("claimed", two, ""),
        ("queued", two, "attempt 2 failed (script): exit 1"),
        ("dead_lettered", two, "attempt budget exhausted: exit 1"),
    ]
    await queue_drained(services)


async def test_only_a_dead_letter_can_be_retried(client: httpx.AsyncClient) -> None:
    job_id = (await post_job(client))["job_id"]
    response = await client.post(f"{QUEUE_API}/dead-letters/{job_id}/retry")
    assert response.status_code == 409, response.text
