"""Paced queue latency: jobs enqueued at a steady 100 a second, each timed from its scheduled
enqueue to the moment an agent holds its claim.

* ours: `QueueService` in this process (`open_services`: read models and lease monitor too); 8
  agent tasks each wait in `claim` (long poll), complete what they get and claim again. A job's
  latency includes its enqueue (Created + Queued appended), QUEUE's copy of the ticket, the
  dispatcher's pull and the `Claimed` append with its lease.
* raw nats-py: a WorkQueue stream with one durable pull consumer; each job is one awaited
  `js.publish`, and 8 fetchers wait in `fetch(1)` and ack what they get.

Enqueues start on schedule whatever the earlier ones do (open loop), so a slow one shows as
latency rather than a lower rate. Raw and ours take turns; each side's latencies are pooled.
CPU per job is summed over this process and the server.

    python -m bench.queue_paced [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from nats.js import JetStreamContext

from bench.common import (
    GIT,
    METADATA,
    machine,
    nats_server,
    new_cause,
    new_job,
    parse_args_with,
    run_main,
    server_pid,
)
from bench.figures import CpuMeter, Figure, percentile, print_figure
from bench.queue_common import (
    POOL,
    RAW_STREAM,
    SUCCEEDED,
    fresh_raw_queue,
    jetdeck,
    measured,
    queued_messages,
    raw_consumer,
    raw_subject,
    spec,
)
from domain.queue import Priority
from infra.connection import connect
from infra.event_store import EventStore
from infra.queue import QueueService

NAME = "queue paced"
RATE = 100.0
AGENTS = 8
WAIT_S = 0.5
LEVEL = Priority.NORMAL


@dataclass(frozen=True)
class Size:
    jobs: int
    rounds: int


FULL = Size(jobs=1_000, rounds=2)
QUICK = Size(jobs=100, rounds=1)


@dataclass
class Clock:
    """When each job was due to be enqueued and when an agent first held it, by job key."""

    due: dict[str, float] = field(default_factory=dict)
    held: dict[str, float] = field(default_factory=dict)
    all_held: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def hold(self, key: str) -> None:
        self.held.setdefault(key, asyncio.get_running_loop().time())
        if len(self.held) >= self.expected:
            self.all_held.set()

    def latencies(self) -> list[float]:
        return [self.held[key] - due for key, due in self.due.items()]


Enqueue = Callable[[], tuple[str, Awaitable[object]]]
"""A new job's key, and the call that enqueues it."""
Agent = Callable[[Clock], Coroutine[Any, Any, None]]


async def paced(jobs: int, enqueue: Enqueue, agents: list[Agent]) -> list[float]:
    """Enqueue `jobs` at RATE, open loop, while the agents claim; latencies in seconds."""
    loop = asyncio.get_running_loop()
    clock = Clock(expected=jobs)
    running = [asyncio.create_task(agent(clock)) for agent in agents]
    sends: list[asyncio.Task[object]] = []
    try:
        start = loop.time() + 0.05
        for i in range(jobs):
            due = start + i / RATE
            await asyncio.sleep(max(0.0, due - loop.time()))
            key, send = enqueue()
            clock.due[key] = due
            sends.append(asyncio.ensure_future(send))
        await asyncio.gather(*sends)
        await asyncio.wait_for(clock.all_held.wait(), timeout=60)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    return clock.latencies()


# --- ours ------------------------------------------------------------------------------------


def our_enqueue(queue: QueueService) -> Enqueue:
    def enqueue() -> tuple[str, Awaitable[object]]:
        job = new_job()
        cause = new_cause("job.enqueue")
        return str(job.id), queue.enqueue(cause, job.id, job.job_type, GIT, METADATA, spec(LEVEL))

    return enqueue


