"""Log lines an operator needs, in the one JSON format: each names the command it was logged
under (correlation id, command id, principal), and the listed troubles each get one."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest

from domain.job import Job
from infra.commands import CommandRunner
from infra.embedded_server import EmbeddedServer
from infra.logging_setup import formatter
from infra.services import Services
from infra.settings import Settings
from infra.unit_of_work import UnitOfWork
from tests.api.helpers import ok
from tests.queue_helpers import (
    NEW_JOB,
    QUEUE_API,
    cause,
    eventually,
    http_agent,
    post_job,
    queue_settings,
)

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def settings(fresh_server: EmbeddedServer) -> Settings:
    return queue_settings(fresh_server.url, expected_workers=[])


@pytest.fixture
def lines() -> Iterator[Lines]:
    """Every record logged meanwhile, as the JSON line JetDeck's handler writes."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter(as_json=True))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [orjson.loads(line) for line in out.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def saying(lines: Lines, logger: str, words: str) -> list[dict[str, Any]]:
    return [line for line in lines() if line["logger"] == logger and words in line["message"]]


async def test_a_dead_letter_is_logged_naming_the_command_that_caused_it(
    client: httpx.AsyncClient, lines: Lines
) -> None:
    agent = await http_agent(client, "agent-1")
    job_id = (await post_job(client))["job_id"]
    await agent.must_claim()
    body = {"claim_token": agent.tokens[job_id], "error": "exit 1", "retryable": False}
    headers = {
        "Authorization": f"Bearer {agent.agent_token}",
        "X-Correlation-Id": "release-42",
        "Idempotency-Key": "fail-once",
    }
    ok(await client.post(f"{QUEUE_API}/jobs/{job_id}/fail", json=body, headers=headers))
    [line] = saying(lines, "infra.queue_signals", f"job {job_id} dead-lettered")
    principal = f"agent:{agent.agent_id}"
    assert line["level"] == "warning"
    assert (line["correlation_id"], line["principal"]) == ("release-42", principal)
    assert line["command_id"] == f"{principal}|fail-once"
    assert (line["job_id"], line["pool"], line["attempts"]) == (job_id, "default", 1)
    assert line["timestamp"].endswith("Z")


async def test_a_lost_lease_is_logged(client: httpx.AsyncClient, lines: Lines) -> None:
    agent = await http_agent(client, "agent-1")
    job_id = (await post_job(client, lease_s=1))["job_id"]
    await agent.must_claim()

    async def logged() -> bool:
        return bool(saying(lines, "infra.queue_signals", f"job {job_id}: lease of attempt 1"))

    await eventually(logged, 10, "the lapsed lease logged")
    [line] = saying(lines, "infra.queue_signals", f"job {job_id}: lease")
    assert (line["agent_id"], line["reason"]) == (agent.agent_id, "lease expired")


async def test_an_agent_turning_unhealthy_or_offline_is_logged(
    client: httpx.AsyncClient, services: Services, lines: Lines
) -> None:
    agent = await http_agent(client, "agent-1")
    beat = {"cpu_pct": 99.0, "mem_pct": 5.0, "disk_pct": 5.0}
    ok(await agent.post(f"/api/agents/{agent.agent_id}/heartbeat", beat))
    [unhealthy] = saying(lines, "infra.agents", f"agent {agent.agent_id} (agent-1) is unhealthy")
    assert unhealthy["principal"] == f"agent:{agent.agent_id}"
    await services.agents.went_silent(agent.agent_id)  # what the health monitor does
    [offline] = saying(lines, "infra.agents", f"agent {agent.agent_id} (agent-1) is offline")
    assert (offline["agent_id"], offline["health"]) == (agent.agent_id, "offline")


async def test_an_append_conflict_that_is_decided_again_is_logged(
    client: httpx.AsyncClient, services: Services, lines: Lines
) -> None:
    job_id = UUID((await client.post("/api/dashboard/jobs", json=NEW_JOB)).json()["job_id"])
    rival = CommandRunner(services.store)
    raced: list[bool] = []

    async def cancel_after_a_rival_starts_it(_: UnitOfWork, job: Job) -> None:
        if not raced:
            raced.append(True)

            async def start(_: UnitOfWork, rivals_job: Job) -> None:
                rivals_job.start("rival")

            await rival.update(cause("job.start"), Job, job_id, start)
        job.cancel("changed our mind")

    runner = CommandRunner(services.store)
    result = await runner.update(cause("job.cancel"), Job, job_id, cancel_after_a_rival_starts_it)
    assert result.aggregate.status == "cancelled"
    [line] = saying(lines, "infra.commands", "append conflict on job")
    assert str(job_id) in line["message"]
