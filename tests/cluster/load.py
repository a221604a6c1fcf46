"""Steady queue traffic while something breaks: jobs enqueued at a fixed rate through the API
replicas, agents claiming, starting and completing them, over HTTP or over NATS through the
gateways. Afterwards the event log itself says whether an acknowledged job was lost or one
completed twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from client import ApiError
from domain.agent import HostInfo
from domain.job import Job
from domain.job_reports import CompletionReport
from domain.queue import QueueSpec
from domain.recorded import RecordedEvent
from domain.values import GitContext
from infra.connection import connect
from infra.embedded_cluster import EmbeddedCluster
from infra.event_store import EventStore
from infra.layout import EVENTS
from infra.settings import DEV_REGISTRATION_TOKEN
from tests.cluster.replicas import Ledger, Replicas
from tests.queue_helpers import eventually, job_log, per_job
from tests.tokens import ADMIN_TOKEN

GIT = GitContext(repo="org/repo", ref="main", commit_sha="abc123def456")
HOST = HostInfo(hostname="chaos", os="linux", arch="x86_64", cpu_count=2, memory_mb=1024)
DONE = CompletionReport(exit_code=0)
LEASE_S = 5
"""Short, so a claim whose answer was lost in the outage comes back to the queue soon."""
MAX_ATTEMPTS = 50
"""Lost leases spend attempts; none of these jobs may end as a dead letter."""
CLAIM_WAIT_S = 1.0
LEASE_LOST = 409
"""A lease call with a claim that another claim has fenced off, or that ran out."""
Agent = Callable[[int, str, str], Awaitable[None]]
"""Agent number n works the pool as the registered agent (its id, its token) until traffic
stops."""


@dataclass
class Traffic:
    urls: list[str]
    pool: str
    ledger: Ledger = field(default_factory=Ledger)
    acked: set[str] = field(default_factory=set)
    """Jobs whose enqueue was answered 201: these must complete."""
    touched: set[str] = field(default_factory=set)
    """Jobs an agent claimed: none may complete twice."""
    completed: set[str] = field(default_factory=set)
    surprises: list[str] = field(default_factory=list)
    enqueuing: asyncio.Event = field(default_factory=asyncio.Event)
    working: asyncio.Event = field(default_factory=asyncio.Event)
    agents: list[asyncio.Task[None]] = field(default_factory=list)
    enqueuer: asyncio.Task[None] = field(init=False)

    def replicas(self, token: str, home: int = 0) -> Replicas:
        return Replicas(self.urls, token, self.ledger, home)

    async def register(self, name: str) -> tuple[str, str]:
        """A fresh agent in this pool, heartbeat sent: its id and token."""
        registrar = self.replicas(DEV_REGISTRATION_TOKEN)
        try:
            answer = (await registrar.register_agent(name, HOST, self.pool)).value
            registrar.set_token(answer.agent_token)
            agent_id = str(answer.agent_id)
            beat = await registrar.agent_heartbeat(agent_id, 5, 5, 5)
            return agent_id, beat.agent_token
        finally:
            await registrar.aclose()

    async def start(self, rate: float, agents: int, agent: Agent) -> None:
        self.enqueuing.set()
        self.working.set()
        self.enqueuer = self._noted(self._enqueue_steadily(rate))
        for n in range(agents):
            agent_id, token = await self.register(f"{self.pool}-{n}")
            self.agents.append(self._noted(agent(n, agent_id, token)))

    def _noted(self, work: Awaitable[None]) -> asyncio.Task[None]:
        async def noted() -> None:
            try:
                await work
            except Exception as exc:  # the test fails on it, with the traffic's story
                self.surprises.append(repr(exc))

        return asyncio.create_task(noted())

    async def _enqueue_steadily(self, rate: float) -> None:
        admin = self.replicas(ADMIN_TOKEN)
        spec = QueueSpec(pool=self.pool, lease_s=LEASE_S, max_attempts=MAX_ATTEMPTS)
        pending: set[asyncio.Task[None]] = set()

        async def enqueue() -> None:
            receipt = await admin.enqueue("build", GIT, spec)
            self.acked.add(str(receipt.value.job_id))

        try:
            while self.enqueuing.is_set():
                task = asyncio.create_task(enqueue())
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(1 / rate)  # the pace of the traffic, not a wait for a state
            for error in await asyncio.gather(*pending, return_exceptions=True):
                if error is not None:
                    self.surprises.append(repr(error))
        finally:
            await admin.aclose()

    async def http_agent(self, n: int, agent_id: str, token: str) -> None:
        """Claims, starts and completes over HTTP; the agents start at alternate replicas."""
        deck = self.replicas(token, home=n)
        try:
            while self.working.is_set():
                grant = await deck.claim(agent_id, self.pool, wait_s=CLAIM_WAIT_S)
                if grant is None:
                    continue
                job_id, claim = str(grant.job.job_id), grant.claim_token
                self.touched.add(job_id)
                try:
                    await deck.start_claimed(job_id, claim)
                    await deck.complete_claimed(job_id, claim, DONE)
                except ApiError as exc:
                    if exc.status != LEASE_LOST:
                        raise
                    continue
                self.completed.add(job_id)
        finally:
            await deck.aclose()

    def _sound(self) -> None:
        assert not self.surprises, self.surprises

    async def until_answered(
        self, after: float, count: int, within_s: float, replica: int | None = None
    ) -> None:
        """Until `count` writes sent after `after` (to `replica`, or to any) were answered."""

        async def back() -> bool:
            self._sound()
            return len(self.ledger.answered_after(after, replica)) >= count

        await eventually(back, within_s, f"{count} writes answered")

    async def drain(self, within_s: float) -> None:
        """No new jobs; until every acknowledged one is done, then the agents stop."""
        self.enqueuing.clear()

        async def enqueued() -> bool:
            self._sound()
            return self.enqueuer.done()

        async def done() -> bool:
            self._sound()
            return self.acked <= self.completed

        try:
            await eventually(enqueued, within_s, "every enqueue answered")
            await eventually(done, within_s, "every acknowledged job completed")
        finally:
            await self.stop()

    async def stop(self) -> None:
        self.enqueuing.clear()
        self.working.clear()
        await asyncio.gather(*self.agents, self.enqueuer)


@dataclass(frozen=True)
class Verdict:
    acked: int
    lost: list[str]
    doubled: list[str]


async def event_log(cluster: EmbeddedCluster, within_s: float = 60) -> list[RecordedEvent]:
    """Every job event, read once every replica of EVENTS is current (a replica that lags could
    answer a direct read)."""
    nc = await connect(cluster.address, "cluster-test-log", cluster.logins.runtime)
    try:
        js = nc.jetstream()

        async def current() -> bool:
            return all([await cluster.current(js, EVENTS, node) for node in cluster.nodes])

        await eventually(current, within_s, "every replica of EVENTS current")
        return await job_log(EventStore(nc))
    finally:
        await nc.close()


async def verdict(cluster: EmbeddedCluster, traffic: Traffic) -> Verdict:
    completions = per_job(await event_log(cluster), Job.Completed)
    lost = sorted(job for job in traffic.acked if completions[job] == 0)
    doubled = sorted(job for job in traffic.acked | traffic.touched if completions[job] > 1)
    return Verdict(len(traffic.acked), lost, doubled)
