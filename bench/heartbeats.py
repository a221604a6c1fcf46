"""Agent heartbeats per second, with 1,000 simulated agents, over HTTP and over NATS.

Setup, not timed: the real API (`api.app:create_app` under uvicorn, in its own process) on the
bench's nats-server; 1,000 agents register (POST /api/agents/register) and each sends a first
heartbeat, which records its move from registering to healthy. Later heartbeats at the same load
record no event.

* ours, HTTP: 50 httpx clients, one connection each, each driving its share of the agents (20)
  round robin: POST /api/agents/{id}/heartbeat with the agent's token, back to back (closed
  loop), for 15 s. A heartbeat checks the token, hands the beat to the batch writer (pipelined
  publishes to `hb.<id>` on HEARTBEATS with a `Nats-TTL` header) and waits for its batch's ack,
  judges the health and answers from the read models.
* ours, NATS: the API stopped, the gateway (`workers.gateway`, its own process) serves
  `jetdeck.queue.agent.heartbeat`; 200 senders on one nats-py connection drive the same agents
  with requests carrying the same body, `agent_id` and token, back to back, for as long.
* raw nats-py, one per side: the same body and the same `Nats-TTL` header, `js.publish` to the
  same `hb.<id>` subjects, back to back from as many tasks on one connection as the side has
  senders (50, 200), for as long. This is the write a heartbeat cannot do without; the rest is
  HTTP or request/reply, auth and the health decision.
* the floor, one per side: a service that only writes the beat (bench.beat_floor), driven with
  the same requests as ours: over HTTP a bare ASGI app under the same uvicorn, over NATS a plain
  nats-py responder. What it reaches, the load generator, the server and the write allow on this
  machine before any of JetDeck's work: a target above it cannot be met here.

The health monitor does not run, on either side. Latency is per request, from send to answer.

    python -m bench.heartbeats [--quick]
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import NamedTuple, TypeVar
from uuid import uuid4

import httpx
import orjson
from nats.aio.client import Client

from bench.beat_floor import METRICS, PAYLOAD, TTL
from bench.beat_floor import SUBJECT as FLOOR_SUBJECT
from bench.common import (
    connected,
    gateway_answering,
    machine,
    nats_server,
    parse_args,
    run_main,
    server_pid,
)
from bench.figures import CpuMeter, Figure, OpenLoop, print_figure
from bench.history_scale import worker
from bench.http_post import ADMIN_HEADERS, Run, api_process
from infra.settings import DEV_REGISTRATION_TOKEN
from workers.native_beats import SUBJECT

NAME = "agent heartbeats"
BODY = METRICS.model_dump(exclude={"running_jobs"}) | {"running_jobs": []}
HOST = {"hostname": "bench", "os": "linux", "arch": "x86_64", "cpu_count": 2, "memory_mb": 4096}
REGISTRATION = DEV_REGISTRATION_TOKEN
API_ROUTE = "/api/agents/{}/heartbeat"
FLOOR_ROUTE = "/beat/{}"
CEILING = "none: ours' ceiling"
Send = Callable[[int], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True)
class Size:
    agents: int
    clients: int
    native_senders: int
    seconds: float


FULL = Size(agents=1_000, clients=50, native_senders=200, seconds=15)
QUICK = Size(agents=100, clients=10, native_senders=40, seconds=3)


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


def shares(items: Sequence[T], parts: int) -> list[Sequence[T]]:
    return [items[k::parts] for k in range(parts)]


# --- ours ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    agent_id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register(client: httpx.AsyncClient, name: str, slots: int = 1) -> Agent:
    """Register, then the first heartbeat, which makes the agent healthy."""
    body = {"name": name, "version": "bench", "host": HOST, "slots": slots}
    headers = {"Authorization": f"Bearer {REGISTRATION}"}
    answer = (await client.post("/api/agents/register", json=body, headers=headers)).json()
    agent = Agent(answer["agent_id"], answer["agent_token"])
    await beat(client, agent)
    return agent


async def beat(client: httpx.AsyncClient, agent: Agent, route: str = API_ROUTE) -> None:
    answer = await client.post(route.format(agent.agent_id), json=BODY, headers=agent.auth)
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")


@asynccontextmanager
async def clients(
    base: str, count: int, connections: int = 1
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """`count` clients with `connections` each."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, limits=limits, timeout=30, headers=ADMIN_HEADERS)
            )
            for _ in range(count)
        ]


async def register_all(client: httpx.AsyncClient, names: Sequence[str]) -> list[Agent]:
    return [await register(client, name) for name in names]


async def api_run(base: str, size: Size, meter: CpuMeter) -> tuple[Run, list[Agent]]:
    """The HTTP run, and the agents it registered."""
    names = [f"agent-{n}" for n in range(size.agents)]
    async with clients(base, size.clients) as pool:
        parts = shares(names, size.clients)
        fleets = await asyncio.gather(*map(register_all, pool, parts))

        def sender(client: httpx.AsyncClient, mine: Sequence[Agent]) -> Send:
            return lambda i: beat(client, mine[i % len(mine)])

        run = await closed_loop(list(map(sender, pool, fleets)), size.seconds, meter)
    return run, [agent for fleet in fleets for agent in fleet]


