"""The recent heartbeats on a real nats-server, with one-second heartbeats: a beat recorded by one
API process is heard by every one, a replica started later begins from each agent's latest beat,
and an agent is forgotten when its heartbeat expires."""

from __future__ import annotations

from uuid import uuid4

from domain.agent import HostInfo, Metrics
from domain.health import HealthPolicy
from infra.embedded_server import EmbeddedServer
from infra.services import Services
from tests.queue_helpers import cause, eventually, queue_services

POLICY = HealthPolicy(heartbeat_interval_s=1.0)
EXPIRES_WITHIN_S = POLICY.offline_after_intervals * POLICY.heartbeat_interval_s + 3.0
"""The heartbeat's lifetime, plus slack for the server's expiry timer."""
HOST = HostInfo(hostname="build-1", os="linux", arch="x86_64", cpu_count=4, memory_mb=8192)


def cpu(pct: float) -> Metrics:
    return Metrics(cpu_pct=pct, mem_pct=10, disk_pct=10, running_jobs=0)


async def cpus_heard(services: Services, agent_id: str, expected: list[float]) -> None:
    async def heard() -> bool:
        return [s.cpu_pct for s in services.beats.of(agent_id)] == expected

    await eventually(heard, 5.0, f"{expected} heard for agent {agent_id}")


async def test_every_replica_hears_the_beats_and_forgets_an_agent_gone_silent(
    fresh_server: EmbeddedServer,
) -> None:
    async with queue_services(fresh_server.url, count=2, health=POLICY) as (first, second):
        done = await first.agents.register(
            cause("agent.register"), uuid4(), "build-1", "default", frozenset(), "1.0", HOST, 1
        )
        agent_id = str(done.agent.id)
        await first.runner.wait_for(done.seq, 5)
        await first.agents.heartbeat(agent_id, cpu(10), ())
        await first.agents.heartbeat(agent_id, cpu(20), ())
        await cpus_heard(first, agent_id, [10, 20])  # the registration's beat has no figures
        await cpus_heard(second, agent_id, [10, 20])
        await first.agents.heartbeat(agent_id, cpu(30), ())  # alive while the next one opens
        async with queue_services(fresh_server.url, health=POLICY) as (later,):
            await cpus_heard(later, agent_id, [30])

        async def forgotten() -> bool:
            return first.beats.of(agent_id) == [] and second.beats.of(agent_id) == []

        await eventually(forgotten, EXPIRES_WITHIN_S, "the silent agent forgotten")