def our_agent(queue: QueueService, agent_id: str) -> Agent:
    async def run(clock: Clock) -> None:
        while True:
            grant = await queue.claim(agent_id, POOL, frozenset(), WAIT_S)
            if grant is None:
                continue
            clock.hold(str(grant.job.id))
            await queue.complete(new_cause("job.complete"), grant.job.id, grant.token, SUCCEEDED)

    return run


# --- raw nats-py -----------------------------------------------------------------------------


def raw_enqueue(js: JetStreamContext, payload: bytes) -> Enqueue:
    def enqueue() -> tuple[str, Awaitable[object]]:
        key = uuid4().hex
        return key, js.publish(f"{raw_subject(LEVEL)}.{key}", payload)

    return enqueue


def raw_agent(js: JetStreamContext) -> Agent:
    async def run(clock: Clock) -> None:
        sub = await js.pull_subscribe_bind(durable=raw_consumer(LEVEL), stream=RAW_STREAM)
        try:
            while True:
                try:
                    msgs = await sub.fetch(1, timeout=WAIT_S)
                except TimeoutError:
                    continue
                for msg in msgs:
                    clock.hold(msg.subject.rsplit(".", 1)[-1])
                    await msg.ack()
        finally:
            await sub.unsubscribe()

    return run


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Side:
    latencies: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    async def round(
        self, meter: CpuMeter, jobs: int, work: Callable[[], Awaitable[list[float]]]
    ) -> None:
        latencies, cpu = await measured(meter, jobs, work)
        self.latencies += latencies
        self.cpu_ms.append(cpu.total_ms)
        print(
            f"    p50 {percentile(latencies, 50) * 1e3:.2f} ms  p99 "
            f"{percentile(latencies, 99) * 1e3:.2f} ms  {cpu.text}",
            flush=True,
        )


async def measure(size: Size) -> tuple[Side, Side]:
    ours, raw = Side(), Side()
    async with nats_server() as server:
        meter = CpuMeter({"bench": os.getpid(), "nats-server": server_pid(server)})
        nc = await connect(server.url, "bench-paced-raw")
        try:
            js, store = nc.jetstream(), EventStore(nc)
            payload = queued_messages(store, LEVEL, await store.key())[-1].payload
            async with jetdeck(server.url, "bench-paced") as services:
                queue = services.queue
                mine = [our_agent(queue, f"agent-{i}") for i in range(AGENTS)]
                theirs = [raw_agent(js)] * AGENTS
                await paced(2 * AGENTS, our_enqueue(queue), mine)  # warm up
                for n in range(size.rounds):
                    await fresh_raw_queue(js, [LEVEL])
                    print(f"  round {n + 1}: raw", flush=True)
                    await raw.round(
                        meter, size.jobs, lambda: paced(size.jobs, raw_enqueue(js, payload), theirs)
                    )
                    print(f"  round {n + 1}: ours", flush=True)
                    await ours.round(
                        meter, size.jobs, lambda: paced(size.jobs, our_enqueue(queue), mine)
                    )
        finally:
            await nc.close()
    return ours, raw


def figures(ours: Side, raw: Side) -> list[Figure]:
    out = [
        Figure(
            NAME,
            f"enqueue->claimed p{q} ms",
            percentile(ours.latencies, q) * 1e3,
            percentile(raw.latencies, q) * 1e3,
            False,
            target,
        )
        for q, target in ((50, "<= 2x"), (99, "<= 3x"))
    ]
    cpu = Figure(NAME, "CPU ms per job", min(ours.cpu_ms), min(raw.cpu_ms), False)
    return [*out, cpu]


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(f"{NAME}: {size.jobs:,} jobs at {RATE:.0f}/s, {AGENTS} agents, {size.rounds} round(s)")
    print(f"  {machine()}")
    ours, raw = await measure(size)
    result = figures(ours, raw)
    for figure in result:
        print_figure(figure)
    return result


def main() -> None:
    args = parse_args_with(argparse.ArgumentParser(description=__doc__))
    run_main(run(args.quick))


if __name__ == "__main__":
    main()
