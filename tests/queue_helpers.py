"""Shared by the queue tests: in-process queue services, agents over HTTP, and the event log.

Every helper talks to a real nats-server. Waits are bounded deadlines (`eventually`), never
assertions on how fast something went.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4
from weakref import WeakKeyDictionary

import httpx
from nats.aio.client import Client

from domain.commands.results import ClaimGrant, Committed
from domain.job import Job
from domain.job_reports import CompletionReport
from domain.model import DomainEvent
from domain.queue import Priority, QueueSpec
from domain.recorded import Cause, RecordedEvent
from domain.values import GitContext
from infra.codec import decode
from infra.commands import CommandRunner
from infra.connection import connect
from infra.event_store import EventStore
from infra.layout import QUEUE, consumer_name
from infra.queue import QueueService
from infra.services import Services, open_services
from infra.settings import DEV_REGISTRATION_TOKEN, Settings
from infra.unit_of_work import UnitOfWork
from tests.api.helpers import ok
from tests.tokens import ADMIN_TOKEN

E = TypeVar("E", bound=DomainEvent)
GIT = GitContext(repo="org/repo", ref="main", commit_sha="abc123def456")
QUEUE_API = "/api/queue"
NEW_JOB: dict[str, Any] = {
    "job_type": "build",
    "git_repo": "org/repo",
    "git_ref": "main",
    "git_commit_sha": "abc123def456",
}

SUCCEEDED = CompletionReport(exit_code=0)


def utcnow() -> datetime:
    return datetime.now(UTC)


def cause(action: str) -> Cause:
    command_id = uuid4().hex
    return Cause(actor="test", command_id=command_id, action=action, correlation_id=command_id)


def queue_settings(url: str, **overrides: Any) -> Settings:
    return Settings(nats_url=url, bootstrap_admin_token=ADMIN_TOKEN, **overrides)


@asynccontextmanager
async def queue_services(
    url: str, count: int = 1, **settings: Any
) -> AsyncIterator[list[Services]]:
    """`count` API processes' worth of services, each on its own NATS connection."""
    config = queue_settings(url, **settings)
    opened = await asyncio.gather(*(open_services(config, f"queue-test-{n}") for n in range(count)))
    try:
        yield list(opened)
    finally:
        await asyncio.gather(*(s.close() for s in opened))


@asynccontextmanager
async def own_connections(services: Services, count: int) -> AsyncIterator[list[QueueService]]:
    """`count` queue services on connections of their own, sharing `services`' read models."""
    opened: list[QueueService] = []
    try:
        for n in range(count):
            nc = await connect(services.settings.server_url, f"queue-agent-{n}")
            commands = CommandRunner(EventStore(nc), services.settings.append_retries)
            queue = services.queue
            opened.append(
                QueueService(nc, commands, queue.runner, queue.views, queue.signer, queue.settings)
            )
            await opened[-1].open()
        yield opened
    finally:
        for queue in opened:
            await queue.close()
            await queue.nc.drain()


async def enqueue(services: Services, **spec: Any) -> UUID:
    result = await services.queue.enqueue(
        cause("job.enqueue"), uuid4(), "build", GIT, {}, QueueSpec(**spec)
    )
    return result.aggregate.id


async def enqueue_many(services: Services, count: int, **spec: Any) -> list[UUID]:
    """`count` jobs created and queued in one atomic append, in this order."""
    jobs = [uuid4() for _ in range(count)]

    async def make(uow: UnitOfWork) -> Job:
        for job_id in jobs:
            uow.add(job := Job.create(job_id, "build", GIT, {}))
            job.queue(QueueSpec(**spec))
        return job

    await services.commands.run(cause("job.enqueue"), make)
    return jobs


async def claim(
    queue: QueueService, agent_id: str = "agent-1", pool: str = "default", wait_s: float = 0.0
) -> ClaimGrant | None:
    return await queue.claim(agent_id, pool, frozenset(), wait_s)


async def must_claim(
    queue: QueueService, agent_id: str = "agent-1", wait_s: float = 5.0
) -> ClaimGrant:
    grant = await claim(queue, agent_id, wait_s=wait_s)
    assert grant is not None, f"{agent_id} got no job within {wait_s}s"
    return grant


async def complete(queue: QueueService, grant: ClaimGrant) -> Committed[Job]:
    return await queue.complete(cause("job.complete"), grant.job.id, grant.token, SUCCEEDED)


async def run(queue: QueueService, grant: ClaimGrant) -> Committed[Job]:
    """What an agent does with a job: start it, then report success."""
    await queue.start(cause("job.start"), grant.job.id, grant.token)
    return await complete(queue, grant)


async def stream_messages(services: Services, stream: str) -> int:
    info = await services.nc.jetstream().stream_info(stream)
    return info.state.messages


