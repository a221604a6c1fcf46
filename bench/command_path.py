"""Job creates through the real command path against raw pipelined publishes.

Ours: 64 concurrent callers in one process each run `CommandRunner.create` (Job.create, the unit
of work, the hash-chained envelope, EventStore's awaited publish with OCC and dedup headers).
Raw: `js.publish_async` of the same payloads with the same headers to new subjects, then
`publish_async_completed()`. Each side runs a few rounds, alternating; medians are reported.

    python -m bench.command_path [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
from dataclasses import dataclass

from nats.aio.client import Client

from bench.common import (
    connected,
    created_job_messages,
    last_seq,
    nats_server,
    new_cause,
    new_job,
    parse_args_with,
    print_profile,
    run_main,
    server_pid,
    store_headers,
)
from bench.figures import CpuMeter, Figure, Series, median, print_figure, runs_text, timed
from domain.job import Job
from infra.commands import CommandRunner
from infra.event_store import EventStore, Outgoing
from infra.unit_of_work import UnitOfWork

NAME = "command path"
CALLERS = 64


@dataclass(frozen=True)
class Size:
    jobs: int
    rounds: int


FULL = Size(jobs=20_000, rounds=3)
QUICK = Size(jobs=1_000, rounds=1)


async def create_jobs(runner: CommandRunner, jobs: int, callers: int = CALLERS) -> None:
    """`callers` tasks share the work; each creates jobs one after another, awaiting each."""
    remaining = iter(range(jobs))

    async def caller() -> None:
        for _ in remaining:
            await runner.create(new_cause("job.create"), make)

    async def make(_: UnitOfWork) -> Job:
        return new_job()

    await asyncio.gather(*(caller() for _ in range(callers)))


async def publish_raw(nc: Client, messages: list[Outgoing]) -> float:
    """Seconds to pipeline prepared appends and see every ack."""
    js = nc.jetstream()

    async def work() -> None:
        for m in messages:
            await js.publish_async(m.subject, m.payload, headers=store_headers(m))
        await js.publish_async_completed()

    return await timed(work)


async def measure(url: str, size: Size, meter: CpuMeter) -> tuple[Series, Series]:
    """Ours and raw, alternating rounds on one connection."""
    ours, raw = Series(size.jobs, meter), Series(size.jobs, meter)
    async with connected(url, "bench-command-path") as nc:
        store = EventStore(nc)
        runner = CommandRunner(store)
        await create_jobs(runner, CALLERS)  # warm up imports, caches and the connection
        expected = await last_seq(nc) + 2 * size.jobs * size.rounds
        for _ in range(size.rounds):
            messages = created_job_messages(store, size.jobs, await store.key())
            await raw.round(publish_raw(nc, messages))
            await ours.round(timed(lambda: create_jobs(runner, size.jobs)))
        if await last_seq(nc) != expected:
            raise RuntimeError(f"stream has {await last_seq(nc)} events, expected {expected}")
    return ours, raw


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(f"{NAME}: {size.jobs:,} job creates x {size.rounds} rounds, {CALLERS} callers")
    async with nats_server() as server:
        meter = CpuMeter({"bench process": os.getpid(), "nats-server": server_pid(server)})
        ours, raw = await measure(server.url, size, meter)
    print(f"  rounds: ours {runs_text(ours.rates)}  raw {runs_text(raw.rates)}")
    print(f"  CPU per job: ours {ours.cpu_per_unit()}; raw {raw.cpu_per_unit()}")
    figure = Figure(NAME, "jobs/s", median(ours.rates), median(raw.rates), True, ">= 0.5")
    print_figure(figure)
    return [figure]


async def profile(jobs: int) -> None:
    """cProfile of our path alone: where a job create spends its CPU."""
    async with nats_server() as server, connected(server.url, "bench-profile") as nc:
        runner = CommandRunner(EventStore(nc))
        await create_jobs(runner, CALLERS)
        profiler = cProfile.Profile()
        profiler.enable()
        await create_jobs(runner, jobs)
        profiler.disable()
    print_profile(profiler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", action="store_true", help="cProfile our path instead")
    args = parse_args_with(parser)
    if args.profile:
        run_main(profile(QUICK.jobs if args.quick else FULL.jobs // 2))
    else:
        run_main(run(args.quick))


if __name__ == "__main__":
    main()
