"""Enqueueing in bulk: native batches (`jetdeck.cmd.enqueue_batch`, the gateway in its own
process) and HTTP batches (`POST /api/queue/jobs:batch`, the API under uvicorn), each against
raw pipelined publishes of the same events in the same run.

Ours: `SENDERS` callers each send batches of `BATCH` new jobs, one after another, with the
bootstrap admin token, until the round's jobs are queued; every job must answer 201. Raw:
`js.publish_async` of the messages the command path writes for queued jobs (their subjects
copied into QUEUE by the server, the same OCC and dedup headers), then
`publish_async_completed()`. Rounds alternate; medians are reported, with the CPU each process
spent per job.

    python -m bench.enqueue [--quick]
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import orjson
from nats.aio.client import Client
from nats.errors import Error as NatsError

from bench.command_path import publish_raw
from bench.common import (
    GIT,
    METADATA,
    connected,
    nats_server,
    new_cause,
    parse_args,
    run_main,
    server_pid,
)
from bench.figures import CpuMeter, Figure, Series, median, print_figure, runs_text, timed
from bench.history_scale import worker
from bench.http_post import ADMIN_HEADERS, ADMIN_TOKEN, api_process
from domain.job import Job
from domain.queue import QueueSpec
from infra.event_store import EventStore, Outgoing
from infra.unit_of_work import UnitOfWork

NAME = "enqueue in batches"
BATCH = 500
SENDERS = 4
JOB = {
    "job_type": "build",
    "git_repo": GIT.repo,
    "git_ref": GIT.ref,
    "git_commit_sha": GIT.commit_sha,
    "git_commit_message": GIT.commit_message,
    "git_author": GIT.author,
    "metadata": METADATA,
    "command": "make test",
}
GATEWAY_START_S = 60.0


@dataclass(frozen=True)
class Size:
    jobs: int
    rounds: int


FULL = Size(jobs=20_000, rounds=3)
QUICK = Size(jobs=2_000, rounds=1)
SendBatch = Callable[[list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]


def queued_job_messages(store: EventStore, count: int, key: bytes) -> list[Outgoing]:
    """What the command path appends for `count` enqueues: one queued `Created` each."""
    spec = QueueSpec(command="make test")
    messages: list[Outgoing] = []
    for _ in range(count):
        uow = UnitOfWork(store, new_cause("job.enqueue"))
        uow.add(Job.create(uuid4(), "build", GIT, METADATA, spec))
        messages.extend(p.message for p in uow.outgoing(key))
    return messages


async def enqueue_all(send: SendBatch, jobs: int) -> None:
    """`SENDERS` callers share the work, each awaiting its batch's answer before the next."""
    batches = iter(range(0, jobs, BATCH))

    async def sender() -> None:
        for start in batches:
            answers = await send([JOB] * min(BATCH, jobs - start))
            refused = [a for a in answers if a["status"] != 201]
            if refused:
                raise RuntimeError(f"{len(refused)} jobs refused, first: {refused[0]}")

    await asyncio.gather(*(sender() for _ in range(SENDERS)))


def native_sender(nc: Client) -> SendBatch:
    async def send(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = orjson.dumps({"token": ADMIN_TOKEN, "jobs": jobs})
        answer = orjson.loads((await nc.request("jetdeck.cmd.enqueue_batch", body, 60)).data)
        if answer["status"] != 200:
            raise RuntimeError(f"{answer['status']}: {answer.get('detail', '')[:200]}")
        found: list[dict[str, Any]] = answer["jobs"]
        return found

    return send


def http_sender(client: httpx.AsyncClient) -> SendBatch:
    async def send(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = await client.post("/api/queue/jobs:batch", json={"jobs": jobs})
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
        found: list[dict[str, Any]] = response.json()["jobs"]
        return found

    return send


async def gateway_ready(nc: Client) -> None:
    """The gateway answers and knows the API's bootstrap token: cancelling no job is a 404."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GATEWAY_START_S
    probe = orjson.dumps({"token": ADMIN_TOKEN, "job_id": str(uuid4())})
    while loop.time() < deadline:
        try:
            reply = await nc.request("jetdeck.cmd.cancel_job", probe, 5)
            if orjson.loads(reply.data)["status"] == 404:
                return
        except NatsError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the gateway was not ready within {GATEWAY_START_S} s")


async def measure(url: str, size: Size, meter: CpuMeter) -> dict[str, Series]:
    """Raw, native and HTTP rounds, alternating, on one server."""
    async with (
        api_process(url) as (base, api_pid),
        worker("workers.gateway", url) as gateway_pid,
        connected(url, "bench-enqueue") as nc,
        httpx.AsyncClient(base_url=base, timeout=60, headers=ADMIN_HEADERS) as client,
    ):
        meter = meter.also("API", api_pid).also("gateway", gateway_pid)
        series = {side: Series(size.jobs, meter) for side in ("raw", "native", "http")}
        await gateway_ready(nc)
        store = EventStore(nc)
        native, http = native_sender(nc), http_sender(client)
        await enqueue_all(native, BATCH)  # warm up both paths and the pool's consumers
        await enqueue_all(http, BATCH)
        for _ in range(size.rounds):
            messages = queued_job_messages(store, size.jobs, await store.key())
            await series["raw"].round(publish_raw(nc, messages))
            await series["native"].round(timed(lambda: enqueue_all(native, size.jobs)))
            await series["http"].round(timed(lambda: enqueue_all(http, size.jobs)))
    return series


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(f"{NAME}: {size.jobs:,} jobs x {size.rounds} rounds, {SENDERS} senders of {BATCH}")
    async with nats_server() as server:
        meter = CpuMeter({"bench process": os.getpid(), "nats-server": server_pid(server)})
        series = await measure(server.url, size, meter)
    for side, found in series.items():
        print(f"  {side:6}: {runs_text(found.rates)} jobs/s; CPU per job: {found.cpu_per_unit()}")
    raw = median(series["raw"].rates)
    figures = [
        Figure(f"{NAME}, native", "native jobs/s", median(series["native"].rates), raw, True),
        Figure(f"{NAME}, HTTP", "HTTP jobs/s", median(series["http"].rates), raw, True),
    ]
    for figure in figures:
        print_figure(figure)
    return figures


def main() -> None:
    run_main(run(parse_args(__doc__ or NAME).quick))


if __name__ == "__main__":
    main()
