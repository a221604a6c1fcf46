"""Shared by the agent tests: agents registered over HTTP, each with a client that carries its
own agent token, and the agent's health as the event log recorded it. Holds no tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from domain.agent import Agent as DomainAgent
from infra.codec import decode
from infra.event_store import EventStore
from infra.layout import QUEUE
from infra.services import Services
from tests.api.conftest import http_client
from tests.api.helpers import ok
from tests.queue_helpers import QUEUE_API, HttpAgent, eventually, stream_messages

AGENTS = "/api/agents"
POOLS = "/api/pools"
HOST = {"hostname": "build-1", "os": "linux", "arch": "x86_64", "cpu_count": 4, "memory_mb": 8192}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def metrics(load: float = 10.0, running: Sequence[str] = ()) -> dict[str, Any]:
    """A heartbeat body whose busiest resource (memory) is at `load` percent."""
    return {"cpu_pct": 5.0, "mem_pct": load, "disk_pct": 5.0, "running_jobs": list(running)}


@dataclass
class Agent(HttpAgent):
    """A registered agent; every call of its client carries its agent token."""

    token: str = ""

    async def beat(self, load: float = 10.0, running: Sequence[str] = ()) -> httpx.Response:
        path = f"{AGENTS}/{self.agent_id}/heartbeat"
        return await self.client.post(path, json=metrics(load, running))

    async def status_after_beat(self, load: float = 10.0) -> str:
        status: str = ok(await self.beat(load))["status"]
        return status

    async def claim_with(self, **fields: Any) -> httpx.Response:
        """A claim with this agent's token whose body says otherwise in `fields`."""
        body = {"agent_id": self.agent_id, "pool": self.pool, "wait_s": 0} | fields
        return await self.client.post(f"{QUEUE_API}/claim", json=body)


class Fleet:
    """Registers agents through the API; `join` answers with one ready to work (healthy)."""

    def __init__(self, app: FastAPI, stack: AsyncExitStack) -> None:
        self.app = app
        self.stack = stack
        self.services: Services = app.state.services

    async def register(
        self, name: str = "agent", pool: str = "default", labels: Sequence[str] = ()
    ) -> tuple[Agent, Any]:
        """A new agent, still registering, and the registration's answer."""
        body = {"name": name, "pool": pool, "labels": list(labels), "version": "1.0", "host": HOST}
        token = self.services.settings.registration_token.get_secret_value()
        client = await self.stack.enter_async_context(http_client(self.app))
        answer = ok(await client.post(f"{AGENTS}/register", json=body, headers=bearer(token)), 201)
        client.headers.update(bearer(answer["agent_token"]))
        return Agent(client, answer["agent_id"], pool, token=answer["agent_token"]), answer

    async def join(
        self,
        name: str = "agent",
        pool: str = "default",
        labels: Sequence[str] = (),
        load: float = 10,
    ) -> Agent:
        agent, _ = await self.register(name, pool, labels)
        ok(await agent.beat(load))
        return agent


@asynccontextmanager
async def fleet(app: FastAPI) -> AsyncIterator[Fleet]:
    async with AsyncExitStack() as stack:
        yield Fleet(app, stack)


async def health_changes(store: EventStore, agent_id: str) -> list[tuple[str, str]]:
    """(status, reason) of every agent.HealthChanged the agent has in the event log, in order."""
    events = [
        decode(m.seq, m.subject, m.payload) for m in await store.load(f"ev.agent.{agent_id}.>")
    ]
    changes = [r.event for r in events if isinstance(r.event, DomainAgent.HealthChanged)]
    return [(e.status.value, e.reason) for e in changes]


async def post_pool(client: httpx.AsyncClient, name: str, **limits: Any) -> Any:
    return ok(await client.post(POOLS, json={"name": name} | limits), 201)


async def tickets(services: Services, count: int) -> None:
    """Until QUEUE holds `count` tickets: the server copies a queued event a moment later, and a
    claim that finds nothing must be because of the agent, not because the copy is on its way."""

    async def copied() -> bool:
        return await stream_messages(services, QUEUE) >= count

    await eventually(copied, 5, f"{count} tickets in QUEUE")
