"""The health monitor on a real nats-server, with one-second heartbeats: a silent agent turns
unhealthy, then offline when its heartbeat expires (also when the monitor was down at that
instant), and its jobs go to other agents as lost attempts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

from domain.agent import AgentStatus, HostInfo, Metrics
from domain.health import HealthPolicy
from infra.embedded_server import EmbeddedServer
from infra.health_monitor import HealthMonitor
from infra.job_detail import job_detail
from infra.layout import HEARTBEATS
from infra.leases import MARKER
from infra.services import Services
from tests.api.test_agents_support import health_changes, tickets
from tests.queue_helpers import cause, enqueue, eventually, must_claim, queue_services

POLICY = HealthPolicy(heartbeat_interval_s=1.0)
"""Unhealthy after 2 s of silence, offline when the heartbeat expires after 3 s."""
OFFLINE_WITHIN_S = POLICY.offline_after_intervals * POLICY.heartbeat_interval_s + 2.0
"""Three intervals, plus slack for the server's expiry timer and the monitor's fetch."""
HOST = HostInfo(hostname="build-1", os="linux", arch="x86_64", cpu_count=4, memory_mb=8192)
WELL = Metrics(cpu_pct=10, mem_pct=10, disk_pct=10, running_jobs=0)
HEALTHY = ("healthy", "")
EXPIRED = ("offline", "heartbeat expired")


@asynccontextmanager
async def api(server: EmbeddedServer) -> AsyncIterator[Services]:
    """One process's services with one-second heartbeats."""
    async with queue_services(server.url, health=POLICY) as (services,):
        yield services


@asynccontextmanager
async def monitoring(services: Services) -> AsyncIterator[HealthMonitor]:
    monitor = HealthMonitor(services.nc, services.agents)
    await monitor.start()
    try:
        yield monitor
    finally:
        await monitor.stop()


async def healthy_agent(services: Services, name: str = "build-1") -> str:
    """A registered agent that has sent one heartbeat."""
    done = await services.agents.register(
        cause("agent.register"), uuid4(), name, "default", frozenset(), "1.0", HOST, 1
    )
    agent_id = str(done.agent.id)
    await services.runner.wait_for(done.seq, 5)
    await services.agents.heartbeat(agent_id, WELL, ())
    return agent_id


def status_of(services: Services, agent_id: str) -> AgentStatus | None:
    view = services.views.agents.get(agent_id)
    return None if view is None else view.status


async def becomes(services: Services, agent_id: str, status: AgentStatus, within_s: float) -> None:
    async def reached() -> bool:
        return status_of(services, agent_id) is status

    await eventually(reached, within_s, f"agent {agent_id} {status}")


async def beat_until(services: Services, agent_id: str, stop: asyncio.Event) -> None:
    """Heartbeats every half interval until `stop` is set."""
    while not stop.is_set():
        await services.agents.heartbeat(agent_id, WELL, ())
        await asyncio.sleep(POLICY.heartbeat_interval_s / 2)


async def test_a_silent_agent_turns_unhealthy_then_offline_and_a_heartbeat_revives_it(
    fresh_server: EmbeddedServer,
) -> None:
    loop = asyncio.get_running_loop()
    async with api(fresh_server) as services, monitoring(services):
        agent_id = await healthy_agent(services)
        silent_since = loop.time()
        await becomes(services, agent_id, AgentStatus.UNHEALTHY, OFFLINE_WITHIN_S)
        left = OFFLINE_WITHIN_S - (loop.time() - silent_since)
        await becomes(services, agent_id, AgentStatus.OFFLINE, left)
        await services.agents.heartbeat(agent_id, WELL, ())
        await becomes(services, agent_id, AgentStatus.HEALTHY, 5)
        changes = await health_changes(services.store, agent_id)
    statuses = [status for status, _ in changes]
    assert statuses == ["healthy", "unhealthy", "offline", "healthy"]
    assert changes[1][1].startswith("no heartbeat for 2")
    assert changes[2] == EXPIRED


async def test_an_agent_that_keeps_beating_stays_healthy(fresh_server: EmbeddedServer) -> None:
    stop = asyncio.Event()
    async with api(fresh_server) as services, monitoring(services):
        agent_id = await healthy_agent(services)
        beating = asyncio.create_task(beat_until(services, agent_id, stop))
        await asyncio.sleep(OFFLINE_WITHIN_S)
        stop.set()
        await beating
        assert await health_changes(services.store, agent_id) == [HEALTHY]


async def marked_silent(services: Services, agent_id: str) -> bool:
    """Whether the server has replaced the agent's last heartbeat by an expiry marker."""
    last = await services.nc.jetstream().get_last_msg(HEARTBEATS, f"hb.{agent_id}")
    return (last.headers or {}).get(MARKER) == "MaxAge"


async def test_a_restarted_monitor_marks_offline_what_expired_while_it_was_down(
    fresh_server: EmbeddedServer,
) -> None:
    async with api(fresh_server) as services:
        async with monitoring(services) as monitor:
            agent_id = await healthy_agent(services)

            async def seen() -> bool:
                return agent_id in monitor.last_seen

            await eventually(seen, 5, "the monitor saw the heartbeat")

        async def expired() -> bool:
            return await marked_silent(services, agent_id)

        await eventually(expired, OFFLINE_WITHIN_S, "the heartbeat expired")
        await services.runner.catch_up(5)
        assert status_of(services, agent_id) is AgentStatus.HEALTHY  # nobody was watching
        async with api(fresh_server) as restarted, monitoring(restarted):
            await becomes(restarted, agent_id, AgentStatus.OFFLINE, 5)
        assert await health_changes(services.store, agent_id) == [HEALTHY, EXPIRED]


async def test_an_offline_agents_job_goes_to_another_agent_as_a_lost_attempt(
    fresh_server: EmbeddedServer,
) -> None:
    stop = asyncio.Event()
    async with api(fresh_server) as services, monitoring(services):
        lost, other = await healthy_agent(services, "lost"), await healthy_agent(services, "other")
        beating = asyncio.create_task(beat_until(services, other, stop))
        job_id = await enqueue(services)
        first = await must_claim(services.queue, lost)
        second = await must_claim(services.queue, other, wait_s=OFFLINE_WITHIN_S + 2)
        stop.set()
        await beating
        await services.runner.wait_for(second.seq, 5)
        job = await job_detail(services.store, services.views.jobs, job_id, wait_s=5)
        assert status_of(services, lost) is AgentStatus.OFFLINE
        await enqueue(services)
        await tickets(services, 2)  # the first one is still held by the other agent's lease
        assert await services.queue.claim(lost, "default", frozenset(), 0) is None
    assert (first.job.id, second.job.id, second.job.attempts) == (job_id, job_id, 2)
    assert job is not None
    lost_attempts = [(h.agent_id, h.reason) for h in job.history if h.event == "job.AttemptLost"]
    assert lost_attempts == [(lost, f"attempt 1 lost by {lost}: agent lost")]
