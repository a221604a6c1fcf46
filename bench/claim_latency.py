"""Claim latency with 10,000 jobs queued over all four priorities.

Setup, not timed: 10,000 jobs mixed 5% CRITICAL, 15% HIGH, 50% NORMAL, 30% LOW in a shuffled
order, preloaded by pipelining the events `enqueue` appends (Created, Queued), so QUEUE holds a
ticket for each; a few extra CRITICAL jobs in front serve as warm-up claims.

* ours: one agent, sequential `QueueService.claim(wait_s=0)` (levels highest first, then the
  Claimed append with the lease), each followed by `complete`, timed separately.
* raw nats-py: the same messages in a WorkQueue stream with one durable pull consumer per level;
  a claim is single-message `no_wait` pulls, highest level first, each level with its own
  long-lived inbox; the complete is `ack_sync()` (a confirmed ack, one round trip).

Claims come out in priority order, so with a few thousand claims the CRITICAL and HIGH levels
drain and NORMAL claims cost three pulls; p50 is also shown per level.

    python -m bench.claim_latency [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from bench.common import machine, nats_server, new_cause, parse_args_with, run_main
from bench.figures import Figure, fmt, percentile, print_figure
from bench.queue_common import (
    POOL,
    RAW_STREAM,
    SUCCEEDED,
    enqueue_jobs,
    fresh_raw_queue,
    jetdeck,
    preload,
    profiled,
    publish_raw,
    queued_messages,
    raw_consumer,
    wait_for_tickets,
)
from domain.queue import PRIORITY_ORDER, Priority
from infra.connection import connect
from infra.event_store import EventStore
from infra.queue import QueueService
from infra.services import Services

NAME = "claim latency"
MIX = {Priority.CRITICAL: 0.05, Priority.HIGH: 0.15, Priority.NORMAL: 0.50, Priority.LOW: 0.30}
WARMUP = 50
CHUNK = 250
"""Claims per turn when the two sides take turns."""
NO_WAIT = b'{"batch":1,"no_wait":true}'


@dataclass(frozen=True)
class Size:
    jobs: int
    claims: int


FULL = Size(jobs=10_000, claims=2_500)
QUICK = Size(jobs=1_000, claims=250)


def job_levels(jobs: int) -> list[Priority]:
    """WARMUP CRITICAL jobs, then `jobs` mixed by MIX in a fixed shuffled order."""
    mixed = [level for level, share in MIX.items() for _ in range(round(jobs * share))]
    random.Random(7).shuffle(mixed)
    return [Priority.CRITICAL] * WARMUP + mixed


@dataclass
class Samples:
    """Seconds per claim and per complete, and the level of each claimed job."""

    claim: list[float] = field(default_factory=list)
    complete: list[float] = field(default_factory=list)
    levels: list[Priority] = field(default_factory=list)

    def add(self, claim_s: float, complete_s: float, level: Priority) -> None:
        self.claim.append(claim_s)
        self.complete.append(complete_s)
        self.levels.append(level)

    def check_order(self, side: str) -> None:
        """Claims must come out highest level first; a benchmark of a broken queue is void."""
        ranks = [PRIORITY_ORDER.index(level) for level in self.levels]
        if ranks != sorted(ranks):
            raise RuntimeError(f"{side}: claims came out of priority order")

    def level_p50(self, level: Priority) -> tuple[float, int]:
        mine = [s for s, lv in zip(self.claim, self.levels, strict=True) if lv is level]
        return percentile(mine, 50), len(mine)


Claim = Callable[[], Awaitable[tuple[float, float, Priority]]]


async def sample(claim: Claim, claims: int, into: Samples) -> Samples:
    for _ in range(claims):
        into.add(*await claim())
    return into


async def alternate(ours: Claim, raw: Claim, claims: int) -> tuple[Samples, Samples]:
    """Warm both up, then take their samples in alternating chunks, so drift hits both alike."""
    for claim in (ours, raw):
        await sample(claim, WARMUP, Samples())
    mine, theirs = Samples(), Samples()
    for start in range(0, claims, CHUNK):
        await sample(ours, min(CHUNK, claims - start), mine)
        await sample(raw, min(CHUNK, claims - start), theirs)
    return mine, theirs


# --- ours ------------------------------------------------------------------------------------


def our_claim(queue: QueueService) -> Claim:
    async def run() -> tuple[float, float, Priority]:
        started = time.perf_counter()
        grant = await queue.claim("agent", POOL, frozenset(), 0.0)
        claimed = time.perf_counter()
        if grant is None:
            raise RuntimeError("the queue ran dry: fewer tickets than claims")
        await queue.complete(new_cause("job.complete"), grant.job.id, grant.token, SUCCEEDED)
        return claimed - started, time.perf_counter() - claimed, grant.job.queue_spec.priority

    return run


async def fill_ours(services: Services, levels: list[Priority]) -> None:
    """Consumers made by a real enqueue (its job claimed and done), then the bulk preloaded."""
    await enqueue_jobs(services.queue, [Priority.CRITICAL], callers=1)
    await wait_for_tickets(services.nc, [Priority.CRITICAL], timeout_s=10)
    await our_claim(services.queue)()
    await preload(services.nc, services.store, levels)
    await wait_for_tickets(services.nc, levels, timeout_s=120)
    await services.runner.catch_up(timeout_s=120)


# --- raw nats-py -----------------------------------------------------------------------------


class RawClaimer:
    """Single-message `no_wait` pulls over the levels, highest first; one inbox per level."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.inboxes: dict[Priority, tuple[str, Subscription]] = {}

    async def open(self) -> None:
        for level in PRIORITY_ORDER:
            inbox = self.nc.new_inbox()
            self.inboxes[level] = (inbox, await self.nc.subscribe(inbox))

    async def _pull(self, level: Priority) -> Msg | None:
        inbox, sub = self.inboxes[level]
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{RAW_STREAM}.{raw_consumer(level)}"
        await self.nc.publish(subject, NO_WAIT, reply=inbox)
        msg = await sub.next_msg(timeout=5)
        return None if msg.headers and "Status" in msg.headers else msg

    async def claim(self) -> tuple[float, float, Priority]:
        started = time.perf_counter()
        for level in PRIORITY_ORDER:
            if (msg := await self._pull(level)) is not None:
                claimed = time.perf_counter()
                await msg.ack_sync()
                return claimed - started, time.perf_counter() - claimed, level
        raise RuntimeError("the raw queue ran dry: fewer messages than claims")


