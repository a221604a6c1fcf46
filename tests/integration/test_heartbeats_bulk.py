"""Heartbeats in bulk on a real nats-server (infra.beat_writer, workers.native_beats): a burst from
many agents lands whole, in order per agent, with nothing in the event log; a beat the stream does
not take is an error the agent sees; a deregistered agent's beat is refused with nothing written;
and the native path answers as the HTTP route does."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import nats
import orjson
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from domain.agent import HostInfo, Metrics
from domain.errors import UnauthorizedError, UnavailableError
from infra.embedded_server import EmbeddedServer
from infra.layout import EVENTS, HEARTBEATS, apply_layout
from infra.nats_auth import AGENT_INBOX
from infra.services import Services
from infra.tokens import AgentIdentity
from tests.queue_helpers import cause, eventually
from workers.native_beats import SUBJECT

HOST = HostInfo(hostname="h", os="linux", arch="x86_64", cpu_count=2, memory_mb=1024)
AGENTS, BEATS = 40, 25


@pytest.fixture
async def services(gateway_beside: Services) -> Services:
    return gateway_beside


@pytest.fixture
async def agent_nc(fresh_server: EmbeddedServer) -> AsyncIterator[Client]:
    """A native agent's connection, with the `agent` NATS user's permissions."""
    url = fresh_server.url_for(fresh_server.logins.agent)
    client = await nats.connect(url, inbox_prefix=AGENT_INBOX)
    yield client
    await client.close()


def cpu(pct: float) -> Metrics:
    return Metrics(cpu_pct=pct, mem_pct=10, disk_pct=10, running_jobs=0)


async def register(services: Services, name: str) -> tuple[str, str]:
    """A registered agent, made healthy by a first beat; its id and token."""
    done = await services.agents.register(
        cause("agent.register"), uuid4(), name, "default", frozenset(), "1", HOST, 1
    )
    await services.runner.wait_for(done.seq, 5)
    await services.agents.heartbeat(str(done.agent.id), cpu(1), ())
    return str(done.agent.id), done.token


async def beat(nc: Client, fields: dict[str, Any]) -> dict[str, Any]:
    body = {"cpu_pct": 1.0, "mem_pct": 1.0, "disk_pct": 1.0} | fields
    reply = await nc.request(SUBJECT, orjson.dumps(body), timeout=10)
    answer: dict[str, Any] = orjson.loads(reply.data)
    return answer


async def last_seq(services: Services, stream: str, subject: str | None = None) -> int:
    js = services.nc.jetstream()
    if subject is None:
        return (await js.stream_info(stream)).state.last_seq
    return (await js.get_last_msg(stream, subject)).seq or 0


async def test_a_burst_from_many_agents_lands_whole_and_in_order_per_agent(
    services: Services, admin_nc: Client
) -> None:
    agents = [(await register(services, f"burst-{n}"))[0] for n in range(AGENTS)]
    heard: defaultdict[str, list[float]] = defaultdict(list)

    async def hear(msg: Msg) -> None:  # every beat as the server takes it, in its order
        heard[msg.subject.removeprefix("hb.")].append(orjson.loads(msg.data)["metrics"]["cpu_pct"])

    await admin_nc.subscribe("hb.>", cb=hear)
    await admin_nc.flush()
    events_before = await last_seq(services, EVENTS)
    # Every beat is sent before any is acknowledged: agent after agent, beat after beat.
    await asyncio.gather(
        *(services.agents.heartbeat(a, cpu(k), ()) for k in range(BEATS) for a in agents)
    )
    expected = {a: [float(k) for k in range(BEATS)] for a in agents}

    async def all_heard() -> bool:
        return dict(heard) == expected

    await eventually(all_heard, 10.0, "every beat of every agent, in the order sent")
    for agent_id in agents:
        stored = await services.agents.last_beat(agent_id)
        assert stored is not None
        assert stored.metrics.cpu_pct == BEATS - 1
    assert await last_seq(services, EVENTS) == events_before  # no change of health: no event


async def test_a_beat_the_stream_does_not_take_is_an_error_the_agent_sees(
    services: Services, admin_nc: Client, agent_nc: Client, fresh_server: EmbeddedServer
) -> None:
    agent_id, token = await register(services, "unheard")
    await admin_nc.jetstream().delete_stream(HEARTBEATS)
    with pytest.raises(UnavailableError):
        await services.agents.heartbeat(agent_id, cpu(2), ())
    refused = await beat(agent_nc, {"agent_id": agent_id, "agent_token": token})
    assert (refused["status"], refused["error"]) == (503, "unavailable")
    await apply_layout(fresh_server.admin_url, None, replicas=1)
    again = await beat(agent_nc, {"agent_id": agent_id, "agent_token": token, "cpu_pct": 3.0})
    assert again["status"] == 200  # the next beat carries the state the lost one had
    stored = await services.agents.last_beat(agent_id)
    assert stored is not None
    assert stored.metrics.cpu_pct == 3.0


async def test_a_deregistered_agents_beat_is_refused_and_nothing_written(
    services: Services, agent_nc: Client
) -> None:
    agent_id, token = await register(services, "leaving")
    written = await last_seq(services, HEARTBEATS, f"hb.{agent_id}")
    done = await services.agents.deregister(cause("agent.deregister"), UUID(agent_id), "retired")
    await services.runner.wait_for(done.seq, 5)
    refused = await beat(agent_nc, {"agent_id": agent_id, "agent_token": token})
    assert (refused["status"], refused["error"]) == (401, "unauthorized")
    with pytest.raises(UnauthorizedError):
        await services.agents.heartbeat(agent_id, cpu(1), ())
    assert await last_seq(services, HEARTBEATS, f"hb.{agent_id}") == written


async def test_a_native_beat_answers_as_the_http_route_does(
    services: Services, agent_nc: Client
) -> None:
    agent_id, token = await register(services, "native")
    answer = await beat(agent_nc, {"agent_id": agent_id, "agent_token": token, "mem_pct": 96.0})
    assert (answer["status"], answer["agent_status"]) == (200, "unhealthy")
    assert answer["instructions"] == []
    assert answer["heartbeat_interval_s"] == services.settings.health.heartbeat_interval_s
    renewed = answer["agent_token"].removeprefix("jdagt_")
    assert services.signer.verify(renewed, AgentIdentity).agent_id == agent_id
    view = services.views.agents.get(agent_id)
    assert view is not None
    assert view.health == "unhealthy"


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"cpu_pct": 101.0}, 422, "validation_error"),
        ({"disk_pct": -1.0}, 422, "validation_error"),
        ({"agent_id": "not-a-uuid"}, 422, "validation_error"),
        ({"agent_token": None}, 401, "unauthorized"),
        ({"agent_token": "jdagt_forged.token"}, 401, "unauthorized"),
        ({"agent_id": str(uuid4())}, 403, "forbidden"),
    ],
)
async def test_a_bad_native_beat_is_answered_with_its_error(
    services: Services, agent_nc: Client, fields: dict[str, Any], status: int, error: str
) -> None:
    agent_id, token = await register(services, "careless")
    answer = await beat(agent_nc, {"agent_id": agent_id, "agent_token": token} | fields)
    assert (answer["status"], answer["error"]) == (status, error)
    assert answer["detail"]
