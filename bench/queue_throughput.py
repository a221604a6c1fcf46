"""End-to-end queue throughput: enqueue -> claim -> complete with 8 concurrent agents.

* native: `QueueService` in this process (`open_services`, so the read models and the lease
  monitor run too). 64 callers enqueue N jobs (`enqueue`: Created + Queued in one atomic append,
  which the server copies into QUEUE), then 8 agent tasks loop `claim` / `complete` until all N
  are done. Also overlapped: the agents start while the jobs are still being enqueued.
* HTTP: the real API (`uvicorn api.app:create_app`) in its own process. 8 agents register and
  send one heartbeat, as real agents do; 64 callers POST /api/queue/jobs, then the 8 agents, each
  with its own httpx client and agent token, loop POST /api/queue/claim and
  POST /api/queue/jobs/{id}/complete.
* raw nats-py: a WorkQueue stream with one durable pull consumer; `publish_async` per job, then
  8 fetchers bound to that durable loop `fetch(1)` + `ack()`. Same N, same payload size.
* the floor: raw nats-py doing the writes JetDeck must do for each job and nothing else
  (bench.queue_floor), with 8 fetchers. No implementation that keeps the audit trail and the
  leases can pass it on this machine, so its own ratio to raw bounds what the native path's
  can reach.

The same 8 slots as the reference agent has them, one agent of 8 slots that claims up to its free
slots in one call (`claim_many`, `POST /api/queue/claims`) and completes them together: in
process after the same enqueue, and over HTTP after batches of 500 from 4 senders
(`POST /api/queue/jobs:batch`, as bench.enqueue sends them).

Jobs have the default priority (NORMAL), so each claim of ours first finds CRITICAL and HIGH
empty. End-to-end is N over the time from the first enqueue to the last completion. A raw run
precedes each run of ours; the raw figure is the median of those of the same kind. CPU per job
is printed for each process, to show which one is the bottleneck.

    python -m bench.queue_throughput [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.common import machine, nats_server, parse_args_with, run_main, server_pid
from bench.figures import CpuMeter, Figure, median, print_figure
from bench.heartbeats import clients, register
from bench.http_post import api_process
from bench.queue_common import CALLERS, jetdeck, measured, profiled, queued_messages
from bench.queue_floor import Floor
from bench.queue_sides import (
    AGENTS,
    LEVEL,
    Phases,
    Raw,
    Side,
    http_agent,
    http_batches,
    http_enqueue,
    native,
    native_slots,
)
from infra.connection import connect
from infra.embedded_server import EmbeddedServer
from infra.event_store import EventStore

NAME = "queue throughput"
SLOTS = "native, 1 agent x 8 slots,"
BATCHES = "http, batches, 1 agent x 8 slots,"
FLOOR_TARGET = "none: the native path's ceiling"


@dataclass(frozen=True)
class Size:
    jobs: int
    http_jobs: int
    rounds: int


FULL = Size(jobs=10_000, http_jobs=10_000, rounds=1)
"""The issue's 10,000 jobs on both paths."""
QUICK = Size(jobs=100, http_jobs=50, rounds=1)


@dataclass
class Runs:
    """Every measured run by side: phased runs, and end-to-end rates of overlapped ones."""

    phased: dict[str, list[Phases]] = field(default_factory=dict)
    overlapped: dict[str, list[float]] = field(default_factory=dict)
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    """CPU per job of each phased run, summed over the measured processes."""

    async def add_phased(
        self, side: str, meter: CpuMeter, jobs: int, work: Callable[[], Awaitable[Phases]]
    ) -> None:
        run, cpu = await measured(meter, jobs, work)
        self.phased.setdefault(side, []).append(run)
        self.cpu_ms.setdefault(side, []).append(cpu.total_ms)
        print(
            f"  {side:<7} enqueue {run.enqueue:8,.0f}/s   claim+complete {run.drain:8,.0f}/s"
            f"   end-to-end {run.end_to_end:8,.0f}/s\n{'':10}{cpu.text}",
            flush=True,
        )

    def add_overlapped(self, side: str, rate: float) -> None:
        self.overlapped.setdefault(side, []).append(rate)
        print(f"  {side:<7} overlapped end-to-end {rate:8,.0f}/s", flush=True)

    def figure(
        self, side: str, metric: str, rate: Callable[[Phases], float], target: str = ""
    ) -> Figure:
        ours = median([rate(r) for r in self.phased[side]])
        raw = median([rate(r) for r in self.phased["raw"]])
        return Figure(NAME, f"{side} {metric} jobs/s", ours, raw, True, target)

    def figures(self) -> list[Figure]:
        out: list[Figure] = []
        for side in ("native", "http"):
            out.append(self.figure(side, "enqueue", lambda r: r.enqueue))
            out.append(self.figure(side, "claim+complete", lambda r: r.drain))
            out.append(self.figure(side, "end-to-end", lambda r: r.end_to_end))
        out.append(self.figure("floor", "end-to-end", lambda r: r.end_to_end, FLOOR_TARGET))
        for side in (SLOTS, BATCHES):
            out.append(self.figure(side, "end-to-end", lambda r: r.end_to_end))
        ours, raw = median(self.overlapped["native"]), median(self.overlapped["raw"])
        out.append(Figure(NAME, "native overlapped jobs/s", ours, raw, True))
        ours, raw = median(self.cpu_ms["native"]), median(self.cpu_ms["raw"])
        out.append(Figure(NAME, "native CPU ms per job", ours, raw, False, "<= 1.48"))
        return out