async def eventually(check: Callable[[], Any], within_s: float, what: str) -> Any:
    """`check`'s first truthy answer (awaited when it is awaitable); fails when `within_s`
    passes first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        assert loop.time() < deadline, f"not within {within_s}s: {what}"
        await asyncio.sleep(0.05)


async def queue_holds(services: Services, tickets: int, within_s: float = 5.0) -> None:
    """Polls until QUEUE holds this many tickets: the server copies them from EVENTS on its own
    time, so a job just appended may not be there yet."""

    async def holds() -> bool:
        return await stream_messages(services, QUEUE) == tickets

    await eventually(holds, within_s, f"QUEUE holds {tickets} tickets")


async def tickets_out(
    admin_nc: Client, pool: str = "default", priority: Priority = Priority.NORMAL
) -> int:
    """A level's tickets delivered and neither acknowledged nor let go: held or claimed (only
    the admin user may read a consumer's state)."""
    consumer = consumer_name(pool, priority)
    return int((await admin_nc.jetstream().consumer_info(QUEUE, consumer)).num_ack_pending)


async def queue_drained(services: Services, within_s: float = 5.0) -> None:
    await queue_holds(services, 0, within_s)


async def job_log(store: EventStore) -> list[RecordedEvent]:
    """Every job event in the stream, in order."""
    return [decode(m.seq, m.subject, m.payload) for m in await store.load("ev.job.>")]


def events(log: list[RecordedEvent], kind: type[E], job_id: UUID | None = None) -> list[E]:
    """The log's events of one kind, of one job or of all, in order."""
    found = [r.event for r in log if isinstance(r.event, kind)]
    return [e for e in found if job_id is None or e.originator_id == job_id]


def per_job(log: list[RecordedEvent], kind: type[DomainEvent]) -> Counter[str]:
    """How many events of `kind` each job has."""
    return Counter(str(e.originator_id) for e in events(log, kind))


# --- over HTTP ------------------------------------------------------------------------------


async def post_job(client: httpx.AsyncClient, **fields: Any) -> Any:
    return ok(await client.post(f"{QUEUE_API}/jobs", json=NEW_JOB | fields), 201)


@dataclass
class HttpAgent:
    """A build agent that speaks the queue's HTTP API and keeps the claim tokens it got.

    Its calls carry `agent_token` when it has one (the client's own headers otherwise)."""

    client: httpx.AsyncClient
    agent_id: str
    pool: str = "default"
    labels: tuple[str, ...] = ()
    tokens: dict[str, str] = field(default_factory=dict)
    agent_token: str = ""

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.agent_token}"} if self.agent_token else None
        return await self.client.post(path, json=body, headers=headers)

    async def claim(self, wait_s: float = 0.0) -> Any:
        """The claim's answer, or None when no job came (204)."""
        body = {"agent_id": self.agent_id, "pool": self.pool, "labels": self.labels}
        response = await self.post(f"{QUEUE_API}/claim", body | {"wait_s": wait_s})
        if response.status_code == 204:
            return None
        answer = ok(response)
        self.tokens[answer["job"]["job_id"]] = answer["claim_token"]
        return answer

    async def must_claim(self, wait_s: float = 5.0) -> str:
        answer = await self.claim(wait_s)
        assert answer is not None, f"{self.agent_id} got no job within {wait_s}s"
        job_id: str = answer["job"]["job_id"]
        return job_id

    async def call(
        self, job_id: str, action: str, token: str | None = None, **body: Any
    ) -> httpx.Response:
        """POST a lease call (start, heartbeat, complete, fail, release) with a claim token."""
        body["claim_token"] = token or self.tokens[job_id]
        return await self.post(f"{QUEUE_API}/jobs/{job_id}/{action}", body)

    async def complete(self, job_id: str) -> httpx.Response:
        return await self.call(job_id, "complete", exit_code=0)

    async def fail(self, job_id: str, retryable: bool = True) -> httpx.Response:
        return await self.call(job_id, "fail", error="exit 1", retryable=retryable)

    async def heartbeat(self, job_id: str) -> Any:
        return ok(await self.call(job_id, "heartbeat"))


_REGISTERED: WeakKeyDictionary[httpx.AsyncClient, dict[str, HttpAgent]] = WeakKeyDictionary()
HOST = {"hostname": "build-1", "os": "linux", "arch": "x86_64", "cpu_count": 4, "memory_mb": 8192}


async def http_agent(
    client: httpx.AsyncClient, name: str, pool: str = "default", labels: tuple[str, ...] = ()
) -> HttpAgent:
    """The agent called `name` on this client: registered (with the development registration
    token) and healthy the first time it is asked for, the same agent after that."""
    known = _REGISTERED.setdefault(client, {})
    if name not in known:
        body = {"name": name, "pool": pool, "labels": list(labels), "host": HOST}
        headers = {"Authorization": f"Bearer {DEV_REGISTRATION_TOKEN}"}
        answer = ok(await client.post("/api/agents/register", json=body, headers=headers), 201)
        agent = HttpAgent(
            client, answer["agent_id"], pool, labels, agent_token=answer["agent_token"]
        )
        beat = {"cpu_pct": 5.0, "mem_pct": 5.0, "disk_pct": 5.0}
        ok(await agent.post(f"/api/agents/{agent.agent_id}/heartbeat", beat))
        known[name] = agent
    return known[name]
