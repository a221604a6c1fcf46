"""The sides of the end-to-end queue bench (bench.queue_throughput): how each enqueues jobs and
the agents that drain them, in process, over HTTP and on raw nats-py, and the phases a run times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from bench.common import new_cause
from bench.enqueue import enqueue_all, http_sender
from bench.figures import timed
from bench.heartbeats import Agent as RegisteredAgent
from bench.http_post import BODY
from bench.queue_common import (
    POOL,
    RAW_STREAM,
    SUCCEEDED,
    Tally,
    enqueue_jobs,
    fresh_raw_queue,
    publish_raw,
    raw_consumer,
)
from domain.commands.results import ClaimGrant
from domain.queue import Priority
from infra.queue import QueueService

AGENTS = 8
WAIT_S = 0.5
"""How long an idle agent's claim waits for work before it asks again."""
LEVEL = Priority.NORMAL
Agent = Callable[[Tally], Awaitable[None]]
Enqueue = Callable[[int], Awaitable[None]]
"""Enqueue that many jobs."""


@dataclass(frozen=True)
class Phases:
    """One run that enqueues everything first, then drains it; rates in jobs per second."""

    jobs: int
    enqueue_s: float
    drain_s: float

    @property
    def enqueue(self) -> float:
        return self.jobs / self.enqueue_s

    @property
    def drain(self) -> float:
        return self.jobs / self.drain_s

    @property
    def end_to_end(self) -> float:
        return self.jobs / (self.enqueue_s + self.drain_s)


@dataclass(frozen=True)
class Side:
    """How one side enqueues jobs, and the agents that drain them."""

    enqueue: Enqueue
    agents: Sequence[Agent]

    async def phased(self, jobs: int) -> Phases:
        """Enqueue all, then drain; the drain ends at the last completion."""
        enqueue_s = await timed(lambda: self.enqueue(jobs))
        tally = Tally(jobs)
        await asyncio.gather(*(agent(tally) for agent in self.agents))
        return Phases(jobs, enqueue_s, tally.seconds)

    async def overlapped(self, jobs: int) -> float:
        """Enqueue while the agents already claim: jobs per second to the last completion."""
        tally = Tally(jobs)
        await asyncio.gather(self.enqueue(jobs), *(agent(tally) for agent in self.agents))
        return jobs / tally.seconds


# --- native ----------------------------------------------------------------------------------


def native_agent(queue: QueueService, agent_id: str, slots: int = 1) -> Agent:
    """Claims as many jobs as it has slots (one claim each with one slot, as many as were there
    at once with more), then completes them together."""

    async def complete(grant: ClaimGrant, tally: Tally) -> None:
        await queue.complete(new_cause("job.complete"), grant.job.id, grant.token, SUCCEEDED)
        tally.add()

    async def run(tally: Tally) -> None:
        while not tally.done:
            grants = await queue.claim_many(agent_id, POOL, frozenset(), WAIT_S, slots)
            await asyncio.gather(*(complete(grant, tally) for grant in grants))

    return run


def native(queue: QueueService) -> Side:
    """8 agents of one slot each."""
    agents = [native_agent(queue, f"agent-{i}") for i in range(AGENTS)]
    return Side(lambda jobs: enqueue_jobs(queue, [LEVEL] * jobs), agents)


def native_slots(queue: QueueService) -> Side:
    """One agent of 8 slots, as the reference agent claims."""
    return Side(
        lambda jobs: enqueue_jobs(queue, [LEVEL] * jobs), [native_agent(queue, "agent-8", AGENTS)]
    )


# --- raw nats-py -----------------------------------------------------------------------------


def fetching_agent(
    js: JetStreamContext, stream: str, durable: str, work: Callable[[Msg], Awaitable[None]]
) -> Agent:
    """Loops `fetch(1)` on a durable consumer and does `work` on each message."""

    async def run(tally: Tally) -> None:
        sub = await js.pull_subscribe_bind(durable=durable, stream=stream)
        try:
            while not tally.done:
                try:
                    msgs = await sub.fetch(1, timeout=WAIT_S)
                except TimeoutError:
                    continue
                for msg in msgs:
                    await work(msg)
                    tally.add()
        finally:
            await sub.unsubscribe()

    return run


def raw_agent(js: JetStreamContext) -> Agent:
    return fetching_agent(js, RAW_STREAM, raw_consumer(LEVEL), Msg.ack)


@dataclass(frozen=True)
class Raw:
    """The baseline's connection and a payload the size of a real Queued event."""

    nc: Client
    payload: bytes

    async def phased(self, jobs: int) -> Phases:
        return await (await self._fresh()).phased(jobs)

    async def overlapped(self, jobs: int) -> float:
        return await (await self._fresh()).overlapped(jobs)

    async def _fresh(self) -> Side:
        """Every run starts on a new stream."""
        js = self.nc.jetstream()
        await fresh_raw_queue(js, [LEVEL])
        return Side(
            lambda jobs: publish_raw(js, [(LEVEL, self.payload)] * jobs),
            [raw_agent(js)] * AGENTS,
        )


# --- HTTP ------------------------------------------------------------------------------------


ENQUEUE_BODY: dict[str, Any] = BODY | {"pool": POOL, "priority": LEVEL.value}
"""The dashboard bench's job, plus where it queues."""


def http_enqueue(callers: Sequence[httpx.AsyncClient]) -> Enqueue:
    """Each caller has a client (one connection) of its own, as separate CI triggers would."""

    async def run(jobs: int) -> None:
        remaining = iter(range(jobs))

        async def caller(client: httpx.AsyncClient) -> None:
            for _ in remaining:
                (await client.post("/api/queue/jobs", json=ENQUEUE_BODY)).raise_for_status()

        await asyncio.gather(*(caller(client) for client in callers))

    return run


def http_agent(client: httpx.AsyncClient, agent: RegisteredAgent, slots: int = 1) -> Agent:
    """A registered agent on a connection of its own: claims (one job with one slot, as many as
    were there at once with more: `/claims`), then completes them together."""
    path = "/api/queue/claim" if slots == 1 else "/api/queue/claims"
    claim = {"agent_id": agent.agent_id, "pool": POOL, "wait_s": WAIT_S}
    if slots > 1:
        claim["max_jobs"] = slots

    async def complete(grant: dict[str, Any], tally: Tally) -> None:
        done = f"/api/queue/jobs/{grant['job']['job_id']}/complete"
        report = {"claim_token": grant["claim_token"], "exit_code": 0}
        (await client.post(done, json=report, headers=agent.auth)).raise_for_status()
        tally.add()

    async def run(tally: Tally) -> None:
        while not tally.done:
            answer = (await client.post(path, json=claim, headers=agent.auth)).raise_for_status()
            if answer.status_code == 204:
                continue
            found = answer.json()
            grants = [found] if slots == 1 else found["claims"]
            await asyncio.gather(*(complete(grant, tally) for grant in grants))

    return run


def http_batches(client: httpx.AsyncClient) -> Enqueue:
    """Batches of 500 from 4 senders (bench.enqueue), as a service enqueuing many jobs would."""
    return lambda jobs: enqueue_all(http_sender(client), jobs)