# --- the run ---------------------------------------------------------------------------------


async def floor_rounds(server: EmbeddedServer, floor: Floor, size: Size, runs: Runs) -> None:
    """Before JetDeck's services start in this process, so nothing else shares it."""
    meter = CpuMeter({"bench": os.getpid(), "nats-server": server_pid(server)})
    await floor.phased(2 * AGENTS)  # warm up
    for _ in range(size.rounds):
        await runs.add_phased("floor", meter, size.jobs, lambda: floor.phased(size.jobs))


async def native_rounds(server: EmbeddedServer, raw: Raw, size: Size, runs: Runs) -> None:
    meter = CpuMeter({"bench": os.getpid(), "nats-server": server_pid(server)})
    async with jetdeck(server.url, "bench-queue-native") as services:
        ours, slots, jobs = native(services.queue), native_slots(services.queue), size.jobs
        await ours.phased(2 * AGENTS)  # warm up
        for _ in range(size.rounds):
            await runs.add_phased("raw", meter, jobs, lambda: raw.phased(jobs))
            await runs.add_phased("native", meter, jobs, lambda: ours.phased(jobs))
            await runs.add_phased(SLOTS, meter, jobs, lambda: slots.phased(jobs))
            runs.add_overlapped("raw", await raw.overlapped(jobs))
            runs.add_overlapped("native", await ours.overlapped(jobs))


async def http_rounds(server: EmbeddedServer, raw: Raw, size: Size, runs: Runs) -> None:
    """Agents register and send the heartbeat that makes them healthy, then the rounds."""
    async with (
        api_process(server.url) as (base_url, api_pid),
        clients(base_url, CALLERS + AGENTS) as pool,
        clients(base_url, 1, AGENTS) as (shared,),
    ):
        callers, mine = pool[:CALLERS], pool[CALLERS:]
        registered = [await register(c, f"agent-{i}") for i, c in enumerate(mine)]
        agents = [http_agent(c, a) for c, a in zip(mine, registered, strict=True)]
        ours, jobs = Side(http_enqueue(callers), agents), size.http_jobs
        slotted = http_agent(shared, await register(shared, "agent-8", AGENTS), AGENTS)
        batched = Side(http_batches(shared), [slotted])
        meter = CpuMeter({"bench": os.getpid(), "api": api_pid, "nats-server": server_pid(server)})
        await ours.phased(2 * AGENTS)  # warm up
        for _ in range(size.rounds):
            await runs.add_phased("raw", meter, jobs, lambda: raw.phased(jobs))
            await runs.add_phased("http", meter, jobs, lambda: ours.phased(jobs))
            await runs.add_phased(BATCHES, meter, jobs, lambda: batched.phased(jobs))


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(
        f"{NAME}: {size.jobs:,} jobs in process, {size.http_jobs:,} over HTTP, {AGENTS} agents,"
        f" {size.rounds} round(s)\n  {machine()}"
    )
    runs = Runs()
    async with nats_server() as server:
        nc = await connect(server.url, "bench-queue-raw")
        try:
            store = EventStore(nc)
            raw = Raw(nc, queued_messages(store, LEVEL, await store.key())[-1].payload)
            await floor_rounds(server, await Floor.declared(nc, store), size, runs)
            await native_rounds(server, raw, size, runs)
            await http_rounds(server, raw, size, runs)
        finally:
            await nc.close()
    figures = runs.figures()
    for figure in figures:
        print_figure(figure)
    return figures


async def profile(jobs: int) -> None:
    """cProfile of the native path alone: enqueue, then 8 agents claim and complete."""
    async with nats_server() as server, jetdeck(server.url, "bench-queue-profile") as services:
        ours = native(services.queue)
        await ours.phased(2 * AGENTS)
        await profiled(lambda: ours.phased(jobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", action="store_true", help="cProfile the native path instead")
    args = parse_args_with(parser)
    if args.profile:
        run_main(profile(QUICK.jobs if args.quick else FULL.jobs))
    else:
        run_main(run(args.quick))


if __name__ == "__main__":
    main()