def native_body(agent: Agent) -> bytes:
    return orjson.dumps(BODY | {"agent_id": agent.agent_id, "agent_token": agent.token})


async def native_beat(nc: Client, body: bytes, subject: str = SUBJECT) -> None:
    answer = orjson.loads((await nc.request(subject, body, timeout=30)).data)
    if answer["status"] != 200:
        raise RuntimeError(f"{answer['status']}: {answer.get('detail', '')[:200]}")


class Responding(NamedTuple):
    """A process that answers beats over NATS, and the subject it answers on."""

    module: str
    subject: str


GATEWAY = Responding("workers.gateway", SUBJECT)
FLOOR = Responding("bench.beat_floor", FLOOR_SUBJECT)


async def native_run(
    url: str, agents: Sequence[Agent], size: Size, meter: CpuMeter, server: Responding = GATEWAY
) -> Run:
    bodies = [native_body(agent) for agent in agents]
    module, subject = server
    async with worker(module, url) as pid, connected(url, "bench-heartbeats-native") as nc:
        await gateway_answering(lambda: native_beat(nc, bodies[0], subject))

        def sender(mine: Sequence[bytes]) -> Send:
            return lambda i: native_beat(nc, mine[i % len(mine)], subject)

        work = [sender(mine) for mine in shares(bodies, size.native_senders)]
        return await closed_loop(work, size.seconds, meter.also(module, pid))


async def http_floor_run(url: str, agents: Sequence[Agent], size: Size, meter: CpuMeter) -> Run:
    """The floor's bare app, driven by as many clients as the API with the same requests."""
    async with (
        api_process(url, app=("bench.beat_floor:app",)) as (base, pid),
        clients(base, size.clients) as pool,
    ):

        def sender(client: httpx.AsyncClient, mine: Sequence[Agent]) -> Send:
            return lambda i: beat(client, mine[i % len(mine)], FLOOR_ROUTE)

        work = list(map(sender, pool, shares(agents, size.clients)))
        return await closed_loop(work, size.seconds, meter.also("floor app", pid))


# --- raw nats-py -----------------------------------------------------------------------------


async def raw_run(url: str, size: Size, senders: int, meter: CpuMeter) -> Run:
    async with connected(url, "bench-heartbeats-raw") as nc:
        js = nc.jetstream()
        subjects = [f"hb.{uuid4()}" for _ in range(size.agents)]

        async def publish(subject: str) -> None:
            await js.publish(subject, PAYLOAD, headers=TTL)

        await asyncio.gather(*(publish(subject) for subject in subjects))  # warm up

        def sender(mine: Sequence[str]) -> Send:
            return lambda i: publish(mine[i % len(mine)])

        work = [sender(mine) for mine in shares(subjects, senders)]
        return await closed_loop(work, size.seconds, meter)


# --- the run ---------------------------------------------------------------------------------


def figures(loads: dict[str, OpenLoop]) -> list[Figure]:
    out: list[Figure] = []
    for path, rate_target, p99_target in (("HTTP", "≥ 5,000", "< 20"), ("NATS", "≥ 20,000", "")):
        ours, floor, raw = loads[path], loads[f"{path} floor"], loads[f"{path} raw"]
        out += [
            Figure(NAME, f"{path} heartbeats/s", ours.achieved, raw.achieved, True, rate_target),
            Figure(NAME, f"{path} p50 ms", ours.ms(50), raw.ms(50), False),
            Figure(NAME, f"{path} p99 ms", ours.ms(99), raw.ms(99), False, p99_target),
            Figure(NAME, f"{path} floor beats/s", floor.achieved, raw.achieved, True, CEILING),
        ]
    return out


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(
        f"{NAME}: {size.agents:,} agents; HTTP {size.clients} clients, NATS "
        f"{size.native_senders} senders; {size.seconds:.0f} s closed loop each side\n  {machine()}"
    )
    runs: dict[str, Run] = {}
    async with nats_server() as server:
        url = server.url
        meter = CpuMeter({"load generator": os.getpid(), "nats-server": server_pid(server)})
        runs["HTTP raw"] = await raw_run(url, size, size.clients, meter)
        runs["NATS raw"] = await raw_run(url, size, size.native_senders, meter)
        async with api_process(url) as (base, pid):
            runs["HTTP"], agents = await api_run(base, size, meter.also("API process", pid))
        runs["HTTP floor"] = await http_floor_run(url, agents, size, meter)
        runs["NATS"] = await native_run(url, agents, size, meter)
        runs["NATS floor"] = await native_run(url, agents, size, meter, FLOOR)
    for side, measured in runs.items():
        print(f"  {side + ':':<12}{measured.describe()}")
    result = figures({side: measured.load for side, measured in runs.items()})
    for figure in result:
        print_figure(figure)
    return result


def main() -> None:
    run_main(run(parse_args(__doc__ or NAME).quick))


if __name__ == "__main__":
    main()
