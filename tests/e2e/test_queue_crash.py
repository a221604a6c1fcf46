"""Durability: SIGKILL of a real API process (uvicorn) under load loses no queued job and doubles
none. A producer enqueues over HTTP while agents claim and complete; the API is killed mid-load
and a new one started on the same port; then the event log is checked job by job."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client

from domain.job import Job
from domain.job_status import JobStatus
from infra.connection import connect
from infra.embedded_server import EmbeddedServer, free_port
from infra.event_store import EventStore
from infra.layout import QUEUE
from tests.e2e.conftest import Api, _wait_until_serving, spawn
from tests.queue_helpers import (
    NEW_JOB,
    QUEUE_API,
    HttpAgent,
    events,
    eventually,
    http_agent,
    job_log,
    per_job,
    post_job,
    tickets_out,
)
from tests.tokens import ADMIN_TOKEN

JOBS = 200
AGENTS = 6
LEASE_S = 2
Accepted = dict[str, str]
"""Idempotency key of an enqueue -> the job id its 201 named."""


class RestartableApi:
    """`python -m uvicorn` serving the API on one port, against the test's nats-server; it can
    be killed with SIGKILL and started again."""

    def __init__(self, nats_url: str, logs: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.logs = logs
        self.env = {
            "JETDECK_NATS_URL": nats_url,
            "JETDECK_QUEUE_ACK_WAIT_S": "3",
            "JETDECK_BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
        }
        self.runs: list[Api] = []

    async def start(self) -> None:
        args = ["-m", "uvicorn", "api.app:create_app", "--factory", "--log-level", "warning"]
        args += ["--host", "127.0.0.1", "--port", self.url.rsplit(":", 1)[1]]
        log = self.logs / f"api-{len(self.runs)}.log"
        self.runs.append(Api(self.url, await spawn("api", args, log, self.env)))
        await _wait_until_serving(self.runs[-1])

    async def kill(self) -> None:
        self.runs[-1].proc.signal(signal.SIGKILL)
        assert await self.runs[-1].proc.exit_code(10) == -signal.SIGKILL


@pytest.fixture
async def api(fresh_server: EmbeddedServer, tmp_path: Path) -> AsyncIterator[RestartableApi]:
    found = RestartableApi(fresh_server.url, tmp_path)
    await found.start()
    yield found
    await found.runs[-1].proc.stop()


async def post_until_answered(
    client: httpx.AsyncClient, path: str, key: str, body: dict[str, Any], token: str = ADMIN_TOKEN
) -> httpx.Response:
    """Retry through the outage with the same Idempotency-Key until the API answers."""
    headers = {"Idempotency-Key": key, "Authorization": f"Bearer {token}"}
    while True:
        try:
            response = await client.post(path, json=body, headers=headers)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code < 500:
            return response
        await asyncio.sleep(0.1)


async def produce(client: httpx.AsyncClient, accepted: Accepted) -> None:
    """Enqueue at a steady pace, so the kill lands while jobs still arrive."""
    for n in range(JOBS):
        key = f"enqueue-{n}"
        body = NEW_JOB | {"metadata": {"key": key}, "lease_s": LEASE_S, "max_attempts": 10}
        response = await post_until_answered(client, f"{QUEUE_API}/jobs", key, body)
        assert response.status_code == 201, response.text
        accepted[key] = response.json()["job_id"]
        await asyncio.sleep(0.02)


@dataclass
class Agents:
    """Agents that claim, run each job briefly and complete it, until cancelled."""

    client: httpx.AsyncClient
    holding: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)

    async def work(self, agent: HttpAgent) -> None:
        body = {"agent_id": agent.agent_id, "wait_s": 1}
        while True:
            try:
                response = await agent.post(f"{QUEUE_API}/claim", body)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 200:
                await self.run(response.json(), agent.agent_token)
            elif response is None or response.status_code != 204:
                await asyncio.sleep(0.1)  # the API is down or starting

    async def run(self, answer: dict[str, Any], token: str) -> None:
        """A report refused with 409 lost its lease meanwhile: the job went to another agent."""
        job_id, attempt = answer["job"]["job_id"], answer["job"]["attempt"]
        self.holding.add(job_id)
        await asyncio.sleep(0.1)
        report = {"claim_token": answer["claim_token"], "exit_code": 0}
        path, key = f"{QUEUE_API}/jobs/{job_id}/complete", f"complete-{job_id}-{attempt}"
        if (await post_until_answered(self.client, path, key, report, token)).status_code == 200:
            self.done.add(job_id)
        self.holding.discard(job_id)


async def test_sigkill_of_the_api_under_load_loses_no_job_and_doubles_none(
    api: RestartableApi, fresh_server: EmbeddedServer
) -> None:
    accepted: Accepted = {}
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as client:
        agents = Agents(client)
        fleet = [await http_agent(client, f"agent-{n}") for n in range(AGENTS)]
        producer = asyncio.create_task(produce(client, accepted))
        workers = [asyncio.create_task(agents.work(agent)) for agent in fleet]

        async def mid_load() -> bool:
            return len(accepted) >= JOBS // 3 and bool(agents.holding)

        await eventually(mid_load, 30, "a third of the jobs queued and one in flight")
        await api.kill()
        in_flight, queued_before_kill = set(agents.holding), len(accepted)
        await asyncio.sleep(LEASE_S + 1)  # down for longer than a lease: in-flight leases lapse
        await api.start()
        await asyncio.wait_for(producer, 60)

        async def all_done() -> bool:
            return agents.done >= set(accepted.values())

        await eventually(all_done, 60, "every accepted job completed")
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    assert in_flight, "no job was in flight at the kill"
    assert queued_before_kill < JOBS, "the kill came after the last enqueue"
    nc = await connect(fresh_server.url, "crash-check")
    log = await job_log(EventStore(nc))
    await nc.close()
    jobs = Counter(dict.fromkeys(accepted.values(), 1))
    assert len(jobs) == JOBS
    assert per_job(log, Job.Created) == jobs
    keys = Counter(e.metadata["key"] for e in events(log, Job.Created))
    assert set(keys.values()) == {1}
    assert per_job(log, Job.Completed) == jobs
    assert {e.status for e in events(log, Job.Completed)} == {JobStatus.SUCCESS}


async def test_tickets_held_by_a_killed_api_come_back_after_ack_wait(
    api: RestartableApi, fresh_server: EmbeddedServer
) -> None:
    """A claim makes the API hold the tickets behind its job for the next claims; killed, it
    cannot let them go, and the consumer's `ack_wait` (3 s here) hands them out again."""
    admin = await nats.connect(fresh_server.admin_url)
    try:
        taken, jobs = await claims_across_a_kill(api, admin)
        log = await job_log(EventStore(admin))
    finally:
        await admin.close()
    assert sorted(taken) == sorted(jobs[1:])
    assert per_job(log, Job.Claimed) == Counter(dict.fromkeys(jobs, 1)), "each claimed once"


async def claims_across_a_kill(api: RestartableApi, admin: Client) -> tuple[list[str], list[str]]:
    """Four jobs; one claimed before the kill (three held), the others by claims after it."""
    async with httpx.AsyncClient(
        base_url=api.url, timeout=10, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        jobs = [(await post_job(client))["job_id"] for _ in range(4)]

        async def all_queued() -> bool:
            return (await admin.jetstream().stream_info(QUEUE)).state.messages == len(jobs)

        await eventually(all_queued, 10, "QUEUE holds every ticket")
        first = await (await http_agent(client, "agent-0")).claim(wait_s=5)
        assert first["job"]["job_id"] == jobs[0]
        assert await tickets_out(admin) == 4, "the claimed ticket and three held"
        await api.kill()
        await api.start()
        agent = await http_agent(client, "agent-1")
        taken: list[str] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while len(taken) < 3 and loop.time() < deadline:
            answer = await agent.claim(wait_s=1)
            if answer is not None:
                taken.append(answer["job"]["job_id"])
    return taken, jobs
