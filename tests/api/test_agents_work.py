"""Who gets work: drain and resume, deregistration, health and pool rules on claims, and the
heartbeat's instructions."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from infra.services import Services
from tests.api.helpers import JOBS, ok, read
from tests.api.test_agents_support import AGENTS, fleet, tickets
from tests.queue_helpers import QUEUE_API, post_job

DRAIN = [{"action": "drain", "job_id": None}]


async def operate(client: httpx.AsyncClient, agent_id: str, action: str) -> object:
    """Drain or resume, then wait until the read models (which claims consult) know it."""
    answer = ok(await client.post(f"{AGENTS}/{agent_id}/{action}"))
    await read(client, f"{AGENTS}/{agent_id}", answer)
    return answer["status"]


async def test_a_drained_agent_gets_no_new_work_but_finishes_its_job(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    running = (await post_job(client))["job_id"]
    await post_job(client)
    await tickets(services, 2)
    async with fleet(app) as agents:
        agent = await agents.join()
        assert await agent.must_claim() == running
        ok(await agent.call(running, "start"))
        assert await operate(client, agent.agent_id, "drain") == "draining"
        assert await agent.claim() is None
        answer = ok(await agent.beat(running=[running]))
        assert (answer["status"], answer["instructions"]) == ("draining", DRAIN)
        assert ok(await agent.complete(running))["status"] == "success"


async def test_resume_gives_work_again(app: FastAPI, client: httpx.AsyncClient) -> None:
    queued = (await post_job(client))["job_id"]
    async with fleet(app) as agents:
        agent = await agents.join()
        await operate(client, agent.agent_id, "drain")
        assert await operate(client, agent.agent_id, "resume") == "healthy"
        answer = ok(await agent.beat())
        assert (answer["status"], answer["instructions"]) == ("healthy", [])
        assert await agent.must_claim() == queued


@pytest.mark.parametrize(
    "steps", [["drain", "drain"], ["drain", "resume", "resume"]], ids=["drain", "resume"]
)
async def test_drain_and_resume_refuse_to_repeat(
    app: FastAPI, client: httpx.AsyncClient, steps: list[str]
) -> None:
    async with fleet(app) as agents:
        agent = await agents.join()
    for step in steps[:-1]:
        ok(await client.post(f"{AGENTS}/{agent.agent_id}/{step}"))
    ok(await client.post(f"{AGENTS}/{agent.agent_id}/{steps[-1]}"), 409)


async def test_heartbeat_says_which_running_job_was_cancelled(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    cancelled, kept = (await post_job(client))["job_id"], (await post_job(client))["job_id"]
    async with fleet(app) as agents:
        agent = await agents.join("build-1", "default")
        await agent.must_claim()
        await agent.must_claim()
        answer = ok(await client.post(f"{QUEUE_API}/jobs/{cancelled}/cancel"))
        await read(client, f"{JOBS}/{cancelled}", answer)
        beat = ok(await agent.beat(running=[kept, cancelled]))
    assert beat["instructions"] == [{"action": "cancel", "job_id": cancelled}]


async def test_deregister_terminates_and_releases_its_claim_uncounted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    job = (await post_job(client))["job_id"]
    async with fleet(app) as agents:
        leaving, staying = await agents.join("leaving"), await agents.join("staying")
        assert await leaving.must_claim() == job
        ok(await leaving.call(job, "start"))
        path = f"{AGENTS}/{leaving.agent_id}"
        gone = ok(await client.request("DELETE", path, json={"reason": "host retired"}))
        assert gone["status"] == "terminated"
        view = await read(client, f"{JOBS}/{job}", gone)
        assert (view["status"], view["attempts"]) == ("queued", 0)
        assert view["history"][-1]["reason"] == f"attempt 1 released by {leaving.agent_id}"
        refused = [(await leaving.beat()).status_code, (await leaving.claim_with()).status_code]
        assert refused == [401, 401]
        assert (await staying.claim(wait_s=5))["job"]["attempt"] == 1
    assert ok(await client.get(path))["status"] == "terminated"
    ok(await client.delete(path), 409)


async def test_an_agent_deregisters_itself_only_and_releases_its_claim_uncounted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    job = (await post_job(client))["job_id"]
    async with fleet(app) as agents:
        leaving, other = await agents.join("leaving"), await agents.join("other")
        assert await leaving.must_claim() == job
        ok(await leaving.client.post(f"{AGENTS}/{other.agent_id}/deregister"), 403)
        path = f"{AGENTS}/{leaving.agent_id}/deregister"
        gone = ok(await leaving.client.post(path, json={"reason": "agent stopped"}))
        assert gone["status"] == "terminated"
        view = await read(client, f"{JOBS}/{job}", gone)
        assert (view["status"], view["attempts"]) == ("queued", 0)
        assert (await leaving.beat()).status_code == 401
    assert ok(await client.get(f"{AGENTS}/{other.agent_id}"))["status"] == "healthy"


@pytest.fixture
async def job(client: httpx.AsyncClient, services: Services) -> str:
    """A queued job whose ticket is already in QUEUE."""
    job_id: str = (await post_job(client))["job_id"]
    await tickets(services, 1)
    return job_id


async def test_an_unhealthy_agent_gets_no_work(app: FastAPI, job: str) -> None:
    async with fleet(app) as agents:
        sick = await agents.join("sick", load=99)
        assert await sick.claim() is None
        assert await (await agents.join("well")).must_claim() == job


async def test_a_degraded_agent_yields_to_a_healthy_one(
    app: FastAPI, client: httpx.AsyncClient, job: str
) -> None:
    async with fleet(app) as agents:
        degraded, healthy = await agents.join(load=90), await agents.join(load=10)
        slow = asyncio.create_task(degraded.claim(wait_s=1))
        await asyncio.sleep(0.05)  # the degraded agent asks first
        assert await healthy.must_claim() == job
        assert await slow is None
        second = (await post_job(client))["job_id"]
        assert await degraded.must_claim() == second  # it yields, yet is not shut out


async def test_an_agent_claims_only_in_its_own_pool(app: FastAPI) -> None:
    async with fleet(app) as agents:
        agent = await agents.join("linux-1", "linux")
        ok(await agent.claim_with(pool="default"), 403)


async def test_claims_use_the_registered_labels(
    app: FastAPI, client: httpx.AsyncClient, services: Services
) -> None:
    job = (await post_job(client, labels=["gpu"]))["job_id"]
    await tickets(services, 1)
    async with fleet(app) as agents:
        plain, gpu = await agents.join("plain"), await agents.join("gpu", labels=["gpu"])
        assert (await plain.claim_with(labels=["gpu"])).status_code == 204
        answer = ok(await gpu.claim_with(labels=[], wait_s=5))
    assert answer["job"]["job_id"] == job