async def fill_raw(nc: Client, levels: list[Priority]) -> RawClaimer:
    """The same jobs as raw messages, each level's payload the size of a real Queued event."""
    store, js = EventStore(nc), nc.jetstream()
    key = await store.key()
    payloads = {level: queued_messages(store, level, key)[-1].payload for level in Priority}
    await fresh_raw_queue(js, PRIORITY_ORDER)
    await publish_raw(js, [(level, payloads[level]) for level in levels])
    claimer = RawClaimer(nc)
    await claimer.open()
    return claimer


async def measure(url: str, size: Size) -> tuple[Samples, Samples]:
    """Ours and raw, each on its own connection to the same server."""
    levels = job_levels(size.jobs)
    async with jetdeck(url, "bench-claim-latency") as services:
        nc = await connect(url, "bench-claim-latency-raw")
        try:
            raw = await fill_raw(nc, levels)
            await fill_ours(services, levels)
            return await alternate(our_claim(services.queue), raw.claim, size.claims)
        finally:
            await nc.close()


# --- the run ---------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return seconds * 1e3


def figures(ours: Samples, raw: Samples) -> list[Figure]:
    out: list[Figure] = []
    for what, mine, theirs in (
        ("claim", ours.claim, raw.claim),
        ("complete", ours.complete, raw.complete),
    ):
        for q in (50, 99):
            ours_ms, raw_ms = ms(percentile(mine, q)), ms(percentile(theirs, q))
            out.append(Figure(NAME, f"{what} p{q} ms", ours_ms, raw_ms, False))
    return out


def print_levels(ours: Samples, raw: Samples) -> None:
    for level in PRIORITY_ORDER:
        (mine, n), (theirs, _) = ours.level_p50(level), raw.level_p50(level)
        asked = PRIORITY_ORDER.index(level) + 1
        if n:
            print(
                f"  claim p50 at {level.value:<8} ({n:>5,} claims, {asked} level(s) asked)"
                f"  ours {fmt(ms(mine))} ms   raw {fmt(ms(theirs))} ms"
            )


async def run(quick: bool) -> list[Figure]:
    size = QUICK if quick else FULL
    print(
        f"{NAME}: {size.jobs:,} jobs queued over 4 levels, {size.claims:,} timed claims"
        f" after {WARMUP} warm-up ones\n  {machine()}"
    )
    async with nats_server() as server:
        ours, raw = await measure(server.url, size)
    for samples, side in ((ours, "ours"), (raw, "raw")):
        samples.check_order(side)
    print_levels(ours, raw)
    result = figures(ours, raw)
    for figure in result:
        print_figure(figure)
    return result


async def profile(size: Size) -> None:
    """cProfile of our timed claims (each with its complete) alone."""
    async with nats_server() as server, jetdeck(server.url, "bench-claim-profile") as services:
        claim = our_claim(services.queue)
        await fill_ours(services, job_levels(size.jobs))
        await sample(claim, WARMUP, Samples())
        await profiled(lambda: sample(claim, size.claims, Samples()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", action="store_true", help="cProfile our claims instead")
    args = parse_args_with(parser)
    if args.profile:
        run_main(profile(QUICK if args.quick else FULL))
    else:
        run_main(run(args.quick))


if __name__ == "__main__":
    main()
