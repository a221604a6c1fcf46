"""A full rebuild of the read models from EVENTS against a raw replay that only counts.

The stream is filled with realistic events: the domain records them, the unit of work encodes
them (hash-chained envelope, same subjects and message ids) and they carry the headers the event
store writes, pipelined with `publish_async` (sequences are known in advance on a fresh stream,
so every OCC header holds). Then, timed from the subscribe until the last sequence is applied:

* ours: `ProjectionRunner` on fresh read models with an empty snapshot store and snapshots off
  (`snapshot_every` beyond the stream); then once with the default `snapshot_every`, as
  `open_services` runs it at start-up, given at most `Size.snapshot_cap_s` seconds;
* raw: an ordered push consumer with a callback that only counts, over the same stream.

Each finished rebuild is checked: every job and deployment generated is in the read models.

    python -m bench.projection_rebuild [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
from contextlib import suppress
from dataclasses import dataclass
from logging import LogRecord

import nats
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from bench.common import (
    captured_logs,
    connected,
    log_summary,
    nats_server,
    parse_args_with,
    print_profile,
    run_main,
    store_headers,
)
from bench.event_history import Counts, fill, generate
from bench.figures import CpuMeter, Figure, Series, median, print_figure, runs_text, timed
from domain.errors import UnavailableError
from infra.connection import connect
from infra.event_store import EventStore
from infra.layout import EVENT_SUBJECTS, EVENTS
from infra.projection_runner import ProjectionRunner
from infra.projection_runner import log as runner_log
from infra.read_models import ReadModels
from infra.settings import Settings, split_servers

NAME = "projection rebuild"
NO_SNAPSHOTS = 10**12
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Size:
    events: int
    rounds: int
    snapshot_cap_s: float
    """The default-snapshots rebuild gets this long; a slower one is reported as unfinished."""


FULL = Size(events=200_000, rounds=2, snapshot_cap_s=45)
QUICK = Size(events=10_000, rounds=1, snapshot_cap_s=15)


async def raw_replay(url: str, last: int) -> float:
    """Seconds for an ordered push consumer with a counting callback to see `last` messages,
    on nats-py's own client as it ships. JetDeck's connection (`infra.connection`) reads a
    follow's messages unparsed and reads its socket wide, and a plain subscription on it gains
    from both; the baseline is what nats-py gives a user who writes the same replay."""
    nc = await nats.connect(split_servers(url), name="bench-raw-replay")
    done = asyncio.Event()
    seen = 0

    async def count(_: Msg) -> None:
        nonlocal seen
        seen += 1
        if seen == last:
            done.set()

    async def work() -> None:
        sub = await nc.jetstream().subscribe(
            EVENT_SUBJECTS,
            stream=EVENTS,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=1),
            cb=count,
            pending_msgs_limit=-1,
            pending_bytes_limit=-1,
        )
        await done.wait()
        await sub.unsubscribe()

    try:
        return await timed(work)
    finally:
        await nc.close()


@dataclass(frozen=True)
class Rebuild:
    seconds: float
    position: int
    views: ReadModels
    skipped: int
    reconnects: int

    @property
    def rate(self) -> float:
        return self.position / self.seconds


async def rebuild(url: str, last: int, snapshot_every: int, cap_s: float) -> Rebuild:
    """A ProjectionRunner on fresh read models, timed until it applied `last` or `cap_s` ran out."""
    nc = await connect(url, "bench-rebuild")
    views = ReadModels()
    keep = None if snapshot_every == NO_SNAPSHOTS else Settings().snapshot_keep_every
    runner = ProjectionRunner(
        nc, views.all(), snapshot_every, await EventStore(nc).key(), keep_every=keep
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        await runner.start()
        with suppress(UnavailableError):
            await runner.wait_for(last, timeout_s=cap_s)
        seconds = loop.time() - started
        with suppress(TimeoutError):
            await asyncio.wait_for(runner.stop(), STOP_TIMEOUT_S)
        return Rebuild(seconds, runner.position, views, runner.skipped, nc.stats["reconnects"])
    finally:
        await nc.close()


def check(result: Rebuild, counts: Counts) -> None:
    """A finished rebuild must hold every aggregate the generator made."""
    views = result.views
    built = Counts(views.jobs.count(), len(views.deployments.deployments))
    if result.skipped or built != counts:
        raise RuntimeError(f"rebuild gave {built} with {result.skipped} skipped, not {counts}")


async def filled(url: str, size: Size) -> Counts:
    async with connected(url, "bench-fill") as nc:
        store = EventStore(nc)
        messages, counts = generate(store, await store.key(), size.events)
        seconds = await fill(nc, messages)
    mean = sum(len(m.payload) for m in messages) / len(messages)
    headers = len(store_headers(messages[-1]))
    print(
        f"  filled {size.events:,} events ({counts.jobs:,} jobs, {counts.deployments:,} "
        f"deployments, mean payload {mean:.0f} B, {headers} headers) in {seconds:.1f} s"
    )
    return counts


async def measure(url: str, size: Size) -> tuple[Series, Series, Rebuild]:
    """Rounds of ours without snapshots and raw, alternating; then ours with snapshots."""
    counts = await filled(url, size)
    meter = CpuMeter({"bench process": os.getpid()})
    ours, raw = Series(size.events, meter), Series(size.events, meter)

    async def checked() -> float:
        result = await rebuild(url, size.events, NO_SNAPSHOTS, cap_s=600)
        check(result, counts)
        return result.seconds

    for _ in range(size.rounds):
        await raw.round(raw_replay(url, size.events))
        await ours.round(checked())
    every = Settings().snapshot_every
    with captured_logs(runner_log.name, "nats.aio.client") as logged:
        result = await rebuild(url, size.events, every, size.snapshot_cap_s)
    report_snapshots(result, size, every, logged)
    if result.position == size.events:
        check(result, counts)
    return ours, raw, result


def report_snapshots(result: Rebuild, size: Size, every: int, logged: list[LogRecord]) -> None:
    state = "finished" if result.position == size.events else "DID NOT FINISH"
    print(
        f"  with snapshot_every={every:,}: {state}, at {result.position:,} of {size.events:,} "
        f"after {result.seconds:.1f} s; {result.reconnects} reconnects"
    )
    for line in log_summary(logged):
        print(f"    logged {line}")


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(f"{NAME}: {size.events:,} events x {size.rounds} rounds")
    async with nats_server() as server:
        ours, raw, snapshots = await measure(server.url, size)
    print(f"  rounds: ours {runs_text(ours.rates)}  raw {runs_text(raw.rates)}")
    print(f"  CPU per event: ours {ours.cpu_per_unit()}; raw {raw.cpu_per_unit()}")
    unfinished = "" if snapshots.position == size.events else " (unfinished)"
    raw_rate = median(raw.rates)
    figures = [
        Figure(NAME, "events/s, snapshots off", median(ours.rates), raw_rate, True, ">= 0.5"),
        Figure(NAME, f"events/s, default snapshots{unfinished}", snapshots.rate, raw_rate, True),
    ]
    for figure in figures:
        print_figure(figure)
    return figures


async def profile(size: Size) -> None:
    """cProfile of one rebuild without snapshots: where an event's time goes."""
    async with nats_server() as server:
        await filled(server.url, size)
        profiler = cProfile.Profile()
        profiler.enable()
        await rebuild(server.url, size.events, NO_SNAPSHOTS, cap_s=600)
        profiler.disable()
    print_profile(profiler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", action="store_true", help="cProfile our rebuild instead")
    args = parse_args_with(parser)
    size = QUICK if args.quick else FULL
    run_main(profile(size) if args.profile else run(args.quick))


if __name__ == "__main__":
    main()
