"""Agent heartbeats per second the API sustains, with 1,000 simulated agents.

Setup, not timed: the real API (`api.app:create_app` under uvicorn, in its own process) on the
bench's nats-server; 1,000 agents register (POST /api/agents/register) and each sends a first
heartbeat, which records its move from registering to healthy. Later heartbeats at the same load
record no event.

* ours: 50 httpx clients, one connection each, each driving its share of the agents (20) round
  robin: POST /api/agents/{id}/heartbeat with the agent's token, back to back (closed loop), for
  15 s. A heartbeat checks the token, publishes the beat to `hb.<id>` on HEARTBEATS with a
  `Nats-TTL` header (awaiting the ack), judges the health and answers with instructions.
* raw nats-py: the same body and the same `Nats-TTL` header, `js.publish` to the same `hb.<id>`
  subjects, 50 tasks on one connection back to back, for as long. This is the write a heartbeat
  cannot do without; the rest is HTTP, auth and the health decision.

The health monitor does not run, on either side. Latency is per request, from send to answer.

    python -m bench.heartbeats [--quick]
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from uuid import uuid4

import httpx
import orjson

from bench.common import (
    CpuMeter,
    Figure,
    OpenLoop,
    connected,
    machine,
    nats_server,
    parse_args,
    print_figure,
    run_main,
    server_pid,
)
from bench.http_post import ADMIN_HEADERS, Run, api_process
from domain.agent import Metrics
from domain.health import HealthPolicy
from infra.settings import DEV_REGISTRATION_TOKEN

NAME = "agent heartbeats"
METRICS = Metrics(cpu_pct=20.0, mem_pct=35.0, disk_pct=50.0, running_jobs=0)
BODY = METRICS.model_dump(exclude={"running_jobs"}) | {"running_jobs": []}
HOST = {"hostname": "bench", "os": "linux", "arch": "x86_64", "cpu_count": 2, "memory_mb": 4096}
POLICY = HealthPolicy()
TTL = {"Nats-TTL": f"{math.ceil(POLICY.heartbeat_interval_s * POLICY.offline_after_intervals)}s"}
"""What `AgentService.heartbeat` puts on each beat, so the raw side writes the same message."""
RAW_PAYLOAD = orjson.dumps({"metrics": METRICS.model_dump(), "running_jobs": ()})
REGISTRATION = DEV_REGISTRATION_TOKEN
Send = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class Size:
    agents: int
    clients: int
    seconds: float


FULL = Size(agents=1_000, clients=50, seconds=15)
QUICK = Size(agents=100, clients=10, seconds=3)


async def closed_loop(sends: Sequence[Send], seconds: float, meter: CpuMeter) -> Run:
    """Each sender sends again as soon as its last send answered, until `seconds` have passed."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    deadline = time.perf_counter() + seconds

    async def worker(send: Send) -> None:
        i = 0
        while (started := time.perf_counter()) < deadline:
            try:
                await send(i)
            except Exception as exc:
                errors[f"{type(exc).__name__}: {exc}"[:200]] += 1
            else:
                latencies.append(time.perf_counter() - started)
            i += 1

    before, t0 = meter.read(), time.perf_counter()
    await asyncio.gather(*(worker(send) for send in sends))
    elapsed = time.perf_counter() - t0
    return Run(OpenLoop(latencies, elapsed, errors), meter.since(before))


def shares(items: Sequence[str], parts: int) -> list[Sequence[str]]:
    return [items[k::parts] for k in range(parts)]


# --- ours ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    agent_id: str
    auth: dict[str, str]


async def register(client: httpx.AsyncClient, name: str) -> Agent:
    """Register, then the first heartbeat, which makes the agent healthy."""
    body = {"name": name, "version": "bench", "host": HOST}
    headers = {"Authorization": f"Bearer {REGISTRATION}"}
    answer = (await client.post("/api/agents/register", json=body, headers=headers)).json()
    agent = Agent(answer["agent_id"], {"Authorization": f"Bearer {answer['agent_token']}"})
    await beat(client, agent)
    return agent


async def beat(client: httpx.AsyncClient, agent: Agent) -> None:
    path = f"/api/agents/{agent.agent_id}/heartbeat"
    answer = await client.post(path, json=BODY, headers=agent.auth)
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")


@asynccontextmanager
async def clients(base: str, count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """`count` clients with one connection each."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, limits=limits, timeout=30, headers=ADMIN_HEADERS)
            )
            for _ in range(count)
        ]


async def register_all(client: httpx.AsyncClient, names: Sequence[str]) -> list[Agent]:
    return [await register(client, name) for name in names]


async def api_run(base: str, size: Size, meter: CpuMeter) -> Run:
    names = [f"agent-{n}" for n in range(size.agents)]
    async with clients(base, size.clients) as pool:
        parts = shares(names, size.clients)
        fleets = await asyncio.gather(*map(register_all, pool, parts))

        def sender(client: httpx.AsyncClient, mine: Sequence[Agent]) -> Send:
            return lambda i: beat(client, mine[i % len(mine)])

        return await closed_loop(list(map(sender, pool, fleets)), size.seconds, meter)


# --- raw nats-py -----------------------------------------------------------------------------


async def raw_run(url: str, size: Size, meter: CpuMeter) -> Run:
    async with connected(url, "bench-heartbeats-raw") as nc:
        js = nc.jetstream()
        subjects = [f"hb.{uuid4()}" for _ in range(size.agents)]

        async def publish(subject: str) -> None:
            await js.publish(subject, RAW_PAYLOAD, headers=TTL)

        await asyncio.gather(*(publish(subject) for subject in subjects))  # warm up

        def sender(mine: Sequence[str]) -> Send:
            return lambda i: publish(mine[i % len(mine)])

        work = [sender(mine) for mine in shares(subjects, size.clients)]
        return await closed_loop(work, size.seconds, meter)


# --- the run ---------------------------------------------------------------------------------


def figures(ours: OpenLoop, raw: OpenLoop) -> list[Figure]:
    return [
        Figure(NAME, "heartbeats/s", ours.achieved, raw.achieved, True),
        Figure(NAME, "p50 ms", ours.ms(50), raw.ms(50), False),
        Figure(NAME, "p99 ms", ours.ms(99), raw.ms(99), False),
    ]


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(
        f"{NAME}: {size.agents:,} agents, {size.clients} concurrent clients, "
        f"{size.seconds:.0f} s closed loop each side\n  {machine()}"
    )
    async with nats_server() as server:
        meter = CpuMeter({"load generator": os.getpid(), "nats-server": server_pid(server)})
        raw = await raw_run(server.url, size, meter)
        async with api_process(server.url) as (base, pid):
            ours = await api_run(base, size, meter.also("API process", pid))
    print(f"  ours (HTTP):    {ours.describe()}")
    print(f"  raw js.publish: {raw.describe()}")
    result = figures(ours.load, raw.load)
    for figure in result:
        print_figure(figure)
    return result


def main() -> None:
    run_main(run(parse_args(__doc__ or NAME).quick))


if __name__ == "__main__":
    main()
